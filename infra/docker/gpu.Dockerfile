# syntax=docker/dockerfile:1
# The gpu worker: tensor activities on tfjs-node-gpu, one worker per GPU.
# tfjs-node-gpu's addon is built against the libtensorflow in PyPI's
# `tensorflow` wheel and runs on the CUDA and cuDNN libraries of PyPI's
# nvidia-* wheels (the route infra/install-tfjs-node.sh takes for the CPU
# build), so nothing is fetched from outside the package registries.
# Build from the repository root:
#   docker build -f infra/docker/gpu.Dockerfile -t winnow-gpu:0.1.0 .
ARG NODE_IMAGE=node:20.18.1-bookworm
ARG CUDA_IMAGE=nvidia/cuda:12.5.1-runtime-ubuntu22.04
ARG TF_VERSION=2.18.1

FROM ${NODE_IMAGE} AS build
ARG TF_VERSION
WORKDIR /src
# python3-pip fetches the wheels; g++ and make (in this image) build the addon with node-gyp.
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3-pip=23.* \
  && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY contracts contracts
COPY kernels kernels
COPY domain domain
COPY compute compute
COPY activities activities
COPY workflows workflows
COPY workers workers
COPY client client
COPY infra infra
COPY bench bench
COPY test test
# Compile, drop the dev tools, then add the GPU binding (its own install script would download libtensorflow).
# dist/bench stays: infra/gpu-check.sh runs its gpu-throughput bench in the image.
RUN npx tsc -p tsconfig.json \
  && rm -rf dist/test \
  && npm prune --omit=dev --no-audit --no-fund \
  && npm install --no-save --omit=dev --ignore-scripts --no-audit --no-fund @tensorflow/tfjs-node-gpu@4.22.0
# The addon, built in place against the tensorflow wheel; deps/lib then holds real copies of the two libraries.
RUN WINNOW_TF_PACKAGE=tensorflow WINNOW_TF_VERSION=${TF_VERSION} WINNOW_TFJS_PACKAGE=tfjs-node-gpu \
    WINNOW_TOOLS_CACHE=/opt/winnow-cache bash infra/install-tfjs-node.sh \
  && deps=node_modules/@tensorflow/tfjs-node-gpu/deps \
  && cp -rL "$deps/lib" /tmp/libtensorflow && rm -rf "$deps" && mkdir "$deps" && mv /tmp/libtensorflow "$deps/lib" \
  && rm -rf /opt/winnow-cache
# The CUDA and cuDNN libraries TensorFlow dlopens, from the nvidia-* wheels its [and-cuda] extra names.
RUN python3 -m pip download --no-cache-dir --only-binary=:all: --platform manylinux2014_x86_64 \
    --python-version 3.11 --implementation cp -d /tmp/wheels "tensorflow[and-cuda]==${TF_VERSION}" \
  && mkdir -p /opt/nvidia \
  && for w in /tmp/wheels/nvidia_*.whl; do python3 -m zipfile -e "$w" /opt/nvidia; done \
  && rm -rf /tmp/wheels

FROM ${CUDA_IMAGE}
# Node from the official image (its binary needs glibc >= 2.28).
COPY --from=build /usr/local/bin/node /usr/local/bin/node
COPY --from=build /opt/nvidia /opt/nvidia
COPY --from=build /src/package.json /app/package.json
COPY --from=build /src/node_modules /app/node_modules
COPY --from=build /src/dist /app/dist
COPY infra/docker/entrypoint.sh /app/entrypoint.sh
COPY infra/gpu-check.sh /app/gpu-check.sh
RUN groupadd --gid 10001 winnow \
  && useradd --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin winnow
ENV NODE_ENV=production \
    WINNOW_WORKER_KIND=gpu \
    WINNOW_APP_DIR=/app \
    WINNOW_BACKEND=tfjs-node-gpu \
    LD_LIBRARY_PATH=/app/node_modules/@tensorflow/tfjs-node-gpu/deps/lib:/opt/nvidia/nvidia/cublas/lib:/opt/nvidia/nvidia/cuda_cupti/lib:/opt/nvidia/nvidia/cuda_nvrtc/lib:/opt/nvidia/nvidia/cuda_runtime/lib:/opt/nvidia/nvidia/cudnn/lib:/opt/nvidia/nvidia/cufft/lib:/opt/nvidia/nvidia/curand/lib:/opt/nvidia/nvidia/cusolver/lib:/opt/nvidia/nvidia/cusparse/lib:/opt/nvidia/nvidia/nccl/lib:/opt/nvidia/nvidia/nvjitlink/lib
WORKDIR /app
USER 10001:10001
ENTRYPOINT ["/app/entrypoint.sh"]
