/**
 * What winnow's wasm kernels share: their argument types, and the parts of the
 * wasm backend they reach below the engine (tensor offsets and scratch on its
 * heap). docs/kernels.md, "wasm backend kernels", explains the layout.
 */
import type * as TF from '@tensorflow/tfjs';

export type Tf = typeof TF;
export type Info = TF.TensorInfo;
export type Attrs = Record<string, unknown>;
export type Pair = [number, number];

export type KernelArgs = { inputs: TF.NamedTensorInfoMap; backend: TF.KernelBackend; attrs?: TF.NamedAttrMap };

/** The parts of the wasm backend's class that a kernel writing its own output needs. */
export interface WasmHeapAccess {
  makeOutput(shape: number[], dtype: 'float32' | 'int32'): Info;
  typedArrayFromHeap(info: Info): Float32Array | Int32Array;
}

export function floats(heap: WasmHeapAccess, info: Info): Float32Array {
  return heap.typedArrayFromHeap(info) as Float32Array;
}

/** The wasm backend's internals the SIMD kernel needs: its memory (emscripten's asm.memory), allocator and tensor offsets. */
export interface WasmBackendInternals {
  wasm?: { asm?: { memory?: { buffer: ArrayBuffer } }; _malloc(bytes: number): number; _free(pointer: number): void };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
}

/** A tensor's byte offset in the backend's heap. */
export function heapOffset(backend: TF.KernelBackend, info: Info): number {
  const entry = (backend as unknown as WasmBackendInternals).dataIdMap.get(info.dataId);
  if (!entry) throw new Error('wasm pool kernel: a tensor has no data on the wasm backend');
  return entry.memoryOffset;
}

/**
 * body(base, buffer) with `bytes` of scratch at byte offset `base` of the
 * backend's heap (8-byte aligned, freed after); buffer() is the heap's
 * current ArrayBuffer (an allocation may grow the heap and replace it).
 */
export function withHeapScratch<T>(
  backend: TF.KernelBackend,
  bytes: number,
  body: (base: number, buffer: () => ArrayBuffer) => T,
): T {
  const wasm = (backend as unknown as WasmBackendInternals).wasm!;
  // Unsigned: above 2 GiB of heap malloc's i32 result reads as negative. 0: out of memory.
  const base = wasm._malloc(Math.max(bytes, 8)) >>> 0;
  if (base === 0) throw new Error(`wasm kernels: could not allocate ${bytes} bytes of scratch on the backend's heap`);
  try {
    return body(base, () => wasm.asm!.memory!.buffer);
  } finally {
    wasm._free(base);
  }
}
