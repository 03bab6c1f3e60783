#!/usr/bin/env bash
# One check of a machine with an NVIDIA GPU, for the gpu worker image or a
# checkout: reports the driver, CUDA and cuDNN it finds, builds (in a
# checkout) or loads (in the image) tfjs-node-gpu, and prints cnn-small and
# resnet18-cifar training and inference images/s on the GPU. Never run by
# the tests; bounded in time (WINNOW_GPU_CHECK_SECONDS per phase, default 10).
#
#   bash infra/gpu-check.sh            # in a checkout: npm ci and npm run build first
#   /app/gpu-check.sh                  # in the gpu worker image
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ -f "$here/dist/bench/gpu-throughput.js" ] || [ -f "$here/dist/workers/gpu.js" ]; then app="$here"; else app="$(cd "$here/.." && pwd)"; fi
seconds="${WINNOW_GPU_CHECK_SECONDS:-10}"
say() { printf '[gpu-check] %s\n' "$*"; }

say "machine: $(uname -srm), $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
if command -v nvidia-smi >/dev/null 2>&1; then
  nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv,noheader | sed 's/^/[gpu-check] gpu: /'
  say "driver's CUDA: $(nvidia-smi | sed -n 's/.*CUDA Version: *\([0-9.]*\).*/\1/p' | head -n1)"
else
  say "nvidia-smi not found: no NVIDIA driver visible here"; exit 2
fi
# The CUDA runtime and cuDNN the process will load (the image's nvidia-* wheels, or the system's).
for lib in libcudart.so.12 libcudnn.so.9 libcublas.so.12; do
  found=""
  for dir in ${LD_LIBRARY_PATH//:/ } /usr/local/cuda/lib64 /usr/lib/x86_64-linux-gnu; do
    [ -e "$dir/$lib" ] && found="$(readlink -f "$dir/$lib")" && break
  done
  say "$lib: ${found:-not found}"
done
cudnn_header=$(find / -name cudnn_version.h -path '*include*' 2>/dev/null | head -n1)
[ -n "$cudnn_header" ] && say "cuDNN $(awk '/#define CUDNN_(MAJOR|MINOR|PATCHLEVEL) / {printf "%s.", $3}' "$cudnn_header" | sed 's/\.$//') ($cudnn_header)"

if ! (cd "$app" && node -e "require('@tensorflow/tfjs-node-gpu')" >/dev/null 2>&1); then
  if [ -f "$app/infra/install-tfjs-node.sh" ]; then
    say "tfjs-node-gpu not loadable: installing it and building its addon against PyPI's tensorflow wheel"
    (cd "$app" && npm install --no-save --ignore-scripts --no-audit --no-fund @tensorflow/tfjs-node-gpu@4.22.0) || exit 3
    WINNOW_TF_PACKAGE=tensorflow WINNOW_TFJS_PACKAGE=tfjs-node-gpu bash "$app/infra/install-tfjs-node.sh" || exit 3
    # TensorFlow dlopens CUDA and cuDNN: take them from the nvidia-* wheels of tensorflow[and-cuda] unless the system has them.
    if [ -z "$(ldconfig -p | grep libcudnn.so.9)" ]; then
      wheels="${WINNOW_TOOLS_CACHE:-$HOME/.cache/winnow/tools}/nvidia-wheels"
      if [ ! -d "$wheels/nvidia" ]; then
        say "fetching the CUDA and cuDNN wheels tensorflow[and-cuda] names"
        tmp=$(mktemp -d)
        python3 -m pip download --quiet --only-binary=:all: --platform manylinux2014_x86_64 --python-version 3.11 \
          --implementation cp -d "$tmp" "tensorflow[and-cuda]==${WINNOW_TF_VERSION:-2.18.1}" || exit 3
        mkdir -p "$wheels" && for w in "$tmp"/nvidia_*.whl; do python3 -m zipfile -e "$w" "$wheels"; done
        rm -rf "$tmp"
      fi
      for d in "$wheels"/nvidia/*/lib; do LD_LIBRARY_PATH="$d:${LD_LIBRARY_PATH:-}"; done
      export LD_LIBRARY_PATH
    fi
  else
    say "tfjs-node-gpu cannot be loaded in this image:"; (cd "$app" && node -e "require('@tensorflow/tfjs-node-gpu')"); exit 3
  fi
fi
(cd "$app" && node -e "
const tf = require('@tensorflow/tfjs-node-gpu');
const s = tf.matMul(tf.ones([512, 512]), tf.ones([512, 512])).sum().dataSync()[0];
console.log('[gpu-check] tfjs-node-gpu loads; backend', tf.getBackend(), '; 512x512 matmul sum', s, s === 512 ** 3 ? 'ok' : 'WRONG');
") || exit 4

say "throughput ($seconds s per phase):"
(cd "$app" && WINNOW_BACKEND=tfjs-node-gpu node dist/bench/gpu-throughput.js --backend=tfjs-node-gpu --seconds="$seconds") || exit 5
