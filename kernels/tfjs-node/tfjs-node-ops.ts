/**
 * Direct access to TensorFlow eager ops through tfjs-node's backend
 * (NodeJSKernelBackend.executeSingleOutput), for kernels that tfjs-node builds
 * from several ops where one TensorFlow op does the job.
 */
import type * as TF from '@tensorflow/tfjs';

export interface OpAttr {
  name: string;
  type: number;
  value: unknown;
}

/** The parts of tfjs-node's NodeJSKernelBackend used by winnow's kernels. */
export interface NodeBackendAccess {
  binding: {
    TF_ATTR_TYPE: number;
    TF_ATTR_BOOL: number;
    TF_ATTR_STRING: number;
    TF_ATTR_INT: number;
    TF_FLOAT: number;
    TF_BOOL: number;
  };
  executeSingleOutput(name: string, attrs: OpAttr[], inputs: TF.TensorInfo[]): TF.Tensor;
  executeMultipleOutputs(name: string, attrs: OpAttr[], inputs: TF.TensorInfo[], numOutputs: number): TF.Tensor[];
}

export function nodeBackend(backend: unknown): NodeBackendAccess {
  return backend as unknown as NodeBackendAccess;
}

/** The `T: float` attribute most element-wise ops take. */
export function floatType(backend: NodeBackendAccess, name = 'T'): OpAttr {
  return { name, type: backend.binding.TF_ATTR_TYPE, value: backend.binding.TF_FLOAT };
}

export function intAttr(backend: NodeBackendAccess, name: string, value: number): OpAttr {
  return { name, type: backend.binding.TF_ATTR_INT, value };
}

export function stringAttr(backend: NodeBackendAccess, name: string, value: string): OpAttr {
  return { name, type: backend.binding.TF_ATTR_STRING, value };
}

/** TensorFlow's BiasAddGrad: the sum over every axis but the last (a bias gradient), in one op. */
export function biasAddGrad(backend: NodeBackendAccess, dx: TF.TensorInfo): TF.Tensor {
  return backend.executeSingleOutput(
    'BiasAddGrad',
    [floatType(backend), stringAttr(backend, 'data_format', 'NHWC')],
    [dx],
  );
}

/** TensorFlow's ReluGrad: dy where x > 0, else 0 (NaN x gives 0). */
export function reluGrad(backend: NodeBackendAccess, dy: TF.TensorInfo, x: TF.TensorInfo): TF.Tensor {
  return backend.executeSingleOutput('ReluGrad', [floatType(backend)], [dy, x]);
}
