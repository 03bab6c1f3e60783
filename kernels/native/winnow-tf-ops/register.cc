// The addon's entry point: registers winnow's ops and CPU kernels into the
// process-wide TensorFlow registries when Node loads it (tfjs-node then calls
// them by name through executeOp) and exports the op names. Built against the
// same libtensorflow as tfjs-node's addon (infra/build-tf-ops.sh).
#include <node_api.h>

#include "conv_block.h"

namespace winnow_tf_ops {

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

namespace {

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
    if (TF_GetCode(status) == TF_OK) RegisterOp(kBiasAddRelu, {"x: float", "bias: float"}, &SameShapeAsFirstInput, &BiasAddReluCompute, status);
    if (TF_GetCode(status) == TF_OK) RegisterOp(kBiasAdd, {"x: float", "bias: float"}, &SameShapeAsFirstInput, &BiasAddCompute, status);
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

}  // namespace winnow_tf_ops

NAPI_MODULE(NODE_GYP_MODULE_NAME, winnow_tf_ops::Init)
