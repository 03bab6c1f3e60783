// WinnowConvPoolFilterGrad and WinnowConvPoolInputGrad: the filter, bias and
// input gradients of any stride-1 conv block from its pooled gradient, summing
// only the routed quarter of the terms. docs/kernels.md, "Native TensorFlow ops".
#include "conv_block.h"

namespace winnow_tf_ops {

// Images per chunk of WinnowConvPoolFilterGrad: a fixed grouping (not one per
// thread), so that the float64 sum over chunks has one order on any machine.
constexpr int64_t kImagesPerChunk = 8;

// One pooled output whose gradient reaches the convolution: v, and the offset
// in the chunk's padded input of the window corner of the convolution output it goes to.
struct Routed {
  float v;
  int64_t offset;
};

// Calls fn(k, v, row, column) for every pooled output (channel k) of `image`
// with the value WinnowBiasReluPoolGrad routes (dy, or dy * 0 where relu's
// gradient is 0) and the convolution output (row, column) it goes to.
template <typename Fn>
__attribute__((always_inline)) inline void ForEachRouted(const float* dy, const int32_t* where, int64_t image, int64_t ph, int64_t pw,
                                                         int64_t cout, Fn fn) {
  for (int64_t r = 0; r < ph; ++r) {
    for (int64_t col = 0; col < pw; ++col) {
      const int64_t at = ((image * ph + r) * pw + col) * cout;
      for (int64_t k = 0; k < cout; ++k) {
        const uint32_t code = static_cast<uint32_t>(where[at + k]);
        const float gv = dy[at + k];
        const uint32_t slot = code & 3u;
        fn(k, (code & 4u) ? gv * 0.0f : gv, 2 * r + (slot >> 1), 2 * col + (slot & 1u));
      }
    }
  }
}

// out[t * stride + 8v ..] += sum over `list` of e.v * in[e.offset + t * stride + 8v ..], for
// kTaps taps t (adjacent filter columns) and kVectors vectors of 8 channels v,
// with every accumulator in a register across the list.
template <int kTaps, int kVectors>
__attribute__((always_inline)) inline void AccumulateTaps(const std::vector<Routed>& list, const float* in, int64_t stride, float* out) {
  V8 acc[kTaps][kVectors];
  for (int t = 0; t < kTaps; ++t) {
    for (int v = 0; v < kVectors; ++v) acc[t][v] = Load8<V8>(out + t * stride + 8 * v);
  }
  for (const Routed& e : list) {
    const float* p = in + e.offset;
    for (int t = 0; t < kTaps; ++t) {
      for (int v = 0; v < kVectors; ++v) acc[t][v] += e.v * Load8<V8>(p + t * stride + 8 * v);
    }
  }
  for (int t = 0; t < kTaps; ++t) {
    for (int v = 0; v < kVectors; ++v) Store8(out + t * stride + 8 * v, acc[t][v]);
  }
}

// Chunk `chunk`'s filter-gradient sums (cout x taps x cin, then cout bias sums)
// into sums, in float32. Image by image, so that the padded image being read
// (hp x wp x cin floats) stays in the first-level cache.
__attribute__((target_clones("avx2", "default")))
void ConvPoolFilterGradChunk(const float* __restrict x, const float* __restrict dy, const int32_t* __restrict where,
                             float* __restrict sums, int64_t chunk, const ConvShape& s) {
  const int64_t first = chunk * kImagesPerChunk, last = std::min(first + kImagesPerChunk, s.n);
  const int64_t cin = s.cin, cout = s.cout, taps = s.kh * s.kw;
  std::vector<float> pad(s.hp * s.wp * cin);
  // Per output channel, the image's pooled outputs with a non-zero gradient.
  std::vector<std::vector<Routed>> routed(cout);
  float* __restrict bias_sum = sums + cout * taps * cin;
  std::fill(sums, sums + cout * taps * cin + cout, 0.0f);
  for (int64_t image = first; image < last; ++image) {
    PadImage(x, pad.data(), image, s);
    for (std::vector<Routed>& list : routed) list.clear();
    ForEachRouted(dy, where, image, s.ph, s.pw, cout, [&](int64_t k, float v, int64_t row, int64_t column) {
      bias_sum[k] += v;
      if (v != 0.0f) routed[k].push_back({v, (row * s.wp + column) * cin});  // a zero adds nothing (a NaN does)
    });
    for (int64_t k = 0; k < cout; ++k) {
      for (int64_t i = 0; i < s.kh; ++i) {
        int64_t j = 0;
        float* row = sums + (k * taps + i * s.kw) * cin;
        const float* at = pad.data() + i * s.wp * cin;
        // Three taps by 32 channels at a time (12 accumulators in registers), then smaller groups.
        if (cin % 32 == 0) {
          for (; j + 3 <= s.kw; j += 3) {
            for (int64_t c0 = 0; c0 < cin; c0 += 32) AccumulateTaps<3, 4>(routed[k], at + j * cin + c0, cin, row + j * cin + c0);
          }
          for (; j < s.kw; ++j) {
            for (int64_t c0 = 0; c0 < cin; c0 += 32) AccumulateTaps<1, 4>(routed[k], at + j * cin + c0, cin, row + j * cin + c0);
          }
        } else if (cin % 8 == 0) {
          for (; j < s.kw; ++j) {
            for (int64_t c0 = 0; c0 < cin; c0 += 8) AccumulateTaps<1, 1>(routed[k], at + j * cin + c0, cin, row + j * cin + c0);
          }
        } else {
          for (; j < s.kw; ++j) {
            for (int64_t c = 0; c < cin; ++c) {
              float a = row[j * cin + c];
              for (const Routed& e : routed[k]) a += e.v * at[e.offset + j * cin + c];
              row[j * cin + c] = a;
            }
          }
        }
      }
    }
  }
}

void ConvPoolFilterGradCompute(void* kernel, TF_OpKernelContext* ctx) {
  KernelCall call(ctx);
  TF_Tensor *x, *dy, *where;
  if (!call.Inputs({&x, &dy, &where})) return;
  const Pads& pads = *static_cast<Pads*>(kernel);
  ConvShape s;
  s.pads = pads;
  if (TF_NumDims(x) != 4 || TF_NumDims(dy) != 4 || TF_NumDims(where) != 4 || TF_Dim(dy, 0) != TF_Dim(x, 0) ||
      TF_TensorElementCount(where) != TF_TensorElementCount(dy) || TF_Dim(where, 3) != TF_Dim(dy, 3) || TF_Dim(dy, 1) < 1 ||
      TF_Dim(dy, 2) < 1 || 2 * TF_Dim(dy, 1) > TF_Dim(x, 1) + pads.top + pads.bottom ||
      2 * TF_Dim(dy, 2) > TF_Dim(x, 2) + pads.left + pads.right) {
    return call.Fail(std::string(kConvPoolFilterGrad) +
                     ": x must be [N, H, W, Cin], dy and where [N, PH, PW, Cout] with the pooled grid inside the padded image");
  }
  s.n = TF_Dim(x, 0);
  s.h = TF_Dim(x, 1);
  s.w = TF_Dim(x, 2);
  s.cin = TF_Dim(x, 3);
  s.hp = s.h + pads.top + pads.bottom;
  s.wp = s.w + pads.left + pads.right;
  s.ph = TF_Dim(dy, 1);
  s.pw = TF_Dim(dy, 2);
  s.cout = TF_Dim(dy, 3);
  s.kh = s.hp - 2 * s.ph + 1;
  s.kw = s.wp - 2 * s.pw + 1;
  const int64_t taps = s.kh * s.kw, terms = s.cout * taps * s.cin + s.cout;
  const int64_t filter_dims[4] = {s.kh, s.kw, s.cin, s.cout};
  float* gf = call.Output<float>(0, TF_FLOAT, filter_dims, 4, static_cast<size_t>(taps * s.cin * s.cout) * sizeof(float));
  float* gb = gf ? call.Output<float>(1, TF_FLOAT, &s.cout, 1, static_cast<size_t>(s.cout) * sizeof(float)) : nullptr;
  if (!gb) return;
  const int64_t chunks = (s.n + kImagesPerChunk - 1) / kImagesPerChunk;
  std::vector<float> partial(static_cast<size_t>(chunks * terms));
  const float* xp = Data(x);
  const float* dp = Data(dy);
  const int32_t* wp = static_cast<const int32_t*>(TF_TensorData(where));
  Parallel(chunks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t chunk = begin; chunk < end; ++chunk) ConvPoolFilterGradChunk(xp, dp, wp, partial.data() + chunk * terms, chunk, s);
  });
  // Chunks in order, in float64; from [cout][tap][cin] to the filter's [tap][cin][cout].
  std::vector<double> total(static_cast<size_t>(terms), 0.0);
  for (int64_t chunk = 0; chunk < chunks; ++chunk) {
    const float* p = partial.data() + chunk * terms;
    for (int64_t t = 0; t < terms; ++t) total[t] += p[t];
  }
  for (int64_t k = 0; k < s.cout; ++k) {
    for (int64_t t = 0; t < taps; ++t) {
      for (int64_t c = 0; c < s.cin; ++c) gf[(t * s.cin + c) * s.cout + k] = static_cast<float>(total[(k * taps + t) * s.cin + c]);
    }
    gb[k] = static_cast<float>(total[s.cout * taps * s.cin + k]);
  }
}

