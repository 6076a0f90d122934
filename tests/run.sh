#!/usr/bin/env bash
# Runs every check and test of the project, exactly as CI does (.ci/run calls this).
#
# Installs, only when missing, the real components the tests use (Debian packages) and runs
# the tests inside a fresh kernel session keyring. Tests start their own private services
# (gpg-agent for pass, a D-Bus session with gnome-keyring) and stop them when they finish.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  golang-docker-credential-helpers # docker-credential-pass, docker-credential-secretservice
  pass gnupg                       # the pass helper's store
  gnome-keyring dbus dbus-x11 libsecret-tools # a real Secret Service
  keyutils                         # keyctl: the kernel keyring
  docker-registry apache2-utils    # a real registry with htpasswd or token auth
  openssl                          # test CAs and certificates, token signing (registry tests)
  skopeo podman                    # containers/image clients of docker-credential-apko (credHelpers)
  runc                             # podman needs an OCI runtime; crun fails on hybrid cgroups
  umoci oci-image-tool             # consumers of the images apko build writes
  busybox-static                   # a static userland for images the tests run with podman
  git                              # apko build --vcs reads the checkout holding the config
  openssl python3                  # APK repository tests: a private CA, a Basic-auth file server
  libsecret-1-dev pkg-config       # build: docker-credential-secretservice 0.9.13 (tests/peers.sh)
)
missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
# The docker CLI (docker-credential-apko's docker_cli tests): the machine image ships a current
# one in /usr/local/bin; Debian's docker.io only when there is none.
command -v docker >/dev/null || missing+=(docker.io)
if ((${#missing[@]})); then
  echo "tests/run.sh: installing ${missing[*]}" >&2
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The Go peers (real apko, crane, oras, docker-credential-helpers 0.9.13), built once per
# pinned version under target/peers; tests find them through APKO_PEERS_BIN.
APKO_PEERS_BIN=$(bash tests/peers.sh)
export APKO_PEERS_BIN

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

# No `keyctl session -` wrapper: docker-credential-apko must work for clients started outside a
# login session (CI jobs, containers), which have no session keyring; the tests run like them.
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast "$@"
else
  cargo test --workspace --locked --no-fail-fast "$@"
fi

# docker-credential-apko for macOS (type-checked) and Windows (built, and run under Wine through
# `apko auth test-helper`), with Debian's rustc-web in target/cross (installed when missing).
bash tests/cross.sh

# Every fuzz target for a bounded time (FUZZ_SECONDS each, 0 to skip when iterating locally).
if [ "${FUZZ_SECONDS:-60}" != 0 ]; then
  bash fuzz/run.sh "${FUZZ_SECONDS:-60}"
fi
