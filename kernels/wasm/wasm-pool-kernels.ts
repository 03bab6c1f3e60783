/**
 * Max-pool gradient and the fused conv tail (bias, relu, 2x2 max pool) for
 * the wasm backend, as JS loops over the backend's heap (the stock wasm
 * MaxPoolGrad is a slow scalar loop; the conv tail replaces six kernels of a
 * training step: Add, Relu, MaxPool forward, MaxPoolGrad, Step * Multiply
 * (relu gradient) and the bias Sum backward, each a full pass over the
 * largest tensors of the step).
 *
 * WinnowBiasReluPool and WinnowBiasReluPoolGrad give what the stock chain
 * gives (conv + bias with the Add kernel, Relu, MaxPool, then MaxPoolGrad
 * below, relu's gradient dy * step(x) and the Add's gradient, a Sum over
 * leading axes accumulated in float64 in memory order) bit for bit,
 * infinities, signed zeros and ties included; test/unit/wasm-pool-kernels.test.ts
 * compares them. One difference: the stock wasm Relu is an integer max on the
 * float bits, so it maps a NaN with the sign bit set (x86 makes those from
 * Infinity * 0 or Infinity - Infinity) to 0, where these kernels, like the cpu
 * backend, keep every NaN pre-activation as NaN (a step with NaN in it has
 * diverged either way).
 */
import type * as TF from '@tensorflow/tfjs';
import { POOL_KERNEL_WASM_BASE64 } from '../generated/wasm-pool-kernel-wasm';

type Tf = typeof TF;
type Info = TF.TensorInfo;
type Attrs = Record<string, unknown>;
type Pair = [number, number];
export type KernelArgs = { inputs: TF.NamedTensorInfoMap; backend: TF.KernelBackend; attrs?: TF.NamedAttrMap };

/** The parts of the wasm backend's class that a kernel writing its own output needs. */
export interface WasmHeapAccess {
  makeOutput(shape: number[], dtype: 'float32' | 'int32'): Info;
  typedArrayFromHeap(info: Info): Float32Array | Int32Array;
}

export function floats(heap: WasmHeapAccess, info: Info): Float32Array {
  return heap.typedArrayFromHeap(info) as Float32Array;
}

// tsconfig has no "dom" lib: the part of the WebAssembly API used here.
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (
    module: object,
    imports: Record<string, Record<string, unknown>>,
  ) => { exports: Record<string, unknown> };
}
declare const WebAssembly: WasmApi | undefined;

