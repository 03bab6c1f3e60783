// WinnowMomentumUpdate and WinnowAdamUpdate: one variable's optimizer step in
// one op, in tfjs's arithmetic order (built with -ffp-contract=off, so bit for
// bit). docs/kernels.md, "Native TensorFlow ops".
#include "kernel_support.h"

namespace winnow_tf_ops {

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

}  // namespace winnow_tf_ops
