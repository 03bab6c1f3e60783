// Shared by every winnow TensorFlow op: the op names, a small thread pool, the
// per-invocation tensor bookkeeping, relu and the 2x2 pool's slot rule, and the
// compute functions that register.cc registers. What each op computes and why:
// docs/kernels.md, "Native TensorFlow ops".
#pragma once

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

namespace winnow_tf_ops {

inline constexpr const char* kMaxPoolGrad = "WinnowMaxPool2x2Grad";
inline constexpr const char* kMaxPool = "WinnowMaxPool2x2";
inline constexpr const char* kBiasAddRelu = "WinnowBiasAddRelu";
inline constexpr const char* kBiasAdd = "WinnowBiasAdd";
inline constexpr const char* kMomentum = "WinnowMomentumUpdate";
inline constexpr const char* kBiasReluPool = "WinnowBiasReluPool";
inline constexpr const char* kBiasReluPoolGrad = "WinnowBiasReluPoolGrad";
inline constexpr const char* kAdam = "WinnowAdamUpdate";
inline constexpr const char* kConvIn1Pool = "WinnowConvIn1BiasReluPool";
inline constexpr const char* kConvIn1PoolGrad = "WinnowConvIn1BiasReluPoolGrad";
inline constexpr const char* kConvPoolFilterGrad = "WinnowConvPoolFilterGrad";
inline constexpr const char* kConvPoolInputGrad = "WinnowConvPoolInputGrad";

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

inline void SameShapeAsFirstInput(TF_ShapeInferenceContext* ctx, TF_Status* status) {
  TF_ShapeHandle* shape = TF_NewShapeHandle();
  TF_ShapeInferenceContextGetInput(ctx, 0, shape, status);
  if (TF_GetCode(status) == TF_OK) TF_ShapeInferenceContextSetOutput(ctx, 0, shape, status);
  TF_DeleteShapeHandle(shape);
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

// Relu as TensorFlow's: NaN stays NaN, -0 and negatives become +0.
inline float Relu(float s) { return (s > 0.0f || s != s) ? s : 0.0f; }

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

inline const float* Data(TF_Tensor* t) { return static_cast<const float*>(TF_TensorData(t)); }

// The kernels' compute functions, one per op (defined in the *_ops.cc files).
void MaxPoolGradCompute(void*, TF_OpKernelContext* ctx);
void MaxPoolCompute(void*, TF_OpKernelContext* ctx);
void BiasAddReluCompute(void*, TF_OpKernelContext* ctx);
void BiasAddCompute(void*, TF_OpKernelContext* ctx);
void BiasReluPoolCompute(void*, TF_OpKernelContext* ctx);
void BiasReluPoolGradCompute(void*, TF_OpKernelContext* ctx);
void ConvIn1PoolCompute(void* kernel, TF_OpKernelContext* ctx);
void ConvIn1PoolGradCompute(void* kernel, TF_OpKernelContext* ctx);
void ConvPoolFilterGradCompute(void* kernel, TF_OpKernelContext* ctx);
void ConvPoolInputGradCompute(void* kernel, TF_OpKernelContext* ctx);
void MomentumCompute(void*, TF_OpKernelContext* ctx);
void AdamCompute(void*, TF_OpKernelContext* ctx);

}  // namespace winnow_tf_ops
