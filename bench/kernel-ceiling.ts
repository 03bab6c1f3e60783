/** bench:throughput's cnn-small figures (tfjs-node, Adam, width 1) measured now in a child process: the kernel ceiling a pipeline is compared with. */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

export interface KernelCeiling {
  /** Training images/s. */
  train: number;
  /** Inference images/s (128-image forward passes). */
  infer: number;
}

/** Runs bench:throughput for about `seconds` per phase; undefined when it cannot run here. */
export async function kernelCeiling(seconds: number): Promise<KernelCeiling | undefined> {
  const script = path.join(__dirname, 'throughput.js');
  try {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [script, '--backends=tfjs-node', `--seconds=${seconds}`, '--optimizer=adam'],
      { maxBuffer: 16 * 2 ** 20 },
    );
    const last = stdout.trim().split('\n').at(-1) ?? '';
    const parsed = JSON.parse(last) as {
      results: { train?: { imagesPerSecond: number }; infer?: { imagesPerSecond: number } }[];
    };
    const r = parsed.results[0];
    if (!r?.train || !r.infer) return undefined;
    return { train: r.train.imagesPerSecond, infer: r.infer.imagesPerSecond };
  } catch {
    return undefined;
  }
}
