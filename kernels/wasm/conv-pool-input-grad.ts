/**
 * WinnowConvPoolInputGrad: the input gradient of a stride-1 conv block from its
 * pooled gradient, gathered per input pixel. docs/kernels.md, "wasm backend kernels".
 */
import { routedCall, scratchLayout } from './routed-conv-block';
import {
  floats,
  heapOffset,
  withHeapScratch,
  type Info,
  type KernelArgs,
  type Tf,
  type WasmHeapAccess,
} from './wasm-heap';

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