// One pooled output's gradient at a convolution output: v, for output channel k.
struct AtChannel {
  float v;
  int32_t k;
};

// Images [begin, end) of the input gradient of a stride-1 conv block from its
// pooled gradient: dx[ih, iw, :] = sum over taps (i, j) and the gradients
// routed to convolution output (ih + top - i, iw + left - j) of v * filter[i, j, :, k].
// rows: the filter as [kh][kw][cout][cin], so that a tap's input channels are contiguous
// and one tap's rows (cout x cin floats) stay in the first-level cache.
__attribute__((target_clones("avx2", "default")))
void ConvPoolInputGradImages(const float* __restrict dy, const int32_t* __restrict where, const float* __restrict rows,
                             float* __restrict dx, int64_t begin, int64_t end, const ConvShape& s) {
  const int64_t cin = s.cin, cout = s.cout, oh = 2 * s.ph, ow = 2 * s.pw;
  std::vector<std::vector<AtChannel>> routed(oh * ow);
  for (int64_t image = begin; image < end; ++image) {
    for (std::vector<AtChannel>& list : routed) list.clear();
    ForEachRouted(dy, where, image, s.ph, s.pw, cout, [&](int64_t k, float v, int64_t row, int64_t column) {
      if (v != 0.0f) routed[row * ow + column].push_back({v, static_cast<int32_t>(k)});  // a zero adds nothing (a NaN does)
    });
    for (int64_t ih = 0; ih < s.h; ++ih) {
      for (int64_t iw = 0; iw < s.w; ++iw) {
        // fn(tap rows, gradients routed there) for each tap whose convolution output exists.
        const auto for_each_tap = [&](auto fn) {
          for (int64_t i = 0; i < s.kh; ++i) {
            const int64_t r = ih + s.pads.top - i;
            if (r < 0 || r >= oh) continue;
            for (int64_t j = 0; j < s.kw; ++j) {
              const int64_t q = iw + s.pads.left - j;
              if (q >= 0 && q < ow) fn(rows + (i * s.kw + j) * cout * cin, routed[r * ow + q]);
            }
          }
        };
        float* out = dx + ((image * s.h + ih) * s.w + iw) * cin;
        const int64_t step = cin % 32 == 0 ? 32 : cin % 8 == 0 ? 8 : 1;
        for (int64_t c0 = 0; c0 < cin; c0 += step) {
          if (step == 32) {
            V8 a0 = {}, a1 = {}, a2 = {}, a3 = {};
            for_each_tap([&](const float* tap, const std::vector<AtChannel>& list) {
              for (const AtChannel& e : list) {
                const float* p = tap + e.k * cin + c0;
                a0 += e.v * Load8<V8>(p);
                a1 += e.v * Load8<V8>(p + 8);
                a2 += e.v * Load8<V8>(p + 16);
                a3 += e.v * Load8<V8>(p + 24);
              }
            });
            Store8(out + c0, a0);
            Store8(out + c0 + 8, a1);
            Store8(out + c0 + 16, a2);
            Store8(out + c0 + 24, a3);
          } else if (step == 8) {
            V8 a = {};
            for_each_tap([&](const float* tap, const std::vector<AtChannel>& list) {
              for (const AtChannel& e : list) a += e.v * Load8<V8>(tap + e.k * cin + c0);
            });
            Store8(out + c0, a);
          } else {
            float a = 0.0f;
            for_each_tap([&](const float* tap, const std::vector<AtChannel>& list) {
              for (const AtChannel& e : list) a += e.v * tap[e.k * cin + c0];
            });
            out[c0] = a;
          }
        }
      }
    }
  }
}