/** wasm-pool-kernel.wat's exports; pointers are byte offsets in the backend's heap. */
export interface PoolKernel {
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

/** The wasm backend's internals the SIMD kernel needs: its memory (emscripten's asm.memory), allocator and tensor offsets. */
interface WasmBackendInternals {
  wasm?: { asm?: { memory?: { buffer: ArrayBuffer } }; _malloc(bytes: number): number; _free(pointer: number): void };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
}

const kernels = new WeakMap<object, PoolKernel | null>();

/**
 * wasm-pool-kernel.wat instantiated on the backend's own memory (tensors are
 * read and written in place), or null where that memory cannot be reached
 * (then the JS loops run: the same results, slower).
 */
export function simdKernel(backend: TF.KernelBackend): PoolKernel | null {
  const memory = (backend as unknown as WasmBackendInternals).wasm?.asm?.memory;
  if (!memory || typeof WebAssembly === 'undefined') return null;
  let kernel = kernels.get(memory);
  if (kernel === undefined) {
    try {
      const module = new WebAssembly.Module(Buffer.from(POOL_KERNEL_WASM_BASE64, 'base64'));
      kernel = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as PoolKernel;
    } catch {
      kernel = null;
    }
    kernels.set(memory, kernel);
  }
  return kernel;
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

/**
 * The filter gradient [kh, kw, 1, cout] of a stride-1 convolution with one
 * input channel, from x [batch, H, W, 1] (zero-padded here by top and left
 * and to outH + kh - 1 by outW + kw - 1) and dy [batch, outH, outW, cout];
 * null when the SIMD kernel is unavailable, cout is not a multiple of 16 or
 * the padding crops (the caller's other path runs). float32 sums over pixels
 * in order, sixteen channels at a time.
 */
export function filterGradientOneChannel(
  backend: TF.KernelBackend,
  x: Info,
  dy: Info,
  kh: number,
  kw: number,
  top: number,
  left: number,
): Info | null {
  const [batch, outH, outW, cout] = dy.shape;
  const [, height, width] = x.shape;
  const simd = cout % 16 === 0 ? simdKernel(backend) : null;
  if (!simd || x.dtype !== 'float32' || dy.dtype !== 'float32' || x.shape[3] !== 1 || kh < 1 || kw < 1) return null;
  const ph = outH + kh - 1;
  const pw = outW + kw - 1;
  if (top < 0 || left < 0 || top + height > ph || left + width > pw) return null;
  const heap = backend as unknown as WasmHeapAccess;
  const xp = heap.makeOutput([batch, ph, pw, 1], 'float32');
  const out = heap.makeOutput([kh, kw, 1, cout], 'float32');
  try {
    // Zero-padded copy, row by row (the stock PadV2 kernel takes ~5 ms for a 128x28x28x1 batch).
    const src = floats(heap, x);
    const dst = floats(heap, xp);
    dst.fill(0);
    for (let n = 0; n < batch; n++) {
      for (let h = 0; h < height; h++) {
        const from = (n * height + h) * width;
        dst.set(src.subarray(from, from + width), (n * ph + top + h) * pw + left);
      }
    }
    simd.filter_grad_c1(
      heapOffset(backend, xp),
      heapOffset(backend, dy),
      heapOffset(backend, out),
      batch,
      outH,
      outW,
      kh,
      kw,
      cout,
    );
  } finally {
    backend.disposeData(xp.dataId);
  }
  return out;
}

/** Whether the SIMD kernel runs here (else the JS loops); `reason` says why not. */
export function wasmPoolKernelStatus(backend: TF.KernelBackend): { simd: boolean; reason?: string } {
  return simdKernel(backend)
    ? { simd: true }
    : { simd: false, reason: 'the wasm backend memory (asm.memory) or WebAssembly SIMD is not reachable' };
}

/**
 * Max-pool gradient as one pass in JS: each output's gradient goes to the first
 * maximum of its window (row-major scan, as the cpu backend does). The stock
 * wasm kernel is a slow scalar loop. 2x2 windows with stride 2 and no padding
 * (the common pool) take a specialised loop with the same result.
 */
export function maxPoolGrad(tf: Tf, args: KernelArgs): Info {
  const { dy, input } = args.inputs as { dy: Info; input: Info };
  const attrs = (args.attrs ?? {}) as Attrs;
  if (input.dtype !== 'float32') throw new Error(`wasm MaxPoolGrad supports float32 only, got ${input.dtype}`);
  const info = tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    attrs.filterSize as number | Pair,
    attrs.strides as number | Pair,
    1,
    attrs.pad as 'valid' | 'same' | number,
    attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
  );
  const heap = args.backend as unknown as WasmHeapAccess;
  const out = heap.makeOutput(input.shape, 'float32');
  // Views taken after makeOutput: allocating may move the heap.
  const x = floats(heap, input);
  const g = floats(heap, dy);
  const dx = floats(heap, out);
  dx.fill(0);
  const tiles2x2 =
    info.filterHeight === 2 &&
    info.filterWidth === 2 &&
    info.strideHeight === 2 &&
    info.strideWidth === 2 &&
    info.padInfo.top === 0 &&
    info.padInfo.left === 0 &&
    info.outHeight * 2 <= info.inHeight &&
    info.outWidth * 2 <= info.inWidth;
  if (tiles2x2) maxPoolGrad2x2(info, x, g, dx);
  else maxPoolGradGeneric(info, x, g, dx);
  return out;
}

type PoolInfo = ReturnType<typeof TF.backend_util.computePool2DInfo>;

function maxPoolGradGeneric(info: PoolInfo, x: Float32Array, g: Float32Array, dx: Float32Array): void {
  const { batchSize, inHeight, inWidth, inChannels: channels, outHeight, outWidth } = info;
  const rowStride = inWidth * channels;
  const imageStride = inHeight * rowStride;
  for (let b = 0; b < batchSize; b++) {
    for (let oh = 0; oh < outHeight; oh++) {
      const h0 = oh * info.strideHeight - info.padInfo.top;
      const hStart = Math.max(0, h0);
      const hEnd = Math.min(inHeight, h0 + info.filterHeight);
      for (let ow = 0; ow < outWidth; ow++) {
        const w0 = ow * info.strideWidth - info.padInfo.left;
        const wStart = Math.max(0, w0);
        const wEnd = Math.min(inWidth, w0 + info.filterWidth);
        const gBase = ((b * outHeight + oh) * outWidth + ow) * channels;
        for (let c = 0; c < channels; c++) {
          let best = -Infinity;
          let at = -1;
          for (let h = hStart; h < hEnd; h++) {
            for (let w = wStart; w < wEnd; w++) {
              const i = b * imageStride + h * rowStride + w * channels + c;
              if (x[i] > best) {
                best = x[i];
                at = i;
              }
            }
          }
          if (at >= 0) dx[at] += g[gBase + c];
        }
      }
    }
  }
}

/** Non-overlapping 2x2 windows: the first maximum of (top-left, top-right, bottom-left, bottom-right) gets dy. */
function maxPoolGrad2x2(info: PoolInfo, x: Float32Array, g: Float32Array, dx: Float32Array): void {
  const { batchSize, inHeight, inWidth, inChannels: channels, outHeight, outWidth } = info;
  forEachWindow2x2(batchSize, inHeight, inWidth, channels, outHeight, outWidth, (p0, p1, p2, p3, o) => {
    for (let c = 0; c < channels; c++, o++) {
      // The generic loop's `x > best` from -Infinity: NaN never wins, a window of NaN/-Infinity routes nothing.
      let best = -Infinity;
      let at = -1;
      const v0 = x[p0 + c];
      if (v0 > best) {
        best = v0;
        at = p0 + c;
      }
      const v1 = x[p1 + c];
      if (v1 > best) {
        best = v1;
        at = p1 + c;
      }
      const v2 = x[p2 + c];
      if (v2 > best) {
        best = v2;
        at = p2 + c;
      }
      if (x[p3 + c] > best) at = p3 + c;
      // `+ 0` as the generic loop's `dx[at] += g` on a zeroed output: -0 becomes +0.
      if (at >= 0) dx[at] = g[o] + 0;
    }
  });
}

/**
 * fn(p0, p1, p2, p3, o) for each 2x2 window (stride 2) of an NHWC tensor, in
 * order: the flat offsets of channel 0 of its top-left, top-right,
 * bottom-left and bottom-right pixels, and of its pooled output.
 */
function forEachWindow2x2(
  batch: number,
  height: number,
  width: number,
  channels: number,
  outHeight: number,
  outWidth: number,
  fn: (p0: number, p1: number, p2: number, p3: number, o: number) => void,
): void {
  const rowStride = width * channels;
  let o = 0;
  for (let b = 0; b < batch; b++) {
    for (let oh = 0; oh < outHeight; oh++) {
      const row = (b * height + 2 * oh) * rowStride;
      for (let ow = 0; ow < outWidth; ow++, o += channels) {
        const p0 = row + 2 * ow * channels;
        fn(p0, p0 + channels, p0 + rowStride, p0 + rowStride + channels, o);
      }
    }
  }
}

// Code of one pooled output (int32), written by the forward for the gradient:
// bits 0-1 the window slot (0 top-left, 1 top-right, 2 bottom-left,
// 3 bottom-right) that the max-pool gradient routes dy to, bit 2 set when
// there is one (a window of NaN routes nothing), bits 3-6 per slot
// "x + bias > 0" (relu's step is 1), bits 7-10 per slot "x + bias is NaN"
// (the step is NaN, so the gradient is NaN whatever dy).
const ROUTED = 4;
const POSITIVE_SHIFT = 3;
const NAN_SHIFT = 7;

function tailShapes(xShape: number[]): { pooled: number[] } {
  if (xShape.length !== 4) throw new Error(`WinnowBiasReluPool needs an NHWC tensor, got shape [${xShape}]`);
  const [batch, height, width, channels] = xShape;
  if (height % 2 !== 0 || width % 2 !== 0)
    throw new Error(`WinnowBiasReluPool tiles even sizes only, got ${height}x${width}`);
  return { pooled: [batch, height / 2, width / 2, channels] };
}

/**
 * y = maxPool2x2(relu(x + bias)) and the routing code of each output (see
 * above). Pooled values as the wasm MaxPool gives them: the maximum of the
 * window's relu values; with NaNs see poolWithNaN.
 */
export function biasReluPool(_tf: Tf, args: KernelArgs): Info[] {
  const { x, bias } = args.inputs as { x: Info; bias: Info };
  if (x.dtype !== 'float32' || bias.dtype !== 'float32') throw new Error('WinnowBiasReluPool supports float32 only');
  const { pooled } = tailShapes(x.shape);
  const [batch, height, width, channels] = x.shape;
  if (bias.shape.length !== 1 || bias.shape[0] !== channels)
    throw new Error(`WinnowBiasReluPool: bias shape [${bias.shape}] for ${channels} channels`);
  const heap = args.backend as unknown as WasmHeapAccess;
  const yInfo = heap.makeOutput(pooled, 'float32');
  const codeInfo = heap.makeOutput(pooled, 'int32');
  const simd = channels % 4 === 0 ? simdKernel(args.backend) : null;
  if (simd) {
    const at = (info: Info) => heapOffset(args.backend, info);
    simd.bias_relu_pool(at(x), at(bias), at(yInfo), at(codeInfo), batch * (height / 2), width / 2, channels);
    return [yInfo, codeInfo];
  }
  const xs = floats(heap, x);
  const bs = floats(heap, bias);
  const ys = floats(heap, yInfo);
  const codes = heap.typedArrayFromHeap(codeInfo) as Int32Array;
  forEachWindow2x2(batch, height, width, channels, height / 2, width / 2, (p0, p1, p2, p3, o) => {
    for (let c = 0; c < channels; c++, o++) {
      const bc = bs[c];
      // float32 sums, as the Add kernel makes them (a double sum of two floats rounds once to the same float).
      const v0 = Math.fround(xs[p0 + c] + bc);
      const v1 = Math.fround(xs[p1 + c] + bc);
      const v2 = Math.fround(xs[p2 + c] + bc);
      const v3 = Math.fround(xs[p3 + c] + bc);
      const positive = (v0 > 0 ? 1 : 0) | (v1 > 0 ? 2 : 0) | (v2 > 0 ? 4 : 0) | (v3 > 0 ? 8 : 0);
      // Relu values are +0 or positive: first maximum as MaxPoolGrad scans them.
      const r0 = v0 > 0 ? v0 : 0;
      const r1 = v1 > 0 ? v1 : 0;
      const r2 = v2 > 0 ? v2 : 0;
      const r3 = v3 > 0 ? v3 : 0;
      if (v0 === v0 && v1 === v1 && v2 === v2 && v3 === v3) {
        let best = r0;
        let slot = 0;
        if (r1 > best) {
          best = r1;
          slot = 1;
        }
        if (r2 > best) {
          best = r2;
          slot = 2;
        }
        if (r3 > best) {
          best = r3;
          slot = 3;
        }
        ys[o] = best;
        codes[o] = slot | ROUTED | (positive << POSITIVE_SHIFT);
      } else {
        const nan = (v0 !== v0 ? 1 : 0) | (v1 !== v1 ? 2 : 0) | (v2 !== v2 ? 4 : 0) | (v3 !== v3 ? 8 : 0);
        let best = -Infinity;
        let slot = -1;
        const relu = [v0 !== v0 ? NaN : r0, v1 !== v1 ? NaN : r1, v2 !== v2 ? NaN : r2, v3 !== v3 ? NaN : r3];
        for (let s = 0; s < 4; s++) {
          if (relu[s] > best) {
            best = relu[s];
            slot = s;
          }
        }
        ys[o] = poolWithNaN(relu[0], relu[1], relu[2], relu[3]);
        codes[o] = (slot >= 0 ? slot | ROUTED : 0) | (positive << POSITIVE_SHIFT) | (nan << NAN_SHIFT);
      }
    }
  });
  return [yInfo, codeInfo];
}

/**
 * The wasm (XNNPACK) 2x2 max pool of relu values a b / c d when some are NaN,
 * as measured on tfjs-backend-wasm 4.22 (every NaN pattern, 1, 4 and 19
 * channels): max(max(a, c), max(d, b)) with max(p, q) = p < q ? q : p (a NaN
 * p wins, a NaN q loses), then a NaN result clamped to -Infinity.
 */
function poolWithNaN(a: number, b: number, c: number, d: number): number {
  const max = (p: number, q: number) => (p < q ? q : p);
  const m = max(max(a, c), max(d, b));
  return m !== m ? -Infinity : m;
}

/**
 * [dx, dbias] from dy and the forward's codes: dx is the max-pool gradient
 * times relu's step, dbias its sum over all but the channel axis, in float64
 * in dx's memory order (zeros add nothing, so only routed values are added).
 */
export function biasReluPoolGrad(_tf: Tf, args: KernelArgs): Info[] {
  const { dy, code } = args.inputs as { dy: Info; code: Info };
  if (
    dy.dtype !== 'float32' ||
    code.dtype !== 'int32' ||
    dy.shape.length !== 4 ||
    code.shape.join() !== dy.shape.join()
  ) {
    throw new Error(
      `WinnowBiasReluPoolGrad: dy [${dy.shape}] ${dy.dtype} and codes [${code.shape}] ${code.dtype} must be float32 and int32 of one NHWC shape`,
    );
  }
  const [batch, outHeight, outWidth, channels] = dy.shape;
  const height = 2 * outHeight;
  const width = 2 * outWidth;
  const heap = args.backend as unknown as WasmHeapAccess;
  const dxInfo = heap.makeOutput([batch, height, width, channels], 'float32');
  const dbInfo = heap.makeOutput([channels], 'float32');
  const simd = channels % 4 === 0 ? simdKernel(args.backend) : null;
  if (simd) {
    withHeapScratch(args.backend, 8 * channels, (totals, buffer) => {
      new Float64Array(buffer(), totals, channels).fill(0);
      const at = (info: Info) => heapOffset(args.backend, info);
      simd.bias_relu_pool_grad(at(dy), at(code), at(dxInfo), totals, batch * outHeight, outWidth, channels);
      simd.round_totals(totals, at(dbInfo), channels);
    });
    return [dxInfo, dbInfo];
  }
  const g = floats(heap, dy);
  const codes = heap.typedArrayFromHeap(code) as Int32Array;
  const dx = floats(heap, dxInfo);
  dx.fill(0);
  const totals = new Float64Array(channels);
  const rowStride = width * channels;
  for (let b = 0; b < batch; b++) {
    for (let oh = 0; oh < outHeight; oh++) {
      const rowOut = (b * outHeight + oh) * outWidth * channels;
      // Row 2*oh, then row 2*oh + 1: dx's memory order, which the bias sum follows.
      for (let half = 0; half < 2; half++) {
        const row = (b * height + 2 * oh + half) * rowStride;
        for (let ow = 0; ow < outWidth; ow++) {
          const o0 = rowOut + ow * channels;
          const left = row + 2 * ow * channels;
          for (let c = 0; c < channels; c++) {
            const k = codes[o0 + c];
            if (k >> NAN_SHIFT !== 0) {
              nanWindowRow(k, half, g[o0 + c], dx, left + c, channels, totals, c);
              continue;
            }
            const slot = k & 3;
            if ((k & ROUTED) === 0) continue;
            if (slot >> 1 !== half) continue;
            const routed = g[o0 + c] + 0;
            const v = (k >> (POSITIVE_SHIFT + slot)) & 1 ? routed : routed * 0;
            dx[left + (slot & 1) * channels + c] = v;
            if (v !== 0) totals[c] += v;
          }
        }
      }
    }
  }
  floats(heap, dbInfo).set(totals);
  return [dxInfo, dbInfo];
}

/** One row (top or bottom) of a window with a NaN pre-activation: NaN where the step is NaN, the routed value where routed. */
function nanWindowRow(
  k: number,
  half: number,
  dy: number,
  dx: Float32Array,
  at: number,
  channels: number,
  totals: Float64Array,
  c: number,
): void {
  for (let col = 0; col < 2; col++) {
    const slot = 2 * half + col;
    let v = 0;
    if ((k >> (NAN_SHIFT + slot)) & 1) v = NaN;
    else if (k & ROUTED && (k & 3) === slot) v = (k >> (POSITIVE_SHIFT + slot)) & 1 ? dy + 0 : (dy + 0) * 0;
    dx[at + col * channels] = v;
    if (v !== 0) totals[c] += v;
  }
}
