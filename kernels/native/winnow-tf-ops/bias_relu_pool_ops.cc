// WinnowBiasAdd, WinnowBiasAddRelu, WinnowBiasReluPool and its gradient: a conv
// block's tail (bias, relu, 2x2 pool) in one pass, and the gradient from the
// quarter-size `where` codes. docs/kernels.md, "Native TensorFlow ops".
#include "kernel_support.h"

namespace winnow_tf_ops {

template <bool kRelu>
__attribute__((target_clones("avx2", "default")))
void BiasAddRows(const float* __restrict x, const float* __restrict bias, float* __restrict y, int64_t begin, int64_t end, int64_t c) {
  for (int64_t row = begin; row < end; ++row) {
    const float* in = x + row * c;
    float* out = y + row * c;
    for (int64_t k = 0; k < c; ++k) out[k] = kRelu ? Relu(in[k] + bias[k]) : in[k] + bias[k];
  }
}

template <bool kRelu>
void BiasAddKernel(void*, TF_OpKernelContext* ctx) {
  KernelCall call(ctx);
  TF_Tensor* x = call.Input(0);
  TF_Tensor* bias = x ? call.Input(1) : nullptr;
  if (!bias) return;
  if (TF_NumDims(x) < 1 || TF_NumDims(bias) != 1 || TF_Dim(bias, 0) != TF_Dim(x, TF_NumDims(x) - 1)) {
    return call.Fail(std::string(kRelu ? kBiasAddRelu : kBiasAdd) + ": bias must be 1-d, as long as the last axis of x");
  }
  float* yp = call.OutputLike(0, x);
  if (!yp) return;
  const int64_t c = TF_Dim(x, TF_NumDims(x) - 1);
  const int64_t rows = c == 0 ? 0 : static_cast<int64_t>(TF_TensorElementCount(x)) / c;
  const float* xp = static_cast<const float*>(TF_TensorData(x));
  const float* bp = static_cast<const float*>(TF_TensorData(bias));
  Parallel(rows, std::max<int64_t>(1, (256 << 10) / std::max<int64_t>(1, c * sizeof(float))),
           [&](int64_t begin, int64_t end) { BiasAddRows<kRelu>(xp, bp, yp, begin, end, c); });
}

void BiasAddReluCompute(void* kernel, TF_OpKernelContext* ctx) { BiasAddKernel<true>(kernel, ctx); }
void BiasAddCompute(void* kernel, TF_OpKernelContext* ctx) { BiasAddKernel<false>(kernel, ctx); }

// Output rows [begin, end) of the pooled grid, as BiasAddRows<true>, MaxPoolRows and MaxPoolGradRows compute them.
__attribute__((target_clones("avx2", "default")))
void BiasReluPoolRows(const float* __restrict x, const float* __restrict bias, float* __restrict y, int32_t* __restrict where,
                      int64_t begin, int64_t end, int64_t w, int64_t c) {
  const int64_t out_w = w / 2;
  for (int64_t row = begin; row < end; ++row) {
    const float* x0 = x + row * 2 * w * c;
    const float* x1 = x0 + w * c;
    float* out = y + row * out_w * c;
    int32_t* at = where + row * out_w * c;
    for (int64_t ow = 0; ow < out_w; ++ow) {
      const int64_t left = 2 * ow * c;
      const int64_t right = left + c;
      for (int64_t k = 0; k < c; ++k) {
        const float sa = x0[left + k] + bias[k], sb = x0[right + k] + bias[k];
        const float sp = x1[left + k] + bias[k], sq = x1[right + k] + bias[k];
        PoolSlot(sa, sb, sp, sq, out[ow * c + k], at[ow * c + k]);
      }
    }
  }
}

__attribute__((target_clones("avx2", "default")))
void BiasReluPoolGradRows(const float* __restrict dy, const int32_t* __restrict where, float* __restrict dx, int64_t begin, int64_t end,
                          int64_t w, int64_t c) {
  const int64_t out_w = w / 2;
  for (int64_t row = begin; row < end; ++row) {
    float* d0 = dx + row * 2 * w * c;
    float* d1 = d0 + w * c;
    const float* g = dy + row * out_w * c;
    const int32_t* at = where + row * out_w * c;
    for (int64_t ow = 0; ow < out_w; ++ow) {
      const int64_t left = 2 * ow * c;
      const int64_t right = left + c;
      for (int64_t k = 0; k < c; ++k) {
        const uint32_t code = static_cast<uint32_t>(at[ow * c + k]);
        // ReluGrad's dy * 0 where the pre-activation is not positive (-0, or NaN for an infinite dy).
        // Computed unconditionally and picked with masks: a conditional multiply does not vectorise.
        const float gv = g[ow * c + k];
        const uint32_t masked = 0u - ((code >> 2) & 1u);
        const uint32_t v = (std::bit_cast<uint32_t>(gv) & ~masked) | (std::bit_cast<uint32_t>(gv * 0.0f) & masked);
        const uint32_t slot = code & 3u;
        d0[left + k] = std::bit_cast<float>(v & (0u - static_cast<uint32_t>(slot == 0)));
        d0[right + k] = std::bit_cast<float>(v & (0u - static_cast<uint32_t>(slot == 1)));
        d1[left + k] = std::bit_cast<float>(v & (0u - static_cast<uint32_t>(slot == 2)));
        d1[right + k] = std::bit_cast<float>(v & (0u - static_cast<uint32_t>(slot == 3)));
      }
    }
  }
}

void BiasReluPoolCompute(void*, TF_OpKernelContext* ctx) {
  KernelCall call(ctx);
  TF_Tensor* x = call.Input(0);
  TF_Tensor* bias = x ? call.Input(1) : nullptr;
  if (!bias) return;
  if (TF_NumDims(x) != 4 || TF_Dim(x, 1) % 2 != 0 || TF_Dim(x, 2) % 2 != 0 || TF_NumDims(bias) != 1 || TF_Dim(bias, 0) != TF_Dim(x, 3)) {
    return call.Fail(std::string(kBiasReluPool) + ": x must be NHWC with even H and W, bias [C]");
  }
  const int64_t dims[4] = {TF_Dim(x, 0), TF_Dim(x, 1) / 2, TF_Dim(x, 2) / 2, TF_Dim(x, 3)};
  const size_t bytes = TF_TensorByteSize(x) / 4;
  float* yp = call.Output<float>(0, TF_FLOAT, dims, 4, bytes);
  int32_t* wp = yp ? call.Output<int32_t>(1, TF_INT32, dims, 4, bytes) : nullptr;
  if (!wp) return;
  const float* xp = static_cast<const float*>(TF_TensorData(x));
  const float* bp = static_cast<const float*>(TF_TensorData(bias));
  const int64_t w = TF_Dim(x, 2), c = TF_Dim(x, 3);
  const int64_t row_bytes = 2 * w * c * sizeof(float);
  Parallel(dims[0] * dims[1], std::max<int64_t>(1, (256 << 10) / row_bytes),
           [&](int64_t begin, int64_t end) { BiasReluPoolRows(xp, bp, yp, wp, begin, end, w, c); });
}

void BiasReluPoolGradCompute(void*, TF_OpKernelContext* ctx) {
  KernelCall call(ctx);
  TF_Tensor* dy = call.Input(0);
  TF_Tensor* where = dy ? call.Input(1) : nullptr;
  if (!where) return;
  if (TF_NumDims(dy) != 4 || TF_NumDims(where) != 4 || TF_TensorElementCount(where) != TF_TensorElementCount(dy) ||
      TF_Dim(where, 3) != TF_Dim(dy, 3)) {
    return call.Fail(std::string(kBiasReluPoolGrad) + ": dy and where must be [N, H/2, W/2, C]");
  }
  // The pools tile the input exactly, so its shape is dy's with H and W doubled.
  const int64_t dims[4] = {TF_Dim(dy, 0), TF_Dim(dy, 1) * 2, TF_Dim(dy, 2) * 2, TF_Dim(dy, 3)};
  float* dp = call.Output<float>(0, TF_FLOAT, dims, 4, TF_TensorByteSize(dy) * 4);
  if (!dp) return;
  const float* gp = static_cast<const float*>(TF_TensorData(dy));
  const int32_t* wp = static_cast<const int32_t*>(TF_TensorData(where));
  const int64_t row_bytes = 2 * dims[2] * dims[3] * sizeof(float);
  Parallel(dims[0] * dims[1] / 2, std::max<int64_t>(1, (256 << 10) / row_bytes),
           [&](int64_t begin, int64_t end) { BiasReluPoolGradRows(gp, wp, dp, begin, end, dims[2], dims[3]); });
}

}  // namespace winnow_tf_ops
