/**
 * Routed gradients of a stride-1 conv block (convolution, bias, relu, 2x2 max
 * pool) on the wasm backend, from the pooled gradient and the routing codes
 * of WinnowBiasReluPool (wasm-pool-kernels.ts): each pooled output's gradient
 * reaches exactly one convolution output (its window's routed slot, masked by
 * relu), so three quarters of the terms of the dense filter and input
 * gradients are zeros, which these skip. Both run in wasm-pool-kernel.wat on
 * the backend's heap (tensors in place), one image at a time so that it stays
 * in cache:
 *
 * - WinnowConvPoolFilterGrad (x, dy, code; attrs top, bottom, left, right):
 *   [dfilter [kh, kw, cin, cout], dbias [cout]]. Per output channel the
 *   image's routed gradients form one list; eight vectors of input channels
 *   stay in registers across it. Sums in float32 over chunks of
 *   IMAGES_PER_CHUNK images, the chunks added in float64 (the bias in
 *   float64 throughout): a grouping fixed by the shapes, so deterministic.
 * - WinnowConvPoolInputGrad (dy, code, filter; the same attrs): dx
 *   [n, h, w, cin], gathered per input pixel from the routed gradients of the
 *   convolution outputs its taps reach, times the filter rows laid out
 *   [tap][cout][cin].
 *
 * Not bit for bit the stock kernels' results (another summation order): the
 * same where every sum is exact. A window with a NaN pre-activation routes
 * NaN to one slot (the routed one, else the top-left), so NaNs may land on
 * other input pixels than the stock chain's. Input channels must be a
 * multiple of 4 (routedConvBlockSupported).
 */
import type * as TF from '@tensorflow/tfjs';
import {
  floats,
  heapOffset,
  simdKernel,
  withHeapScratch,
  type KernelArgs,
  type PoolKernel,
  type WasmHeapAccess,
} from './wasm-pool-kernels';

type Tf = typeof TF;
type Info = TF.TensorInfo;

/** Images whose filter-gradient sums are added in float32 before they join the float64 totals. */
const IMAGES_PER_CHUNK = 8;

/** Zero padding of the convolution's spatial axes (the kernels' attrs). */
export interface ConvPads {
  top: number;
  bottom: number;
  left: number;
  right: number;
}

/** Whether the routed kernels run here for a block with `inChannels` input channels. */
export function routedConvBlockSupported(backend: TF.KernelBackend, inChannels: number): boolean {
  return inChannels % 4 === 0 && simdKernel(backend) !== null;
}

/** Byte offsets of consecutive scratch regions (each a multiple of 8 bytes long) and their total size. */
function scratchLayout(sizes: number[]): { offsets: number[]; bytes: number } {
  const offsets: number[] = [];
  let bytes = 0;
  for (const size of sizes) {
    offsets.push(bytes);
    bytes += Math.ceil(size / 8) * 8;
  }
  return { offsets, bytes };
}

/** The kernel, pads and checked pooled gradient and codes of a routed kernel call. */
function routedCall(
  name: string,
  args: KernelArgs,
  inChannels: number,
): { simd: PoolKernel; pads: ConvPads; dy: Info; code: Info } {
  const { dy, code } = args.inputs as { dy: Info; code: Info };
  if (
    dy.dtype !== 'float32' ||
    code.dtype !== 'int32' ||
    dy.shape.length !== 4 ||
    code.shape.join() !== dy.shape.join()
  ) {
    throw new Error(
      `${name}: dy [${dy.shape}] ${dy.dtype} and codes [${code.shape}] ${code.dtype} must be float32 and int32 of one NHWC shape`,
    );
  }
  const attrs = (args.attrs ?? {}) as Record<string, unknown>;
  const pads = {
    top: Number(attrs.top),
    bottom: Number(attrs.bottom),
    left: Number(attrs.left),
    right: Number(attrs.right),
  };
  if (!Object.values(pads).every((p) => Number.isInteger(p) && p >= 0))
    throw new Error(`${name}: pads ${JSON.stringify(pads)} must be non-negative integers`);
  const simd = inChannels % 4 === 0 ? simdKernel(args.backend) : null;
  if (!simd)
    throw new Error(
      `${name}: needs the SIMD kernel and input channels divisible by 4, got ${inChannels} (see routedConvBlockSupported)`,
    );
  return { simd, pads, dy, code };
}

