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
//
// WinnowMaxPool2x2(x) -> y: the 2x2, stride-2 max pool itself, as TensorFlow's
// CPU MaxPool computes it (start from the lowest float, take an element when
// strictly greater, row-major; so NaN is skipped and -0/0 ties keep the first).
//
// WinnowBiasAddRelu(x, bias) -> y: relu(x + bias) over the last axis in one
// pass, as Add then Relu give it (NaN stays NaN, -0 becomes 0); inference
// runs tfjs-node's FusedConv2D as Conv2D, Add and Relu, two full passes.
//
// WinnowBiasAdd(x, bias) -> x + bias over the last axis: TensorFlow's
// broadcasting Add takes ~2x a memory pass there (training's conv bias).
//
// WinnowBiasReluPool(x, bias) -> (y, where): a conv block's tail in training,
// maxpool2x2(relu(x + bias)) as WinnowBiasAdd, Relu and WinnowMaxPool2x2 give
// it, in one pass; `where` (int32, y's shape) records the window slot the
// pool's gradient goes to (0-3, row-major, picked as WinnowMaxPool2x2Grad
// picks it) plus 4 when that slot's x + bias is not > 0 (relu's gradient 0).
// WinnowBiasReluPoolGrad(dy, where) -> dx ([N, 2H, 2W, C] for dy [N, H, W, C]): MaxPoolGrad
// then ReluGrad in one pass, reading a quarter-size tensor instead of three
// full ones; ReluGrad multiplies by its 0/1 mask, so a masked gradient is
// dy * 0 (-0 for negative dy), kept here bit for bit.
//
// WinnowConvIn1BiasReluPool(x, filter, bias) -> (y, where): a first conv
// block on grey images, maxpool2x2(relu(conv(x, filter) + bias)), for
// single-channel NHWC x, stride 1, explicit zero padding (attrs pad_top,
// pad_bottom, pad_left, pad_right), in one pass that never writes the
// convolution's output (4x the size of y); `where` as WinnowBiasReluPool's.
// WinnowConvIn1BiasReluPoolGrad(x, dy, where) -> (dfilter, dbias): the block's
// filter and bias gradients straight from the pooled gradient: each pooled
// output sends its gradient to one convolution output, so only a quarter of
// the terms of Conv2DBackpropFilter can be non-zero, and only those are summed.
// TensorFlow ran these shapes (128x28x28 images, 32 3x3 filters) as Conv2D,
// WinnowBiasReluPool, WinnowBiasReluPoolGrad, BiasAddGrad and
// Conv2DBackpropFilter over full-size tensors. Not bit for bit those ops: the
// convolution sums its taps in another order. The gradients sum each image in
// float32 and the images in float64 in a fixed order, so they do not depend on
// the thread count.
//
// WinnowConvPoolFilterGrad(x, dy, where) -> (dfilter, dbias) and
// WinnowConvPoolInputGrad(dy, where, filter) -> dx: the gradients of any
// stride-1 conv block (Conv2D, then WinnowBiasReluPool) from its pooled
// gradient and `where`, summing only the routed quarter of the terms of
// Conv2DBackpropFilter, BiasAddGrad and Conv2DBackpropInput (same pads attrs;
// the same summation notes as above).
//
// WinnowMomentumUpdate and WinnowAdamUpdate: one variable's optimizer step in
// one op, with tfjs's MomentumOptimizer and AdamOptimizer arithmetic in the
// same order (built with -ffp-contract=off, so bit for bit): tfjs runs 4 and
// 13 ops per variable, each ~50 us of fixed cost on tfjs-node.
#include <node_api.h>

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <limits>
#include <utility>
#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "tensorflow/c/kernels.h"
#include "tensorflow/c/ops.h"
#include "tensorflow/c/tf_status.h"
#include "tensorflow/c/tf_tensor.h"

