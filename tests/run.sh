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

# Phases print how long they took (CI's timings in docs/testing.md come from these lines).
t0=$SECONDS
phase() { printf 'tests/run.sh: [%4ss] %s\n' "$((SECONDS - t0))" "$*" >&2; }
# Background jobs (below), each a process group of its own (setsid), do not outlive this script,
# whatever ends it.
bg=()
trap 'for p in "${bg[@]}"; do kill -- "-$p" 2>/dev/null || true; done' EXIT
mkdir -p target/ci

# The Go peers (real apko, crane, oras, docker-credential-helpers 0.9.13), built once per
# pinned version under target/peers; tests find them through APKO_PEERS_BIN. Built beside
# rustfmt and clippy (mostly module downloads on a fresh machine).
phase "tests/peers.sh (background)"
setsid nice -n 10 bash tests/peers.sh >target/ci/peers.out 2>target/ci/peers.log &
peers=$!
bg+=("$peers")

cargo fmt --all -- --check
phase "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

if cargo nextest --version >/dev/null 2>&1; then
  run_tests() { cargo nextest run --workspace --locked --no-fail-fast "$@"; }
else
  run_tests() { cargo test --workspace --locked --no-fail-fast "$@"; }
fi
phase "building the tests"
run_tests --no-run "$@"

# The builds that do not depend on the tests run beside them at the lowest priority, on the CPU
# the tests leave idle (they mostly wait on registries, helpers, daemons and deadlines):
# docker-credential-apko for macOS and Windows (tests/cross.sh build) and the fuzz targets.
fuzz_seconds=${FUZZ_SECONDS:-60}
phase "tests/cross.sh build, fuzz/run.sh build (background)"
setsid nice -n 19 bash tests/cross.sh build >target/ci/cross-build.log 2>&1 &
cross=$!
bg+=("$cross")
if [ "$fuzz_seconds" != 0 ]; then
  setsid nice -n 19 bash fuzz/run.sh build >target/ci/fuzz-build.log 2>&1 &
  fuzz=$!
  bg+=("$fuzz")
fi
if ! wait "$peers"; then
  cat target/ci/peers.log >&2
  exit 1
fi
APKO_PEERS_BIN=$(cat target/ci/peers.out)
export APKO_PEERS_BIN

# No `keyctl session -` wrapper: docker-credential-apko must work for clients started outside a
# login session (CI jobs, containers), which have no session keyring; the tests run like them.
phase "tests"
run_tests "$@"

# docker-credential-apko for macOS (type-checked) and Windows (built, and run under Wine through
# `apko auth test-helper`), with Debian's rustc-web in target/cross (installed when missing).
phase "tests/cross.sh run"
if ! wait "$cross"; then
  cat target/ci/cross-build.log >&2
  exit 1
fi
cat target/ci/cross-build.log >&2
bash tests/cross.sh run

# Every fuzz target for a bounded time (FUZZ_SECONDS each, 0 to skip when iterating locally).
if [ "$fuzz_seconds" != 0 ]; then
  phase "fuzz/run.sh $fuzz_seconds"
  if ! wait "$fuzz"; then
    cat target/ci/fuzz-build.log >&2
    exit 1
  fi
  bash fuzz/run.sh "$fuzz_seconds"
fi
phase "done"
