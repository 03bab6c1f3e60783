/**
 * WinnowConvPoolFilterGrad: the filter and bias gradients of a stride-1 conv
 * block from its pooled gradient, summing only the routed quarter of the terms.
 * docs/kernels.md, "wasm backend kernels".
 */
import { IMAGES_PER_CHUNK, routedCall, scratchLayout } from './routed-conv-block';
import {
  floats,
  heapOffset,
  withHeapScratch,
  type Info,
  type KernelArgs,
  type Tf,
  type WasmHeapAccess,
} from './wasm-heap';

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