namespace {

constexpr const char* kMaxPoolGrad = "WinnowMaxPool2x2Grad";
constexpr const char* kMaxPool = "WinnowMaxPool2x2";
constexpr const char* kBiasAddRelu = "WinnowBiasAddRelu";
constexpr const char* kBiasAdd = "WinnowBiasAdd";
constexpr const char* kMomentum = "WinnowMomentumUpdate";
constexpr const char* kBiasReluPool = "WinnowBiasReluPool";
constexpr const char* kBiasReluPoolGrad = "WinnowBiasReluPoolGrad";
constexpr const char* kAdam = "WinnowAdamUpdate";
constexpr const char* kConvIn1Pool = "WinnowConvIn1BiasReluPool";
constexpr const char* kConvIn1PoolGrad = "WinnowConvIn1BiasReluPoolGrad";
constexpr const char* kConvPoolFilterGrad = "WinnowConvPoolFilterGrad";
constexpr const char* kConvPoolInputGrad = "WinnowConvPoolInputGrad";

// Runs fn(begin, end) over [0, n) on up to 4 threads, each with at least `grain` items.
template <typename Fn>
void Parallel(int64_t n, int64_t grain, Fn fn) {
  const int64_t hw = std::max<int64_t>(1, std::thread::hardware_concurrency());
  const int64_t threads = std::max<int64_t>(1, std::min<int64_t>({hw, 4, n / std::max<int64_t>(1, grain)}));
  std::vector<std::thread> pool;
  for (int64_t t = 1; t < threads; ++t) pool.emplace_back(fn, n * t / threads, n * (t + 1) / threads);
  fn(0, n / threads);
  for (std::thread& th : pool) th.join();
}

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

// One kernel invocation: its status and every tensor it takes or allocates,
// released when it goes out of scope. Input and Output report a failure to
// TensorFlow themselves and then return nullptr, so a kernel just returns.
class KernelCall {
 public:
  explicit KernelCall(TF_OpKernelContext* ctx) : ctx_(ctx), status_(TF_NewStatus()) {}
  KernelCall(const KernelCall&) = delete;
  KernelCall& operator=(const KernelCall&) = delete;
  ~KernelCall() {
    for (TF_Tensor* t : tensors_) TF_DeleteTensor(t);
    TF_DeleteStatus(status_);
  }

  TF_Tensor* Input(int i) {
    TF_Tensor* t = nullptr;
    TF_GetInput(ctx_, i, &t, status_);
    return Keep(t);
  }

  // Inputs 0, 1, ... into the given pointers; false (failure reported) when one is missing.
  bool Inputs(std::initializer_list<TF_Tensor**> into) {
    int i = 0;
    for (TF_Tensor** t : into) {
      if (!(*t = Input(i++))) return false;
    }
    return true;
  }

  // Output i of the given type and dims; its data, or nullptr.
  template <typename T>
  T* Output(int i, TF_DataType type, const int64_t* dims, int rank, size_t bytes) {
    TF_Tensor* t = Keep(TF_AllocateOutput(ctx_, i, type, dims, rank, bytes, status_));
    return t ? static_cast<T*>(TF_TensorData(t)) : nullptr;
  }

  // Output i with `like`'s shape, float.
  float* OutputLike(int i, TF_Tensor* like) {
    const int rank = TF_NumDims(like);
    std::vector<int64_t> dims(rank);
    for (int d = 0; d < rank; ++d) dims[d] = TF_Dim(like, d);
    return Output<float>(i, TF_FLOAT, dims.data(), rank, TF_TensorByteSize(like));
  }

  void Fail(const std::string& message) {
    TF_SetStatus(status_, TF_INVALID_ARGUMENT, message.c_str());
    TF_OpKernelContext_Failure(ctx_, status_);
  }

 private:
  TF_Tensor* Keep(TF_Tensor* t) {
    if (t) tensors_.push_back(t);
    if (TF_GetCode(status_) == TF_OK) return t;
    TF_OpKernelContext_Failure(ctx_, status_);
    return nullptr;
  }

