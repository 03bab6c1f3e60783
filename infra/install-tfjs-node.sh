#!/usr/bin/env bash
# Builds @tensorflow/tfjs-node's native addon offline, against the libtensorflow
# shipped in PyPI's tensorflow-cpu wheel (tfjs-node's own install script would
# download libtensorflow from storage.googleapis.com, which is not reachable;
# package.json denies that script). Idempotent and optional: when it is not run
# or fails, the compute backend falls back to wasm.
#
#   1. fetch the wheel once with `pip download` into a machine-wide cache;
#   2. unpack only the two shared libraries and the C API headers;
#   3. point node_modules/@tensorflow/tfjs-node/deps/{lib,include} at them;
#   4. build the addon with node-pre-gyp/node-gyp against this Node's headers
#      (cached per tfjs-node/TensorFlow/Node-API version, so `npm ci` followed
#      by this script only relinks);
#   5. load it and run one op.
#
#   WINNOW_TF_VERSION=2.18.1        tensorflow-cpu wheel version
#   WINNOW_TF_PACKAGE=tensorflow-cpu  the wheel: tensorflow (CUDA-enabled) for GPU images
#   WINNOW_TFJS_PACKAGE=tfjs-node   the binding to build: tfjs-node-gpu for GPU images
#   WINNOW_TOOLS_CACHE=DIR          machine-wide cache (default ~/.cache/winnow/tools)
#   WINNOW_SKIP_TFJS_NODE=1         do nothing
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${WINNOW_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/winnow/tools}"
tf_package="${WINNOW_TF_PACKAGE:-tensorflow-cpu}"
tf_version="${WINNOW_TF_VERSION:-2.18.1}"
tfjs_package="${WINNOW_TFJS_PACKAGE:-tfjs-node}"
tfjs_node="$root/node_modules/@tensorflow/$tfjs_package"
wheel_name="${tf_package//-/_}"
tf_id="$tf_package-$tf_version"
tf_dir="$cache/$tf_id"            # lib/ include/ addon/ once unpacked
tools_link="$root/.tools/tensorflow"