export function convPoolFilterGrad(_tf: Tf, args: KernelArgs): Info[] {
  const { x } = args.inputs as { x: Info };
  if (x.dtype !== 'float32' || x.shape.length !== 4)
    throw new Error(`WinnowConvPoolFilterGrad: x [${x.shape}] ${x.dtype} must be float32 [N, H, W, Cin]`);
  const { simd, pads, dy, code } = routedCall('WinnowConvPoolFilterGrad', args, x.shape[3]);
  const [batch, height, width, cin] = x.shape;
  const [, ph, pw, cout] = dy.shape;
  const hp = height + pads.top + pads.bottom;
  const wp = width + pads.left + pads.right;
  const kh = hp - 2 * ph + 1;
  const kw = wp - 2 * pw + 1;
  if (dy.shape[0] !== batch || ph < 1 || pw < 1 || kh < 1 || kw < 1) {
    throw new Error(
      `WinnowConvPoolFilterGrad: the pooled grid [${dy.shape}] must be non-empty and inside x [${x.shape}] padded by ${JSON.stringify(pads)}`,
    );
  }
  const backend = args.backend;
  const heap = backend as unknown as WasmHeapAccess;
  const filterInfo = heap.makeOutput([kh, kw, cin, cout], 'float32');
  const biasInfo = heap.makeOutput([cout], 'float32');
  const taps = kh * kw;
  const terms = cout * taps * cin;
  const capacity = ph * pw;
  const padded = pads.top + pads.bottom + pads.left + pads.right > 0;
  // float64 totals (filter as [cout][tap][cin], then bias), float32 chunk sums, lists per channel, their counts, the padded image.
  const layout = scratchLayout([
    (terms + cout) * 8,
    terms * 4,
    cout * capacity * 8,
    cout * 4,
    padded ? hp * wp * cin * 4 : 0,
  ]);
  withHeapScratch(backend, layout.bytes, (base, buffer) => {
    const [totals, sums, lists, counts, pad] = layout.offsets.map((o) => base + o);
    new Uint8Array(buffer(), base, layout.bytes).fill(0);
    const [xAt, dyAt, codeAt] = [x, dy, code].map((info) => heapOffset(backend, info));
    const imageBytes = height * width * cin * 4;
    const pooledBytes = ph * pw * cout * 4;
    for (let n = 0; n < batch; n++) {
      let image = xAt + n * imageBytes;
      if (padded) {
        simd.pad_image(image, pad, height, width, cin, pads.top, pads.left, wp);
        image = pad;
      }
      // One list per output channel k; payload: the address of image[row, col, 0] of the convolution output it reaches.
      simd.route_image(
        dyAt + n * pooledBytes,
        codeAt + n * pooledBytes,
        ph,
        pw,
        cout,
        lists,
        counts,
        cout,
        capacity,
        1,
        0,
        0,
        image,
        0,
        wp * cin * 4,
        cin * 4,
        totals + terms * 8,
      );
      simd.filter_taps(lists, counts, capacity, sums, cout, kh, kw, wp, cin);
      if ((n + 1) % IMAGES_PER_CHUNK === 0 || n === batch - 1) simd.add_chunk(sums, totals, terms);
    }
    const total = new Float64Array(buffer(), totals, terms + cout);
    const filter = floats(heap, filterInfo);
    for (let k = 0; k < cout; k++) {
      for (let t = 0; t < taps; t++) {
        for (let c = 0; c < cin; c++) filter[(t * cin + c) * cout + k] = total[(k * taps + t) * cin + c];
      }
    }
    floats(heap, biasInfo).set(total.subarray(terms));
  });
  return [filterInfo, biasInfo];
}

export function convPoolInputGrad(_tf: Tf, args: KernelArgs): Info {
  const { filter } = args.inputs as { filter: Info };
  if (filter.dtype !== 'float32' || filter.shape.length !== 4) {
    throw new Error(
      `WinnowConvPoolInputGrad: filter [${filter.shape}] ${filter.dtype} must be float32 [KH, KW, Cin, Cout]`,
    );
  }
  const { simd, pads, dy, code } = routedCall('WinnowConvPoolInputGrad', args, filter.shape[2]);
  const [kh, kw, cin, cout] = filter.shape;
  const [batch, ph, pw] = dy.shape;
  const oh = 2 * ph;
  const ow = 2 * pw;
  const height = oh + kh - 1 - pads.top - pads.bottom;
  const width = ow + kw - 1 - pads.left - pads.right;
  if (dy.shape[3] !== cout || kh < 1 || kw < 1 || ph < 1 || pw < 1 || height < 1 || width < 1) {
    throw new Error(
      `WinnowConvPoolInputGrad: filter [${filter.shape}] and dy [${dy.shape}] must give a non-empty filter, pooled grid and input (Cout ${cout} in both)`,
    );
  }
  const backend = args.backend;
  const heap = backend as unknown as WasmHeapAccess;
  const dxInfo = heap.makeOutput([batch, height, width, cin], 'float32');
  const taps = kh * kw;
  // The filter as rows [tap][cout][cin], lists per convolution output position, their counts.
  const layout = scratchLayout([taps * cout * cin * 4, oh * ow * cout * 8, oh * ow * 4]);
  withHeapScratch(backend, layout.bytes, (base, buffer) => {
    const [rows, lists, counts] = layout.offsets.map((o) => base + o);
    const f = floats(heap, filter);
    const r = new Float32Array(buffer(), rows, taps * cout * cin);
    for (let t = 0; t < taps; t++) {
      for (let c = 0; c < cin; c++) {
        for (let k = 0; k < cout; k++) r[(t * cout + k) * cin + c] = f[(t * cin + c) * cout + k];
      }
    }
    const [dxAt, dyAt, codeAt] = [dxInfo, dy, code].map((info) => heapOffset(backend, info));
    const imageBytes = height * width * cin * 4;
    const pooledBytes = ph * pw * cout * 4;
    for (let n = 0; n < batch; n++) {
      // One list per convolution output position; payload: the byte offset of channel k's row in a tap's rows.
      simd.route_image(
        dyAt + n * pooledBytes,
        codeAt + n * pooledBytes,
        ph,
        pw,
        cout,
        lists,
        counts,
        oh * ow,
        cout,
        0,
        ow,
        1,
        0,
        cin * 4,
        0,
        0,
        0,
      );
      simd.input_gather(
        lists,
        counts,
        rows,
        dxAt + n * imageBytes,
        height,
        width,
        cin,
        cout,
        kh,
        kw,
        pads.top,
        pads.left,
        oh,
        ow,
      );
    }
  });
  return dxInfo;
}