  TF_OpKernelContext* ctx_;
  TF_Status* status_;
  std::vector<TF_Tensor*> tensors_;
};

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

// Relu as TensorFlow's: NaN stays NaN, -0 and negatives become +0.
inline float Relu(float s) { return (s > 0.0f || s != s) ? s : 0.0f; }

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
void BiasAddCompute(void*, TF_OpKernelContext* ctx) {
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

// One pooled output of relu(sa..sq) (a 2x2 window of pre-activations, row-major)
// as Relu then MaxPoolRows give it, and its gradient code: the slot
// MaxPoolGradRows picks, plus 4 when that slot's pre-activation is not > 0.
__attribute__((always_inline)) inline void PoolSlot(float sa, float sb, float sp, float sq, float& out, int32_t& where) {
  const float a = Relu(sa), b = Relu(sb), p = Relu(sp), q = Relu(sq);
  // The pooled value as MaxPool: from the lowest float, strictly greater wins.
  float m = std::numeric_limits<float>::lowest();
  m = a > m ? a : m;
  m = b > m ? b : m;
  m = p > m ? p : m;
  m = q > m ? q : m;
  out = m;
  // The gradient's slot as MaxPoolGrad: from a, strictly greater wins.
  const int32_t to_b = a < b;
  const float m1 = to_b ? b : a;
  const int32_t to_p = m1 < p;
  const float m2 = to_p ? p : m1;
  const int32_t to_q = m2 < q;
  const int32_t slot = to_q ? 3 : (to_p ? 2 : to_b);
  const float s = slot == 0 ? sa : slot == 1 ? sb : slot == 2 ? sp : sq;
  where = slot | (s > 0.0f ? 0 : 4);
}

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

// Reads inputs [0, n) into `in`; the first `full` must have the same element count, the rest be scalars.
bool ReadInputs(KernelCall& call, const char* op, int n, int full, std::vector<TF_Tensor*>& in) {
  in.assign(n, nullptr);
  for (int i = 0; i < n; ++i) {
    if (!(in[i] = call.Input(i))) return false;
  }
  for (int i = 0; i < n; ++i) {
    const int64_t count = TF_TensorElementCount(in[i]);
    if ((i < full && count != TF_TensorElementCount(in[0])) || (i >= full && count != 1)) {
      call.Fail(std::string(op) + ": the first inputs must have one shape, the others be scalars");
      return false;
    }
  }
  return true;
}

const float* Data(TF_Tensor* t) { return static_cast<const float*>(TF_TensorData(t)); }

// Zero padding of the conv-block ops' convolution, from the kernel's attrs.
struct Pads {
  int64_t top = 0, bottom = 0, left = 0, right = 0;
};

void* PadsCreate(TF_OpKernelConstruction* ctx) {
  auto* pads = new Pads;
  TF_Status* status = TF_NewStatus();
  const std::pair<const char*, int64_t*> attrs[] = {
      {"pad_top", &pads->top}, {"pad_bottom", &pads->bottom}, {"pad_left", &pads->left}, {"pad_right", &pads->right}};
  for (const auto& [name, value] : attrs) {
    if (TF_GetCode(status) == TF_OK) TF_OpKernelConstruction_GetAttrInt64(ctx, name, value, status);
  }
  // Bounded so that padded sizes and offsets cannot overflow (a convolution pads by less than its filter anyway).
  constexpr int64_t kMaxPad = 1 << 16;
  const auto in_range = [](int64_t p) { return p >= 0 && p < kMaxPad; };
  if (TF_GetCode(status) == TF_OK && !(in_range(pads->top) && in_range(pads->bottom) && in_range(pads->left) && in_range(pads->right))) {
    TF_SetStatus(status, TF_INVALID_ARGUMENT, "winnow convolution ops: paddings must be in [0, 65536)");
  }
  if (TF_GetCode(status) != TF_OK) TF_OpKernelConstruction_Failure(ctx, status);
  TF_DeleteStatus(status);
  return pads;
}

void PadsDelete(void* pads) { delete static_cast<Pads*>(pads); }

// Sizes of a conv block: images n x h x w x cin, padded hp x wp, filter
// kh x kw x cin x cout, pooled output ph x pw (the convolution's output is 2ph x 2pw).
struct ConvShape {
  int64_t n = 0, h = 0, w = 0, cin = 0, hp = 0, wp = 0, kh = 0, kw = 0, cout = 0, ph = 0, pw = 0;
  Pads pads;
};

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

// Image `image` of x, zero-padded, into pad (hp * wp * cin floats).
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

// (value, accumulation, gradient, m, c) -> (value + c * (m * accumulation + gradient), m * accumulation + gradient)
void MomentumCompute(void*, TF_OpKernelContext* ctx) {
  KernelCall call(ctx);
  std::vector<TF_Tensor*> in;
  if (!ReadInputs(call, kMomentum, 5, 3, in)) return;
  float* value = call.OutputLike(0, in[0]);
  float* accumulation = value ? call.OutputLike(1, in[0]) : nullptr;
  if (!accumulation) return;
  const float *v = Data(in[0]), *a = Data(in[1]), *g = Data(in[2]);
  const float m = *Data(in[3]), c = *Data(in[4]);
  const int64_t n = TF_TensorElementCount(in[0]);
  for (int64_t i = 0; i < n; ++i) {
    const float next = m * a[i] + g[i];
    accumulation[i] = next;
    value[i] = c * next + v[i];
  }
}

// (value, m, v, gradient, beta1, 1 - beta1, beta2, 1 - beta2, 1 - beta1^t, 1 - beta2^t, epsilon, -lr) -> (value, m, v)
void AdamCompute(void*, TF_OpKernelContext* ctx) {
  KernelCall call(ctx);
  std::vector<TF_Tensor*> in;
  if (!ReadInputs(call, kAdam, 12, 4, in)) return;
  float* value = call.OutputLike(0, in[0]);
  float* first = value ? call.OutputLike(1, in[0]) : nullptr;
  float* second = first ? call.OutputLike(2, in[0]) : nullptr;
  if (!second) return;
  const float *x = Data(in[0]), *m = Data(in[1]), *v = Data(in[2]), *g = Data(in[3]);
  const float beta1 = *Data(in[4]), one_minus_beta1 = *Data(in[5]), beta2 = *Data(in[6]), one_minus_beta2 = *Data(in[7]);
  const float correction1 = *Data(in[8]), correction2 = *Data(in[9]), epsilon = *Data(in[10]), neg_lr = *Data(in[11]);
  const int64_t n = TF_TensorElementCount(in[0]);
  for (int64_t i = 0; i < n; ++i) {
    const float next_m = m[i] * beta1 + g[i] * one_minus_beta1;
    const float next_v = v[i] * beta2 + (g[i] * g[i]) * one_minus_beta2;
    first[i] = next_m;
    second[i] = next_v;
    const float corrected_m = next_m / correction1;
    const float corrected_v = next_v / correction2;
    value[i] = (corrected_m / (std::sqrt(corrected_v) + epsilon)) * neg_lr + x[i];
  }
}

// A kernel's attrs and the functions that make and free its per-kernel state from them.
struct KernelState {
  std::initializer_list<const char*> attrs;
  void* (*create)(TF_OpKernelConstruction*) = nullptr;
  void (*destroy)(void*) = nullptr;
};

// Registers op `name` with float inputs and float outputs, and its CPU kernel.
void RegisterOp(const char* name, std::initializer_list<const char*> inputs, void (*shape_fn)(TF_ShapeInferenceContext*, TF_Status*),
                void (*compute)(void*, TF_OpKernelContext*), TF_Status* status,
                std::initializer_list<const char*> outputs = {"y: float"}, const KernelState& state = {}) {
  TF_OpDefinitionBuilder* op = TF_NewOpDefinitionBuilder(name);
  for (const char* input : inputs) TF_OpDefinitionBuilderAddInput(op, input);
  for (const char* output : outputs) TF_OpDefinitionBuilderAddOutput(op, output);
  for (const char* attr : state.attrs) TF_OpDefinitionBuilderAddAttr(op, attr);
  if (shape_fn) TF_OpDefinitionBuilderSetShapeInferenceFunction(op, shape_fn);
  TF_RegisterOpDefinition(op, status);
  if (TF_GetCode(status) != TF_OK) return;
  TF_KernelBuilder* kernel = TF_NewKernelBuilder(name, "CPU", state.create, compute, state.destroy);
  TF_RegisterKernelBuilder(name, kernel, status);
}

// Registers the ops and kernels once per process; returns an empty string or the error.
std::string Register() {
  static std::string result = [] {
    TF_Status* status = TF_NewStatus();
    RegisterOp(kMaxPoolGrad, {"x: float", "dy: float"}, &SameShapeAsFirstInput, &MaxPoolGradCompute, status);
    if (TF_GetCode(status) == TF_OK) RegisterOp(kMaxPool, {"x: float"}, nullptr, &MaxPoolCompute, status);
    if (TF_GetCode(status) == TF_OK) RegisterOp(kBiasAddRelu, {"x: float", "bias: float"}, &SameShapeAsFirstInput, &BiasAddCompute<true>, status);
    if (TF_GetCode(status) == TF_OK) RegisterOp(kBiasAdd, {"x: float", "bias: float"}, &SameShapeAsFirstInput, &BiasAddCompute<false>, status);
    if (TF_GetCode(status) == TF_OK) {
      RegisterOp(kMomentum, {"value: float", "accumulation: float", "gradient: float", "m: float", "c: float"}, nullptr, &MomentumCompute,
                 status, {"new_value: float", "new_accumulation: float"});
    }
    if (TF_GetCode(status) == TF_OK) {
      RegisterOp(kAdam,
                 {"value: float", "m: float", "v: float", "gradient: float", "beta1: float", "one_minus_beta1: float", "beta2: float",
                  "one_minus_beta2: float", "one_minus_acc_beta1: float", "one_minus_acc_beta2: float", "epsilon: float", "neg_lr: float"},
                 nullptr, &AdamCompute, status, {"new_value: float", "new_m: float", "new_v: float"});
    }
    if (TF_GetCode(status) == TF_OK) {
      RegisterOp(kBiasReluPool, {"x: float", "bias: float"}, nullptr, &BiasReluPoolCompute, status, {"y: float", "where: int32"});
    }
    if (TF_GetCode(status) == TF_OK) {
      RegisterOp(kBiasReluPoolGrad, {"dy: float", "where: int32"}, nullptr, &BiasReluPoolGradCompute, status);
    }
    const KernelState padded{{"pad_top: int", "pad_bottom: int", "pad_left: int", "pad_right: int"}, &PadsCreate, &PadsDelete};
    if (TF_GetCode(status) == TF_OK) {
      RegisterOp(kConvIn1Pool, {"x: float", "filter: float", "bias: float"}, nullptr, &ConvIn1PoolCompute, status,
                 {"y: float", "where: int32"}, padded);
    }
    if (TF_GetCode(status) == TF_OK) {
      RegisterOp(kConvIn1PoolGrad, {"x: float", "dy: float", "where: int32"}, nullptr, &ConvIn1PoolGradCompute, status,
                 {"dfilter: float", "dbias: float"}, padded);
    }
    if (TF_GetCode(status) == TF_OK) {
      RegisterOp(kConvPoolFilterGrad, {"x: float", "dy: float", "where: int32"}, nullptr, &ConvPoolFilterGradCompute, status,
                 {"dfilter: float", "dbias: float"}, padded);
    }
    if (TF_GetCode(status) == TF_OK) {
      RegisterOp(kConvPoolInputGrad, {"dy: float", "where: int32", "filter: float"}, nullptr, &ConvPoolInputGradCompute, status,
                 {"dx: float"}, padded);
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
  const std::pair<const char*, const char*> names[] = {
      {"maxPool2x2Grad", kMaxPoolGrad}, {"maxPool2x2", kMaxPool}, {"biasAddRelu", kBiasAddRelu},
      {"biasAdd", kBiasAdd},
      {"momentumUpdate", kMomentum},    {"adamUpdate", kAdam},
      {"biasReluPool", kBiasReluPool},  {"biasReluPoolGrad", kBiasReluPoolGrad},
      {"convIn1BiasReluPool", kConvIn1Pool}, {"convIn1BiasReluPoolGrad", kConvIn1PoolGrad},
      {"convPoolFilterGrad", kConvPoolFilterGrad}, {"convPoolInputGrad", kConvPoolInputGrad}};
  for (const auto& [key, op] : names) {
    napi_value value;
    napi_create_string_utf8(env, op, NAPI_AUTO_LENGTH, &value);
    napi_set_named_property(env, exports, key, value);
  }
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