log() { printf '[install-tfjs-node] %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

if [ "${WINNOW_SKIP_TFJS_NODE:-}" = 1 ]; then log "skipped (WINNOW_SKIP_TFJS_NODE=1)"; exit 0; fi
[ "$(uname -s)-$(uname -m)" = Linux-x86_64 ] || die "only linux x86_64 is supported (the wheel's libraries are manylinux x86_64)"
[ -f "$tfjs_node/package.json" ] || die "$tfjs_node is missing; run npm ci first"
command -v python3 >/dev/null || die "python3 (with pip) is needed to fetch the $tf_package wheel"
start=$SECONDS

# --- 1+2: the wheel's libraries and headers -------------------------------
if [ -f "$tf_dir/.complete" ]; then
  log "$tf_id: libraries already unpacked in $tf_dir"
else
  mkdir -p "$cache/wheels"
  wheel=$(ls "$cache/wheels/$wheel_name-$tf_version"-*.whl 2>/dev/null | head -n1 || true)
  if [ -z "$wheel" ]; then
    log "$tf_id: downloading the wheel (about 230 MB) with pip"
    # The shared libraries do not depend on the Python version; pin one so the
    # same wheel is chosen whatever python3 this machine has.
    python3 -m pip download --quiet --no-cache-dir --no-deps --only-binary=:all: \
      --platform manylinux2014_x86_64 --python-version 3.11 --implementation cp \
      -d "$cache/wheels" "$tf_package==$tf_version"
    wheel=$(ls "$cache/wheels/$wheel_name-$tf_version"-*.whl | head -n1)
  fi
  log "$tf_id: unpacking libraries and C headers from $(basename "$wheel")"
  tmp="$tf_dir.tmp.$$"
  rm -rf "$tmp" && mkdir -p "$tmp/lib" "$tmp/include"
  python3 - "$wheel" "$tmp" <<'PY'
import os, shutil, sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
libs = {'tensorflow/libtensorflow_cc.so.2', 'tensorflow/libtensorflow_framework.so.2'}
# The closure of tensorflow/c/c_api.h and tensorflow/c/eager/c_api.h (g++ -MM).
headers = ('tensorflow/c/', 'tensorflow/core/platform/ctstring', 'tsl/platform/ctstring', 'xla/tsl/c/')
found = set()
with zipfile.ZipFile(wheel) as z:
    for info in z.infolist():
        name = info.filename
        if name in libs:
            target = f'{out}/lib/{name.rsplit("/", 1)[1]}'
        elif name.startswith('tensorflow/include/') and name.endswith('.h') \
                and name[len('tensorflow/include/'):].startswith(headers):
            target = f'{out}/include/{name[len("tensorflow/include/"):]}'
        else:
            continue
        found.add(name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with z.open(info) as src, open(target, 'wb') as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
missing = libs - found
if missing or 'tensorflow/include/tensorflow/c/eager/c_api.h' not in found:
    sys.exit(f'{wheel} lacks {sorted(missing) or "the C API headers"}')
PY
  # Every symbol the binding calls must be exported by the two libraries.
  missing=$(grep -ohE '\bTFE?_[A-Za-z0-9_]+\(' "$tfjs_node"/binding/*.cc "$tfjs_node"/binding/*.h | tr -d '(' | sort -u |
    grep -vE '^(TF_AutoStatus|TF_AutoTensor|TFE_AutoOp|TF_TString_.*)$' |
    comm -23 - <(nm -D --defined-only "$tmp"/lib/*.so.2 | awk '{print $3}' | sed 's/@.*//' | sort -u) || true)
  [ -z "$missing" ] || { rm -rf "$tmp"; die "$tf_id does not export: $missing"; }
  ln -sf libtensorflow_cc.so.2 "$tmp/lib/libtensorflow.so"
  ln -sf libtensorflow_framework.so.2 "$tmp/lib/libtensorflow_framework.so"
  # tfjs-node's own install.js skips its download when this file exists.
  ln -sf libtensorflow_cc.so.2 "$tmp/lib/libtensorflow.so.2.9.1"
  ln -sf libtensorflow_framework.so.2 "$tmp/lib/libtensorflow_framework.so.2.9.1"
  touch "$tmp/.complete"
  rm -rf "$tf_dir" && mv "$tmp" "$tf_dir"
  rm -f "$wheel" # 220 MB; everything needed is unpacked
fi
mkdir -p "$root/.tools"
ln -sfn "$tf_dir" "$tools_link"

# --- 3: where binding.gyp and the addon's RUNPATH ($ORIGIN/../../deps/lib) look
mkdir -p "$tfjs_node/deps"
for d in lib include; do
  [ -L "$tfjs_node/deps/$d" ] || rm -rf "${tfjs_node:?}/deps/$d"
  ln -sfn "$tf_dir/$d" "$tfjs_node/deps/$d"
done

# --- 4: the addon ----------------------------------------------------------
tfjs_version=$(node -p "require('$tfjs_node/package.json').version")
addon=$(cd "$tfjs_node" && node -p "require('@mapbox/node-pre-gyp').find(require('path').resolve('package.json'))")
napi_label=$(basename "$(dirname "$addon")")
key="$tfjs_package-$tfjs_version-$napi_label"
cached_addon="$tf_dir/addon/$key/tfjs_binding.node"
if [ -f "$addon" ] && [ -f "$addon.winnow" ] && [ "$(cat "$addon.winnow")" = "$key $tf_id" ]; then
  log "addon $addon: already built for $tf_id"
elif [ -f "$cached_addon" ]; then
  mkdir -p "$(dirname "$addon")" && cp "$cached_addon" "$addon" && echo "$key $tf_id" >"$addon.winnow"
  log "addon: taken from the cache ($cached_addon)"
else
  gyp_env=()
  if [ -z "${npm_config_nodedir:-}" ]; then
    node_prefix=$(dirname "$(dirname "$(command -v node)")")
    [ -f "$node_prefix/include/node/node_api.h" ] || die "no Node headers under $node_prefix/include/node; set npm_config_nodedir to a Node source/headers tree (node-gyp would download them otherwise)"
    gyp_env=(npm_config_nodedir="$node_prefix")
  fi
  log "addon: building $napi_label with node-gyp (20-30 s)"
  build_start=$SECONDS
  (cd "$tfjs_node" && env "${gyp_env[@]}" node "$root/node_modules/@mapbox/node-pre-gyp/bin/node-pre-gyp" \
    rebuild --build-latest-napi-version-only --loglevel=warn) >&2
  [ -f "$addon" ] || die "node-gyp finished but $addon is missing"
  rm -rf "$tfjs_node/build"
  mkdir -p "$(dirname "$cached_addon")" && cp "$addon" "$cached_addon.tmp.$$" && mv "$cached_addon.tmp.$$" "$cached_addon"
  echo "$key $tf_id" >"$addon.winnow"
  log "addon: built in $((SECONDS - build_start)) s"
fi

# --- 5: prove it loads and computes ----------------------------------------
(cd "$root" && node -e "
const tf = require('@tensorflow/$tfjs_package');
const a = tf.tensor2d([[1, 2], [3, 4]]);
const s = tf.matMul(a, a).sum().dataSync()[0];
if (tf.getBackend() !== 'tensorflow' || s !== 54) { console.error('unexpected', tf.getBackend(), s); process.exit(1); }
") || die "the addon does not load; see the error above"
log "$tfjs_package ready on $tf_id in $((SECONDS - start)) s"
