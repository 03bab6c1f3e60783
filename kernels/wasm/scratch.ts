/**
 * Intermediates of a kernel that is built from other wasm kernels: each one run
 * on TensorInfos (below the engine, so nothing is taped or tracked) and freed
 * when the kernel returns or fails.
 */
import type * as TF from '@tensorflow/tfjs';
import { type Attrs, type Info, type Tf } from './wasm-heap';

/** Runs wasm kernels and remembers their outputs so they can all be freed. */
export class Scratch {
  private readonly made: Info[] = [];

  constructor(
    private readonly tf: Tf,
    private readonly backend: TF.KernelBackend,
  ) {}

  run(name: string, inputs: Record<string, Info>, attrs: Attrs = {}): Info {
    const kernel = this.tf.getKernel(name, 'wasm');
    if (!kernel) throw new Error(`the wasm backend has no ${name} kernel, which the convolution gradients need`);
    const out = kernel.kernelFunc({
      inputs: inputs as TF.NamedTensorInfoMap,
      backend: this.backend,
      attrs: attrs as TF.NamedAttrMap,
    });
    const info = (Array.isArray(out) ? out[0] : out) as Info;
    this.made.push(info);
    return info;
  }

  reshape(x: Info, shape: number[]): Info {
    return this.run('Reshape', { x }, { shape });
  }

  transpose(x: Info, perm: number[]): Info {
    return this.run('Transpose', { x }, { perm });
  }

  /** Takes an output made outside run() into the set freed by finish() and abandon(). */
  adopt(info: Info): Info {
    this.made.push(info);
    return info;
  }

  /** Frees every intermediate but `result` (a reshape keeps its source's data alive by reference count). */
  finish(result: Info): Info {
    for (const info of this.made) if (info !== result) this.backend.disposeData(info.dataId);
    return result;
  }

  /** Frees everything made so far (on a failure). */
  abandon(): void {
    for (const info of this.made) this.backend.disposeData(info.dataId);
  }
}

export function guarded(tf: Tf, backend: TF.KernelBackend, body: (s: Scratch) => Info): Info {
  const s = new Scratch(tf, backend);
  try {
    return s.finish(body(s));
  } catch (err) {
    s.abandon();
    throw err;
  }
}
