#!/usr/bin/env bash
# Builds winnow's TensorFlow CPU ops (kernels/native/winnow-tf-ops/*.cc) as one Node addon
# against the libtensorflow that infra/install-tfjs-node.sh unpacked, so that
# tfjs-node can call them by name. Optional: without it the stock kernels run.
# Needs g++ (C++20), Node's headers and .tools/tensorflow/{include,lib}.
# -ffp-contract=off: the optimizer ops must round like the tfjs op sequence they replace (no FMA).
#
#   WINNOW_TF_OPS_OUT=DIR     where winnow_tf_ops.node goes (default .tools/winnow-tf-ops)
#   WINNOW_TF_DIR=DIR         libtensorflow's lib/ and include/ (default .tools/tensorflow)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tf_dir="${WINNOW_TF_DIR:-$root/.tools/tensorflow}"
out="${WINNOW_TF_OPS_OUT:-$root/.tools/winnow-tf-ops}"
src_dir="$root/kernels/native/winnow-tf-ops"

log() { printf '[build-tf-ops] %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

[ -f "$tf_dir/include/tensorflow/c/kernels.h" ] && [ -f "$tf_dir/lib/libtensorflow_cc.so.2" ] ||
  die "no libtensorflow under $tf_dir; run infra/install-tfjs-node.sh first"
command -v g++ >/dev/null || die "g++ is needed"
node_include="$(dirname "$(dirname "$(command -v node)")")/include/node"
[ -f "$node_include/node_api.h" ] || die "no Node headers (node_api.h) under $node_include"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# kernels.h includes tsl/platform/platform.h only for IS_MOBILE_PLATFORM; the
# install script unpacks the C API closure without it, and IS_SLIM_BUILD
# leaves out the one declaration (TF_GetRendezvous) that depends on more.
mkdir -p "$tmp/include/tsl/platform"
echo '/* empty: winnow builds against the C API only */' >"$tmp/include/tsl/platform/platform.h"
lib="$(cd "$tf_dir/lib" && pwd -P)"
g++ -std=c++20 -O3 -ffp-contract=off -fPIC -shared -Wall -Wextra -Wno-psabi -DIS_SLIM_BUILD -DNODE_GYP_MODULE_NAME=winnow_tf_ops \
  -I"$node_include" -I"$tf_dir/include" -I"$tmp/include" "$src_dir"/*.cc -o "$tmp/winnow_tf_ops.node" \
  -L"$lib" -l:libtensorflow_framework.so.2 -l:libtensorflow_cc.so.2 -Wl,-rpath,"$lib" -pthread
mkdir -p "$out"
mv "$tmp/winnow_tf_ops.node" "$out/winnow_tf_ops.node"
log "built $out/winnow_tf_ops.node"
