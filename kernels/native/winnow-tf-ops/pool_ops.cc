// WinnowMaxPool2x2 and WinnowMaxPool2x2Grad: the 2x2, stride-2 max pool and its
// gradient in one pass each, picking the winner exactly as TensorFlow's CPU
// kernels do. docs/kernels.md, "Native TensorFlow ops".
#include "kernel_support.h"

namespace winnow_tf_ops {

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

void MaxPoolGradCompute(void*, TF_OpKernelContext* ctx) {
  KernelCall call(ctx);
  TF_Tensor* x = call.Input(0);
  TF_Tensor* dy = x ? call.Input(1) : nullptr;
  if (!dy) return;
  if (TF_NumDims(x) != 4 || TF_NumDims(dy) != 4 || TF_Dim(x, 1) % 2 != 0 || TF_Dim(x, 2) % 2 != 0 ||
      TF_Dim(dy, 0) != TF_Dim(x, 0) || TF_Dim(dy, 1) * 2 != TF_Dim(x, 1) || TF_Dim(dy, 2) * 2 != TF_Dim(x, 2) ||
      TF_Dim(dy, 3) != TF_Dim(x, 3)) {
    return call.Fail(std::string(kMaxPoolGrad) + ": x must be NHWC with even H and W, dy [N, H/2, W/2, C]");
  }
  const int64_t dims[4] = {TF_Dim(x, 0), TF_Dim(x, 1), TF_Dim(x, 2), TF_Dim(x, 3)};
  float* dp = call.Output<float>(0, TF_FLOAT, dims, 4, TF_TensorByteSize(x));
  if (!dp) return;
  const float* xp = static_cast<const float*>(TF_TensorData(x));
  const float* gp = static_cast<const float*>(TF_TensorData(dy));
  const int64_t rows = dims[0] * dims[1] / 2;
  // Memory-bound: one thread per 256 KiB of input at least.
  const int64_t row_bytes = 2 * dims[2] * dims[3] * sizeof(float);
  Parallel(rows, std::max<int64_t>(1, (256 << 10) / row_bytes),
           [&](int64_t begin, int64_t end) { MaxPoolGradRows(xp, gp, dp, begin, end, dims[2], dims[3]); });
}

__attribute__((target_clones("avx2", "default")))
void MaxPoolRows(const float* __restrict x, float* __restrict y, int64_t begin, int64_t end, int64_t w, int64_t c) {
  const int64_t out_w = w / 2;
  for (int64_t row = begin; row < end; ++row) {
    const float* x0 = x + row * 2 * w * c;
    const float* x1 = x0 + w * c;
    float* out = y + row * out_w * c;
    for (int64_t ow = 0; ow < out_w; ++ow) {
      const int64_t left = 2 * ow * c;
      const int64_t right = left + c;
      for (int64_t k = 0; k < c; ++k) {
        float m = std::numeric_limits<float>::lowest();
        m = x0[left + k] > m ? x0[left + k] : m;
        m = x0[right + k] > m ? x0[right + k] : m;
        m = x1[left + k] > m ? x1[left + k] : m;
        m = x1[right + k] > m ? x1[right + k] : m;
        out[ow * c + k] = m;
      }
    }
  }
}

void MaxPoolCompute(void*, TF_OpKernelContext* ctx) {
  KernelCall call(ctx);
  TF_Tensor* x = call.Input(0);
  if (!x) return;
  if (TF_NumDims(x) != 4 || TF_Dim(x, 1) % 2 != 0 || TF_Dim(x, 2) % 2 != 0) {
    return call.Fail(std::string(kMaxPool) + ": x must be NHWC with even H and W");
  }
  const int64_t dims[4] = {TF_Dim(x, 0), TF_Dim(x, 1) / 2, TF_Dim(x, 2) / 2, TF_Dim(x, 3)};
  float* yp = call.Output<float>(0, TF_FLOAT, dims, 4, TF_TensorByteSize(x) / 4);
  if (!yp) return;
  const float* xp = static_cast<const float*>(TF_TensorData(x));
  const int64_t w = TF_Dim(x, 2), c = TF_Dim(x, 3);
  const int64_t row_bytes = 2 * w * c * sizeof(float);
  Parallel(dims[0] * dims[1], std::max<int64_t>(1, (256 << 10) / row_bytes),
           [&](int64_t begin, int64_t end) { MaxPoolRows(xp, yp, begin, end, w, c); });
}

}  // namespace winnow_tf_ops
