/**
 * Per-kernel wall time of one cnn-small training step and one inference batch
 * on the tfjs-node or the wasm backend. Every kernel registered for the backend
 * is wrapped with a timer; both run kernels synchronously (libtensorflow, or
 * single-threaded wasm), so wall time per call is the kernel's cost. Nested
 * kernel calls (winnow's wasm gradients are built from other wasm kernels) are
 * charged to the innermost kernel (self time) and listed as "Outer > Inner".
 *
 *   node dist/bench/kernel-profile.js [--backend=tfjs-node|wasm] [--padding=same|valid]
 *        [--optimizer=momentum|adam] [--steps=20] [--by-shape] [--predict-batch=128]
 *
 * --predict-batch: model.predict's batchSize for the 128 inference images (tfjs defaults to 32).
 */
import type * as TF from '@tensorflow/tfjs';
import os from 'node:os';
import { initComputeBackend } from '../compute/backend';
import { applyForTraining } from '../domain/ml/training-forward';
import { benchBatch, benchOptimizer, buildBenchModel } from './cnn-small-bench';

interface Stat {
  calls: number;
  ms: number;
}

function wrapKernels(tf: typeof TF, backendName: string, stats: Map<string, Stat>, byShape: boolean): void {
  const stack: number[] = [];
  const names: string[] = [];
  for (const config of tf.getKernelsForBackend(backendName)) {
    const inner = config.kernelFunc;
    const name = config.kernelName;
    const kernelFunc = ((args: Parameters<TF.KernelFunc>[0]) => {
      const outer = names.length > 0 ? `${names[names.length - 1]} > ` : '';
      stack.push(0);
      names.push(name);
      const t0 = performance.now();
      const out = inner(args);
      const total = performance.now() - t0;
      names.pop();
      const childMs = stack.pop() ?? 0;
      if (stack.length > 0) stack[stack.length - 1] += total;
      const key = `${outer}${name}${
        byShape
          ? ` ${Object.values(args.inputs)
              .map((t) => `[${(t as TF.TensorInfo | undefined)?.shape ?? '-'}]`)
              .join(' ')}`
          : ''
      }`;
      const s = stats.get(key) ?? { calls: 0, ms: 0 };
      s.calls++;
      s.ms += total - childMs;
      stats.set(key, s);
      return out;
    }) as TF.KernelFunc;
    tf.unregisterKernel(name, backendName);
    tf.registerKernel({ ...config, kernelFunc });
  }
}

function table(title: string, stats: Map<string, Stat>, steps: number, stepMs: number): void {
  const rows = [...stats.entries()].sort((a, b) => b[1].ms - a[1].ms);
  const kernelMs = rows.reduce((a, [, s]) => a + s.ms, 0) / steps;
  console.log(
    `\n${title}: ${stepMs.toFixed(1)} ms/step wall, ${kernelMs.toFixed(1)} ms in kernels, ${(stepMs - kernelMs).toFixed(1)} ms outside (JS, engine, tape)`,
  );
  console.log('| kernel | calls/step | ms/step | share of step |');
  console.log('|---|---:|---:|---:|');
  for (const [name, s] of rows) {
    const ms = s.ms / steps;
    if (ms < 0.05) continue;
    console.log(
      `| ${name} | ${(s.calls / steps).toFixed(0)} | ${ms.toFixed(2)} | ${((100 * ms) / stepMs).toFixed(1)}% |`,
    );
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const get = (name: string): string | undefined =>
    argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const steps = Number(get('steps') ?? 20);
  const adam = get('optimizer') === 'adam';
  const backend = get('backend') ?? 'tfjs-node';
  if (backend !== 'tfjs-node' && backend !== 'wasm')
    throw new Error(`--backend must be tfjs-node or wasm, got ${backend}`);
  const padding = get('padding') ?? 'same';
  if (padding !== 'same' && padding !== 'valid') throw new Error(`--padding must be same or valid, got ${padding}`);
  const { tf } = await initComputeBackend(backend);
  const model = buildBenchModel(tf, padding);
  const optimizer = benchOptimizer(adam ? 'adam' : 'momentum');
  const { x, y } = benchBatch(tf, 128);
  const train = () => {
    const loss = optimizer.minimize(
      () => tf.losses.softmaxCrossEntropy(y, applyForTraining(model, x)) as TF.Scalar,
      true,
    );
    loss!.dataSync();
    loss!.dispose();
  };
  const predictBatch = Number(get('predict-batch') ?? 128);
  const infer = () => tf.tidy(() => (model.predict(x, { batchSize: predictBatch }) as TF.Tensor).dataSync());
  for (let i = 0; i < 3; i++) {
    train();
    infer();
  }
  const stats = new Map<string, Stat>();
  wrapKernels(tf, tf.getBackend(), stats, argv.includes('--by-shape'));
  for (const [title, fn] of [
    ['training step', train],
    ['inference batch', infer],
  ] as const) {
    stats.clear();
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) fn();
    table(
      `${title} (${backend}, padding ${padding}, ${adam ? 'adam' : 'momentum'}, batch 128, ${steps} steps, loadavg ${os
        .loadavg()
        .map((v) => v.toFixed(2))
        .join(' ')})`,
      stats,
      steps,
      (performance.now() - t0) / steps,
    );
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
