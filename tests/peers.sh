#!/usr/bin/env bash
# Builds the Go peers the tests and benchmarks compare against, pinned, once per version:
# real apko, crane, oras, and docker-credential-helpers 0.9.13's pass, secretservice and
# wincred (a Windows exe, for Wine). Each lands in target/peers/<module>@<version>/ and is
# linked from target/peers/bin/ under a name that cannot shadow ours or Debian's:
#
#   target/peers/bin/apko-go                                  chainguard.dev/apko
#   target/peers/bin/crane                                    go-containerregistry's crane
#   target/peers/bin/oras                                     oras
#   target/peers/bin/docker-credential-pass-0.9.13            (credsStore "pass-0.9.13")
#   target/peers/bin/docker-credential-secretservice-0.9.13   (credsStore "secretservice-0.9.13")
#   target/peers/bin/docker-credential-wincred-0.9.13.exe     (run under wine64)
#
# Idempotent: a peer already built at its pinned version is not built again. Prints the bin
# directory on stdout. Needs Go >= 1.26 and the Go module proxy; without them it says what to
# install and fails (tests that need a peer fail too, they never skip).
set -euo pipefail
cd "$(dirname "$0")/.."

APKO_VERSION=v1.2.39      # newest 1.2.x tag (2026-08-20)
GGCR_VERSION=v0.22.1      # go-containerregistry: crane
ORAS_VERSION=v1.3.6
DCH_VERSION=v0.9.13       # docker-credential-helpers

root="$PWD/target/peers"
bin="$root/bin"
mkdir -p "$bin"

if ! command -v go >/dev/null 2>&1; then
  cat >&2 <<'EOF'
tests/peers.sh: no `go` on PATH. The tests compare against real apko, crane, oras and
docker-credential-helpers 0.9.13, built from the Go module proxy. Install Go 1.26 or newer
(Debian: `apt-get install golang-1.26` or the tarball from go.dev, then put its bin/ on PATH),
make sure `go env GOPROXY` reaches a module proxy, and run `bash tests/run.sh` again.
EOF
  exit 1
fi
go_minor=$(go env GOVERSION | sed -E 's/^go1\.([0-9]+).*/\1/')
if [ "${go_minor:-0}" -lt 26 ] 2>/dev/null; then
  echo "tests/peers.sh: $(go env GOVERSION) is too old: apko $APKO_VERSION needs Go 1.26 or newer." >&2
  exit 1
fi

# build NAME PACKAGE@VERSION LINK [VAR=VALUE...] [--replace OLD=NEW...]: builds the package in a
# module of its own (so `go get` resolves exactly that version's dependencies), then links it.
build() {
  local name=$1 pkgver=$2 link=$3
  shift 3
  local envs=() replaces=()
  while (($#)); do
    case $1 in
      --replace) replaces+=("$2"); shift 2 ;;
      *) envs+=("$1"); shift ;;
    esac
  done
  local pkg=${pkgver%@*}
  local dir="$root/${pkgver//\//_}"
  if [ ! -x "$dir/$name" ]; then
    echo "tests/peers.sh: building $pkgver" >&2
    rm -rf "$dir.tmp"
    mkdir -p "$dir.tmp/src"
    if ! (
      cd "$dir.tmp/src"
      go mod init "peer-$link" >/dev/null 2>&1
      for r in "${replaces[@]}"; do go mod edit -replace "$r"; done
      env "${envs[@]}" go get "$pkgver" 2>"../go-get.log" || { cat "../go-get.log"; exit 1; }
      exec env "${envs[@]}" go build -trimpath "${LDFLAGS[@]}" -o "../$name" "$pkg"
    ) >&2; then
      echo "tests/peers.sh: could not build $pkgver (see above)." >&2
      exit 1
    fi
    rm -rf "$dir" && mv "$dir.tmp" "$dir"
  fi
  ln -sfn "$dir/$name" "$bin/$link"
}

LDFLAGS=(-ldflags "-s -w")
# v1.2.39 pins go-erofs at a pseudo-version the proxy does not serve; v0.3.1 (the release that
# commit follows) builds, and only apko's erofs output uses it, which no test or bench does.
build apko "chainguard.dev/apko@$APKO_VERSION" apko-go CGO_ENABLED=0 \
  --replace github.com/erofs/go-erofs=github.com/erofs/go-erofs@v0.3.1
build crane "github.com/google/go-containerregistry/cmd/crane@$GGCR_VERSION" crane CGO_ENABLED=0
build oras "oras.land/oras/cmd/oras@$ORAS_VERSION" oras CGO_ENABLED=0

# docker-credential-helpers stamps its name and version with -X, as its Makefile does.
if ! pkg-config --exists libsecret-1 2>/dev/null; then
  echo "tests/peers.sh: docker-credential-secretservice needs libsecret-1-dev and pkg-config (apt-get install libsecret-1-dev pkg-config)" >&2
  exit 1
fi
dch=github.com/docker/docker-credential-helpers
helper() {
  local name=$1 exe=$2
  shift 2
  LDFLAGS=(-ldflags "-s -w -X $dch/credentials.Version=$DCH_VERSION -X $dch/credentials.Package=$dch -X $dch/credentials.Name=docker-credential-$name")
  build "$exe" "$dch/$name/cmd@$DCH_VERSION" "${exe%.exe}-${DCH_VERSION#v}${exe#docker-credential-$name}" "$@"
}
helper pass docker-credential-pass CGO_ENABLED=0
helper secretservice docker-credential-secretservice CGO_ENABLED=1
helper wincred docker-credential-wincred.exe CGO_ENABLED=0 GOOS=windows GOARCH=amd64

echo "$bin"
