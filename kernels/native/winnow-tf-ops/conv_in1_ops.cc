// WinnowConvIn1BiasReluPool and its gradient: the first conv block on grey
// images (one input channel) in one pass that never writes the convolution's
// output. docs/kernels.md, "Native TensorFlow ops".
#include <bit>
#include <type_traits>

#include "conv_block.h"

namespace winnow_tf_ops {

// Checks x [N, H, W, 1] and the pads; fills the image fields of s.
bool ConvIn1Image(KernelCall& call, const char* op, TF_Tensor* x, const Pads& pads, ConvShape& s) {
  if (TF_NumDims(x) != 4 || TF_Dim(x, 3) != 1) {
    call.Fail(std::string(op) + ": x must be NHWC with one channel");
    return false;
  }
  s.pads = pads;
  s.n = TF_Dim(x, 0);
  s.h = TF_Dim(x, 1);
  s.w = TF_Dim(x, 2);
  s.cin = 1;
  s.hp = s.h + pads.top + pads.bottom;
  s.wp = s.w + pads.left + pads.right;
  return true;
}

// Images [begin, end): y and where as WinnowBiasReluPool would give them for
// the convolution's output (relu, pool and slot in PoolSlot). Channels in
// blocks of 8 when c is a multiple of 8 (the window's four outputs of a block
// stay in registers across the taps), else one at a time.
__attribute__((target_clones("avx2", "default")))
void ConvIn1PoolImages(const float* __restrict x, const float* __restrict filter, const float* __restrict bias, float* __restrict y,
                       int32_t* __restrict where, int64_t begin, int64_t end, const ConvShape& s) {
  const int64_t c = s.cout, block = c % 8 == 0 ? 8 : 1;
  std::vector<float> pad(s.hp * s.wp);
  for (int64_t image = begin; image < end; ++image) {
    PadImage(x, pad.data(), image, s);
    for (int64_t r = 0; r < s.ph; ++r) {
      for (int64_t col = 0; col < s.pw; ++col) {
        const float* patch = pad.data() + 2 * r * s.wp + 2 * col;
        const int64_t at = ((image * s.ph + r) * s.pw + col) * c;
        for (int64_t k0 = 0; k0 < c; k0 += block) {
          alignas(32) float conv[4][8];
          if (block == 8) {
            V8 a0 = {}, a1 = {}, a2 = {}, a3 = {};
            for (int64_t i = 0; i < s.kh; ++i) {
              for (int64_t j = 0; j < s.kw; ++j) {
                const V8 f = Load8<V8>(filter + (i * s.kw + j) * c + k0);
                a0 += patch[i * s.wp + j] * f;
                a1 += patch[i * s.wp + j + 1] * f;
                a2 += patch[(i + 1) * s.wp + j] * f;
                a3 += patch[(i + 1) * s.wp + j + 1] * f;
              }
            }
            const V8 b = Load8<V8>(bias + k0);
            Store8(conv[0], a0 + b);
            Store8(conv[1], a1 + b);
            Store8(conv[2], a2 + b);
            Store8(conv[3], a3 + b);
          } else {
            float a0 = 0, a1 = 0, a2 = 0, a3 = 0;
            for (int64_t i = 0; i < s.kh; ++i) {
              for (int64_t j = 0; j < s.kw; ++j) {
                const float f = filter[(i * s.kw + j) * c + k0];
                a0 += patch[i * s.wp + j] * f;
                a1 += patch[i * s.wp + j + 1] * f;
                a2 += patch[(i + 1) * s.wp + j] * f;
                a3 += patch[(i + 1) * s.wp + j + 1] * f;
              }
            }
            conv[0][0] = a0 + bias[k0];
            conv[1][0] = a1 + bias[k0];
            conv[2][0] = a2 + bias[k0];
            conv[3][0] = a3 + bias[k0];
          }
          for (int64_t l = 0; l < block; ++l) PoolSlot(conv[0][l], conv[1][l], conv[2][l], conv[3][l], y[at + k0 + l], where[at + k0 + l]);
        }
      }
    }
  }
}

// The gradient a pooled output sends to its window's convolution outputs, as
// WinnowBiasReluPoolGrad gives it: v = dy (or dy * 0 where relu's gradient is
// 0) to the code's slot, nothing to the others; m0..m3 are all-ones at that
// slot. Only the slot's products are summed (the others are exact zeros, and
// TensorFlow's filter gradient does not turn 0 * Inf into NaN either).
template <typename F, typename I>
__attribute__((always_inline)) inline F RouteGradient(F gv, I code, I& m0, I& m1, I& m2, I& m3) {
  // All-ones where slot == n: vector comparisons give -1 per lane already, scalar ones 1.
  const auto at = [slot = code & 3](int n) -> I {
    if constexpr (std::is_same_v<I, int32_t>) return -static_cast<I>(slot == n);
    else return slot == n;
  };
  const I masked = 0 - ((code >> 2) & 1);
  m0 = at(0);
  m1 = at(1);
  m2 = at(2);
  m3 = at(3);
  return std::bit_cast<F>((std::bit_cast<I>(gv) & ~masked) | (std::bit_cast<I>(gv * 0.0f) & masked));
}

// Each image's filter and bias gradient terms, summed in float32, into partial
// (image-major, kh*kw*c filter terms then c bias terms, as doubles). Channels
// in blocks of 8 when c is a multiple of 8, else one at a time.
__attribute__((target_clones("avx2", "default")))
void ConvIn1PoolGradImages(const float* __restrict x, const float* __restrict dy, const int32_t* __restrict where,
                           double* __restrict partial, int64_t begin, int64_t end, const ConvShape& s) {
  const int64_t c = s.cout, block = c % 8 == 0 ? 8 : 1;
  const int64_t taps = s.kh * s.kw, terms = (taps + 1) * c;
  std::vector<float> pad(s.hp * s.wp), sums(terms);
  float* __restrict bias_sum = sums.data() + taps * c;
  for (int64_t image = begin; image < end; ++image) {
    PadImage(x, pad.data(), image, s);
    std::fill(sums.begin(), sums.end(), 0.0f);
    for (int64_t r = 0; r < s.ph; ++r) {
      for (int64_t col = 0; col < s.pw; ++col) {
        const float* patch = pad.data() + 2 * r * s.wp + 2 * col;
        const int64_t at = ((image * s.ph + r) * s.pw + col) * c;
        for (int64_t k0 = 0; k0 < c; k0 += block) {
          if (block == 8) {
            V8i m0, m1, m2, m3;
            const V8 v = RouteGradient(Load8<V8>(dy + at + k0), Load8<V8i>(where + at + k0), m0, m1, m2, m3);
            Store8(bias_sum + k0, Load8<V8>(bias_sum + k0) + v);
            for (int64_t i = 0; i < s.kh; ++i) {
              for (int64_t j = 0; j < s.kw; ++j) {
                float* acc = sums.data() + (i * s.kw + j) * c + k0;
                const V8i chosen = (m0 & std::bit_cast<int32_t>(patch[i * s.wp + j])) | (m1 & std::bit_cast<int32_t>(patch[i * s.wp + j + 1])) |
                                   (m2 & std::bit_cast<int32_t>(patch[(i + 1) * s.wp + j])) |
                                   (m3 & std::bit_cast<int32_t>(patch[(i + 1) * s.wp + j + 1]));
                Store8(acc, Load8<V8>(acc) + v * std::bit_cast<V8>(chosen));
              }
            }
          } else {
            int32_t m0, m1, m2, m3;
            const float v = RouteGradient(dy[at + k0], where[at + k0], m0, m1, m2, m3);
            bias_sum[k0] += v;
            for (int64_t i = 0; i < s.kh; ++i) {
              for (int64_t j = 0; j < s.kw; ++j) {
                const int32_t chosen = (m0 & std::bit_cast<int32_t>(patch[i * s.wp + j])) | (m1 & std::bit_cast<int32_t>(patch[i * s.wp + j + 1])) |
                                       (m2 & std::bit_cast<int32_t>(patch[(i + 1) * s.wp + j])) |
                                       (m3 & std::bit_cast<int32_t>(patch[(i + 1) * s.wp + j + 1]));
                sums[(i * s.kw + j) * c + k0] += v * std::bit_cast<float>(chosen);
              }
            }
          }
        }
      }
    }
    std::copy(sums.begin(), sums.end(), partial + image * terms);
  }
}

void ConvIn1PoolCompute(void* kernel, TF_OpKernelContext* ctx) {
  KernelCall call(ctx);
  TF_Tensor *x, *filter, *bias;
  ConvShape s;
  if (!call.Inputs({&x, &filter, &bias}) || !ConvIn1Image(call, kConvIn1Pool, x, *static_cast<Pads*>(kernel), s)) return;
  if (TF_NumDims(filter) != 4 || TF_Dim(filter, 2) != 1 || TF_Dim(filter, 0) > s.hp || TF_Dim(filter, 1) > s.wp ||
      (s.hp - TF_Dim(filter, 0) + 1) % 2 != 0 || (s.wp - TF_Dim(filter, 1) + 1) % 2 != 0) {
    return call.Fail(std::string(kConvIn1Pool) + ": filter must be [KH, KW, 1, C], leaving an even output height and width");
  }
  if (TF_NumDims(bias) != 1 || TF_Dim(bias, 0) != TF_Dim(filter, 3)) return call.Fail(std::string(kConvIn1Pool) + ": bias must be [C]");
  s.kh = TF_Dim(filter, 0);
  s.kw = TF_Dim(filter, 1);
  s.cout = TF_Dim(filter, 3);
  s.ph = (s.hp - s.kh + 1) / 2;
  s.pw = (s.wp - s.kw + 1) / 2;
  const int64_t dims[4] = {s.n, s.ph, s.pw, s.cout};
  const size_t count = static_cast<size_t>(s.n * s.ph * s.pw * s.cout);
  float* yp = call.Output<float>(0, TF_FLOAT, dims, 4, count * sizeof(float));
  int32_t* wp = yp ? call.Output<int32_t>(1, TF_INT32, dims, 4, count * sizeof(int32_t)) : nullptr;
  if (!wp) return;
  const float *xp = Data(x), *fp = Data(filter), *bp = Data(bias);
  Parallel(s.n, 1, [&](int64_t begin, int64_t end) { ConvIn1PoolImages(xp, fp, bp, yp, wp, begin, end, s); });
}

void ConvIn1PoolGradCompute(void* kernel, TF_OpKernelContext* ctx) {
  KernelCall call(ctx);
  TF_Tensor *x, *dy, *where;
  ConvShape s;
  if (!call.Inputs({&x, &dy, &where}) || !ConvIn1Image(call, kConvIn1PoolGrad, x, *static_cast<Pads*>(kernel), s)) return;
  if (TF_NumDims(dy) != 4 || TF_Dim(dy, 0) != s.n || TF_Dim(dy, 1) < 1 || TF_Dim(dy, 2) < 1 || 2 * TF_Dim(dy, 1) > s.hp ||
      2 * TF_Dim(dy, 2) > s.wp || TF_NumDims(where) != 4 || TF_TensorElementCount(where) != TF_TensorElementCount(dy) ||
      TF_Dim(where, 3) != TF_Dim(dy, 3)) {
    return call.Fail(std::string(kConvIn1PoolGrad) + ": dy and where must be [N, PH, PW, C], the pooled grid of the padded image");
  }
  s.ph = TF_Dim(dy, 1);
  s.pw = TF_Dim(dy, 2);
  s.cout = TF_Dim(dy, 3);
  s.kh = s.hp - 2 * s.ph + 1;
  s.kw = s.wp - 2 * s.pw + 1;
  const int64_t taps = s.kh * s.kw, terms = (taps + 1) * s.cout;
  const int64_t filter_dims[4] = {s.kh, s.kw, 1, s.cout};
  float* gf = call.Output<float>(0, TF_FLOAT, filter_dims, 4, static_cast<size_t>(taps * s.cout) * sizeof(float));
  float* gb = gf ? call.Output<float>(1, TF_FLOAT, &s.cout, 1, static_cast<size_t>(s.cout) * sizeof(float)) : nullptr;
  if (!gb) return;
  std::vector<double> partial(static_cast<size_t>(s.n * terms));
  const float *xp = Data(x), *dp = Data(dy);
  const int32_t* wp = static_cast<const int32_t*>(TF_TensorData(where));
  Parallel(s.n, 1, [&](int64_t begin, int64_t end) { ConvIn1PoolGradImages(xp, dp, wp, partial.data(), begin, end, s); });
  for (int64_t t = 0; t < terms; ++t) {
    double total = 0;
    for (int64_t image = 0; image < s.n; ++image) total += partial[image * terms + t];
    (t < taps * s.cout ? gf[t] : gb[t - taps * s.cout]) = static_cast<float>(total);
  }
}

}  // namespace winnow_tf_ops
