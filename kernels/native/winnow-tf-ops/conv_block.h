// What the conv-block ops share: their padding attrs, their sizes, the padded
// copy of one image and 8-wide float/int vectors. docs/kernels.md, "Native
// TensorFlow ops", says what the ops compute.
#pragma once

#include "kernel_support.h"

namespace winnow_tf_ops {

// Zero padding of the conv-block ops' convolution, from the kernel's attrs.
struct Pads {
  int64_t top = 0, bottom = 0, left = 0, right = 0;
};

// Per-kernel state of the conv-block ops: their pads, read from the attrs (register.cc).
void* PadsCreate(TF_OpKernelConstruction* ctx);
void PadsDelete(void* pads);

// Sizes of a conv block: images n x h x w x cin, padded hp x wp, filter
// kh x kw x cin x cout, pooled output ph x pw (the convolution's output is 2ph x 2pw).
struct ConvShape {
  int64_t n = 0, h = 0, w = 0, cin = 0, hp = 0, wp = 0, kh = 0, kw = 0, cout = 0, ph = 0, pw = 0;
  Pads pads;
};

inline // Image `image` of x, zero-padded, into pad (hp * wp * cin floats).
void PadImage(const float* __restrict x, float* __restrict pad, int64_t image, const ConvShape& s) {
  std::fill(pad, pad + s.hp * s.wp * s.cin, 0.0f);
  const int64_t row = s.w * s.cin;
  const float* src = x + image * s.h * row;
  for (int64_t r = 0; r < s.h; ++r) std::copy(src + r * row, src + (r + 1) * row, pad + ((r + s.pads.top) * s.wp + s.pads.left) * s.cin);
}

// Eight floats or int32s, as GCC vector extensions: AVX registers in the avx2
// clones, SSE pairs in the default ones.
using V8 = float __attribute__((vector_size(32)));
using V8i = int32_t __attribute__((vector_size(32)));

template <typename V, typename T>
__attribute__((always_inline)) inline V Load8(const T* p) {
  V v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

template <typename V, typename T>
__attribute__((always_inline)) inline void Store8(T* p, V v) {
  std::memcpy(p, &v, sizeof v);
}

}  // namespace winnow_tf_ops