void ConvPoolInputGradCompute(void* kernel, TF_OpKernelContext* ctx) {
  KernelCall call(ctx);
  TF_Tensor *dy, *where, *filter;
  if (!call.Inputs({&dy, &where, &filter})) return;
  const Pads& pads = *static_cast<Pads*>(kernel);
  ConvShape s;
  s.pads = pads;
  if (TF_NumDims(dy) != 4 || TF_NumDims(where) != 4 || TF_TensorElementCount(where) != TF_TensorElementCount(dy) ||
      TF_Dim(where, 3) != TF_Dim(dy, 3) || TF_NumDims(filter) != 4 || TF_Dim(filter, 3) != TF_Dim(dy, 3) ||
      2 * TF_Dim(dy, 1) + TF_Dim(filter, 0) - 1 - pads.top - pads.bottom < 1 ||
      2 * TF_Dim(dy, 2) + TF_Dim(filter, 1) - 1 - pads.left - pads.right < 1) {
    return call.Fail(std::string(kConvPoolInputGrad) +
                     ": dy and where must be [N, PH, PW, Cout], filter [KH, KW, Cin, Cout], for a non-empty input");
  }
  s.n = TF_Dim(dy, 0);
  s.ph = TF_Dim(dy, 1);
  s.pw = TF_Dim(dy, 2);
  s.cout = TF_Dim(dy, 3);
  s.kh = TF_Dim(filter, 0);
  s.kw = TF_Dim(filter, 1);
  s.cin = TF_Dim(filter, 2);
  s.h = 2 * s.ph + s.kh - 1 - pads.top - pads.bottom;
  s.w = 2 * s.pw + s.kw - 1 - pads.left - pads.right;
  const int64_t dims[4] = {s.n, s.h, s.w, s.cin};
  float* dxp = call.Output<float>(0, TF_FLOAT, dims, 4, static_cast<size_t>(s.n * s.h * s.w * s.cin) * sizeof(float));
  if (!dxp) return;
  const int64_t taps = s.kh * s.kw;
  std::vector<float> rows(static_cast<size_t>(s.cout * taps * s.cin));
  const float* fp = Data(filter);
  for (int64_t t = 0; t < taps; ++t) {
    for (int64_t c = 0; c < s.cin; ++c) {
      for (int64_t k = 0; k < s.cout; ++k) rows[(t * s.cout + k) * s.cin + c] = fp[(t * s.cin + c) * s.cout + k];
    }
  }
  const float* dp = Data(dy);
  const int32_t* wp = static_cast<const int32_t*>(TF_TensorData(where));
  Parallel(s.n, 1, [&](int64_t begin, int64_t end) { ConvPoolInputGradImages(dp, wp, rows.data(), dxp, begin, end, s); });
}

}  // namespace winnow_tf_ops
