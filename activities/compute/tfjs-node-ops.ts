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

export function stringAttr(backend: NodeBackendAccess, name: string, value: string): OpAttr {
  return { name, type: backend.binding.TF_ATTR_STRING, value };
}
