#!/usr/bin/env bash
# Installs the external tools winnow's server, demo and tests need, into the
# git-ignored .tools/ folder. Idempotent: a tool already built (or supplied by
# the environment) is not rebuilt. Nothing here downloads at run time: Go
# modules come from the Go module proxy, the data set from Debian's packages.
#
#   TEMPORAL_CLI=/path/to/temporal        use this Temporal CLI instead
#   FAKE_GCS_SERVER=/path/to/fake-gcs-server   use this emulator instead
#   WINNOW_SKIP_DATASET=1                 do not install Fashion-MNIST
#   WINNOW_TOOLS_CACHE=DIR                machine-wide cache of built binaries shared
#                                         by clones (default ~/.cache/winnow/tools)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$root/.tools"
bin="$tools/bin"
cache="${WINNOW_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/winnow/tools}"
mkdir -p "$bin"

TEMPORAL_VERSION=v1.5.1
FAKE_GCS_VERSION=v1.55.1
FASHION_DIR=/usr/share/datasets/fashion-mnist

log() { printf '[install-tools] %s\n' "$*" >&2; }

# go_tool NAME MODULE VERSION ENV_OVERRIDE
go_tool() {
  local name=$1 module=$2 version=$3 override=${4:-}
  local target="$bin/$name" stamp="$bin/.$name.version"
  if [ -n "$override" ]; then
    [ -x "$override" ] || { log "$name: $override (from the environment) is not an executable file"; exit 1; }
    ln -sf "$override" "$target"
    echo "$version (external: $override)" >"$stamp"
    log "$name: using $override"
    return
  fi
  if [ -x "$target" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$version" ]; then
    log "$name $version: already built"
    return
  fi
  local cached="$cache/$name-$version"
  if [ -x "$cached" ]; then
    rm -f "$target"
    ln "$cached" "$target" 2>/dev/null || cp "$cached" "$target"
    echo "$version" >"$stamp"
    log "$name $version: taken from the tools cache $cache"
    return
  fi
  if ! command -v go >/dev/null 2>&1; then
    log "$name: Go is not installed; install Go >= 1.23 or point the environment variable at a prebuilt binary (see README)"
    exit 1
  fi
  log "$name $version: building with go install (a few minutes on a cold cache)"
  local start=$SECONDS
  GOBIN="$bin" GOFLAGS="${GOFLAGS:--buildvcs=false}" go install "$module@$version"
  echo "$version" >"$stamp"
  log "$name $version: built in $((SECONDS - start)) s"
  # Keep a copy for other clones on this machine (CI clones afresh each run).
  if mkdir -p "$cache" 2>/dev/null; then
    cp "$target" "$cached.tmp.$$" && mv "$cached.tmp.$$" "$cached" || rm -f "$cached.tmp.$$"
  fi
}

go_tool temporal github.com/temporalio/cli/cmd/temporal "$TEMPORAL_VERSION" "${TEMPORAL_CLI:-}"
go_tool fake-gcs-server github.com/fsouza/fake-gcs-server "$FAKE_GCS_VERSION" "${FAKE_GCS_SERVER:-}"

if [ "${WINNOW_SKIP_DATASET:-}" = 1 ]; then
  log "Fashion-MNIST: skipped (WINNOW_SKIP_DATASET=1)"
elif [ -f "$FASHION_DIR/train-images-idx3-ubyte.gz" ] || [ -f "$FASHION_DIR/train-images-idx3-ubyte" ]; then
  log "Fashion-MNIST: present in $FASHION_DIR"
elif command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  log "Fashion-MNIST: installing Debian package dataset-fashion-mnist"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1; then
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q dataset-fashion-mnist >/dev/null
  fi
  log "Fashion-MNIST: installed in $FASHION_DIR"
else
  log "Fashion-MNIST: not found in $FASHION_DIR; install Debian's dataset-fashion-mnist (as root) or set WINNOW_FASHION_MNIST_DIR"
fi
