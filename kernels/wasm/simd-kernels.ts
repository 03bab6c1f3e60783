/**
 * simd-kernels.wat (compiled into kernels/generated/simd-kernels-wasm.ts)
 * instantiated on the wasm backend's own memory, so that its loops read and write
 * tensors in place. Where that memory cannot be reached the kernels' JS loops
 * run instead: the same results, slower.
 */
import type * as TF from '@tensorflow/tfjs';
import { SIMD_KERNELS_WASM_BASE64 } from '../generated/simd-kernels-wasm';
import { type WasmBackendInternals } from './wasm-heap';

// tsconfig has no "dom" lib: the part of the WebAssembly API used here.
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (
    module: object,
    imports: Record<string, Record<string, unknown>>,
  ) => { exports: Record<string, unknown> };
}

declare const WebAssembly: WasmApi | undefined;

/** simd-kernels.wat's exports; pointers are byte offsets in the backend's heap. */
export interface SimdKernels {
  bias_relu_pool(x: number, bias: number, y: number, code: number, rows: number, outW: number, channels: number): void;
  bias_relu_pool_grad(
    dy: number,
    code: number,
    dx: number,
    totals: number,
    rows: number,
    outW: number,
    channels: number,
  ): void;
  round_totals(totals: number, out: number, channels: number): void;
  filter_grad_c1(
    xp: number,
    dy: number,
    out: number,
    batch: number,
    outH: number,
    outW: number,
    kh: number,
    kw: number,
    cout: number,
  ): void;
  route_image(
    dy: number,
    code: number,
    ph: number,
    pw: number,
    cout: number,
    lists: number,
    counts: number,
    listsN: number,
    capacity: number,
    listK: number,
    listRow: number,
    listCol: number,
    payBase: number,
    payK: number,
    payRow: number,
    payCol: number,
    totals: number,
  ): void;
  pad_image(x: number, pad: number, h: number, w: number, cin: number, top: number, left: number, wp: number): void;
  filter_taps(
    lists: number,
    counts: number,
    capacity: number,
    sums: number,
    cout: number,
    kh: number,
    kw: number,
    wp: number,
    cin: number,
  ): void;
  add_chunk(sums: number, totals: number, count: number): void;
  input_gather(
    lists: number,
    counts: number,
    rows: number,
    dx: number,
    h: number,
    w: number,
    cin: number,
    cout: number,
    kh: number,
    kw: number,
    top: number,
    left: number,
    oh: number,
    ow: number,
  ): void;
}

const kernels = new WeakMap<object, SimdKernels | null>();

/**
 * simd-kernels.wat instantiated on the backend's own memory (tensors are
 * read and written in place), or null where that memory cannot be reached
 * (then the JS loops run: the same results, slower).
 */
export function simdKernel(backend: TF.KernelBackend): SimdKernels | null {
  const memory = (backend as unknown as WasmBackendInternals).wasm?.asm?.memory;
  if (!memory || typeof WebAssembly === 'undefined') return null;
  let kernel = kernels.get(memory);
  if (kernel === undefined) {
    try {
      const module = new WebAssembly.Module(Buffer.from(SIMD_KERNELS_WASM_BASE64, 'base64'));
      kernel = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as SimdKernels;
    } catch {
      kernel = null;
    }
    kernels.set(memory, kernel);
  }
  return kernel;
}

/** Whether the SIMD kernel runs here (else the JS loops); `reason` says why not. */
export function simdKernelStatus(backend: TF.KernelBackend): { simd: boolean; reason?: string } {
  return simdKernel(backend)
    ? { simd: true }
    : { simd: false, reason: 'the wasm backend memory (asm.memory) or WebAssembly SIMD is not reachable' };
}
