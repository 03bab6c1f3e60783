// TensorFlow CPU ops that winnow's tfjs-node backend calls by name (through
// tfjs-node's executeOp), registered into the process-wide TensorFlow op and
// kernel registries when Node loads this addon. Built against the same
// libtensorflow as tfjs-node's addon (infra/build-tf-ops.sh).
//
// WinnowMaxPool2x2Grad(x, dy) -> dx: the gradient of a 2x2, stride-2 max pool
// over NHWC float input with even height and width. TensorFlow's MaxPoolGrad
// recomputes the pooling with an int64 argmax tensor and scatters; on 2 cores
// it took ~9 ms for a 128x28x28x32 input, ~5x a memory pass. This kernel does
// one pass and routes each dy to the same input TensorFlow's CPU kernel picks:
// the window's first element, replaced by a later one only when strictly
// greater (row-major order; NaN compares false, as there).
#include <node_api.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "tensorflow/c/kernels.h"
#include "tensorflow/c/ops.h"
#include "tensorflow/c/tf_status.h"
#include "tensorflow/c/tf_tensor.h"

namespace {

constexpr const char* kMaxPoolGrad = "WinnowMaxPool2x2Grad";

void SameShapeAsFirstInput(TF_ShapeInferenceContext* ctx, TF_Status* status) {
  TF_ShapeHandle* shape = TF_NewShapeHandle();
  TF_ShapeInferenceContextGetInput(ctx, 0, shape, status);
  if (TF_GetCode(status) == TF_OK) TF_ShapeInferenceContextSetOutput(ctx, 0, shape, status);
  TF_DeleteShapeHandle(shape);
}

// Output rows [begin, end) of the pooled image grid (row = image * out_h + out_row).
// Branch-free (masks instead of ifs) so that the channel loop vectorises and
// data-dependent winners (half the inputs are 0 after a relu) cost no mispredictions.
__attribute__((target_clones("avx2", "default")))
void MaxPoolGradRows(const float* __restrict x, const float* __restrict dy, float* __restrict dx, int64_t begin, int64_t end,
                     int64_t w, int64_t c) {
  const int64_t out_w = w / 2;
  for (int64_t row = begin; row < end; ++row) {
    const float* x0 = x + row * 2 * w * c;
    const float* x1 = x0 + w * c;
    float* d0 = dx + row * 2 * w * c;
    float* d1 = d0 + w * c;
    const float* g = dy + row * out_w * c;
    for (int64_t ow = 0; ow < out_w; ++ow) {
      const int64_t left = 2 * ow * c;
      const int64_t right = left + c;
      for (int64_t k = 0; k < c; ++k) {
        const float a = x0[left + k], b = x0[right + k], p = x1[left + k], q = x1[right + k];
        // TensorFlow's order: start with a, move to a later element only when it is strictly greater.
        const uint32_t to_b = a < b;
        const float m1 = to_b ? b : a;
        const uint32_t to_p = m1 < p;
        const float m2 = to_p ? p : m1;
        const uint32_t to_q = m2 < q;
        // All-ones masks; bitwise selects keep v's exact bits (v * 0 would turn Inf into NaN).
        const uint32_t at_q = 0u - to_q;
        const uint32_t at_p = (0u - to_p) & ~at_q;
        const uint32_t at_b = (0u - to_b) & ~at_q & ~(0u - to_p);
        const uint32_t at_a = ~(at_b | at_p | at_q);
        const uint32_t v = std::bit_cast<uint32_t>(g[ow * c + k]);
        d0[left + k] = std::bit_cast<float>(v & at_a);
        d0[right + k] = std::bit_cast<float>(v & at_b);
        d1[left + k] = std::bit_cast<float>(v & at_p);
        d1[right + k] = std::bit_cast<float>(v & at_q);
      }
    }
  }
}

void Fail(TF_OpKernelContext* ctx, TF_Status* status, const std::string& message) {
  TF_SetStatus(status, TF_INVALID_ARGUMENT, message.c_str());
  TF_OpKernelContext_Failure(ctx, status);
}

void MaxPoolGradCompute(void*, TF_OpKernelContext* ctx) {
  TF_Status* status = TF_NewStatus();
  TF_Tensor* x = nullptr;
  TF_Tensor* dy = nullptr;
  TF_Tensor* dx = nullptr;
  TF_GetInput(ctx, 0, &x, status);
  if (TF_GetCode(status) == TF_OK) TF_GetInput(ctx, 1, &dy, status);
  if (TF_GetCode(status) != TF_OK) {
    TF_OpKernelContext_Failure(ctx, status);
  } else if (TF_NumDims(x) != 4 || TF_NumDims(dy) != 4 || TF_Dim(x, 1) % 2 != 0 || TF_Dim(x, 2) % 2 != 0 ||
             TF_Dim(dy, 0) != TF_Dim(x, 0) || TF_Dim(dy, 1) * 2 != TF_Dim(x, 1) || TF_Dim(dy, 2) * 2 != TF_Dim(x, 2) ||
             TF_Dim(dy, 3) != TF_Dim(x, 3)) {
    Fail(ctx, status, std::string(kMaxPoolGrad) + ": x must be NHWC with even H and W, dy [N, H/2, W/2, C]");
  } else {
    const int64_t dims[4] = {TF_Dim(x, 0), TF_Dim(x, 1), TF_Dim(x, 2), TF_Dim(x, 3)};
    dx = TF_AllocateOutput(ctx, 0, TF_FLOAT, dims, 4, TF_TensorByteSize(x), status);
    if (TF_GetCode(status) != TF_OK) {
      TF_OpKernelContext_Failure(ctx, status);
    } else {
      const float* xp = static_cast<const float*>(TF_TensorData(x));
      const float* gp = static_cast<const float*>(TF_TensorData(dy));
      float* dp = static_cast<float*>(TF_TensorData(dx));
      const int64_t rows = dims[0] * dims[1] / 2;
      // Memory-bound: split over up to 4 threads when each gets at least 256 KiB of input.
      const int64_t bytes = TF_TensorByteSize(x);
      const int64_t hw = std::max<int64_t>(1, std::thread::hardware_concurrency());
      const int64_t threads = std::max<int64_t>(1, std::min<int64_t>({hw, 4, bytes / (256 << 10), rows}));
      std::vector<std::thread> pool;
      for (int64_t t = 1; t < threads; ++t) {
        pool.emplace_back(MaxPoolGradRows, xp, gp, dp, rows * t / threads, rows * (t + 1) / threads, dims[2], dims[3]);
      }
      MaxPoolGradRows(xp, gp, dp, 0, rows / threads, dims[2], dims[3]);
      for (std::thread& th : pool) th.join();
    }
  }
  if (x) TF_DeleteTensor(x);
  if (dy) TF_DeleteTensor(dy);
  if (dx) TF_DeleteTensor(dx);
  TF_DeleteStatus(status);
}

// Registers the ops and kernels once per process; returns an empty string or the error.
std::string Register() {
  static std::string result = [] {
    TF_Status* status = TF_NewStatus();
    TF_OpDefinitionBuilder* op = TF_NewOpDefinitionBuilder(kMaxPoolGrad);
    TF_OpDefinitionBuilderAddInput(op, "x: float");
    TF_OpDefinitionBuilderAddInput(op, "dy: float");
    TF_OpDefinitionBuilderAddOutput(op, "dx: float");
    TF_OpDefinitionBuilderSetShapeInferenceFunction(op, &SameShapeAsFirstInput);
    TF_RegisterOpDefinition(op, status);
    if (TF_GetCode(status) == TF_OK) {
      TF_KernelBuilder* kernel = TF_NewKernelBuilder(kMaxPoolGrad, "CPU", nullptr, &MaxPoolGradCompute, nullptr);
      TF_RegisterKernelBuilder(kMaxPoolGrad, kernel, status);
    }
    std::string error = TF_GetCode(status) == TF_OK ? "" : TF_Message(status);
    TF_DeleteStatus(status);
    return error;
  }();
  return result;
}

napi_value Init(napi_env env, napi_value exports) {
  const std::string error = Register();
  if (!error.empty()) {
    napi_throw_error(env, nullptr, ("winnow TensorFlow ops: " + error).c_str());
    return nullptr;
  }
  napi_value ops;
  napi_create_string_utf8(env, kMaxPoolGrad, NAPI_AUTO_LENGTH, &ops);
  napi_set_named_property(env, exports, "maxPool2x2Grad", ops);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
