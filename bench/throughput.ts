/**
 * Training and inference throughput of the small CNN (conv3x3x32 - maxpool -
 * conv3x3x64 - maxpool - dense128 - dense10, relu) on 28x28x1 inputs, batch
 * 128, per compute backend. Each backend runs in its own child process.
 *
 *   node dist/bench/throughput.js [--backends=tfjs-node,wasm,cpu] [--padding=same|valid]
 *        [--optimizer=momentum|adam] [--seconds=8] [--cpu-steps=1] [--cpu-batch=16]
 *
 * Random data (throughput does not depend on the values). The stock cpu
 * backend only runs --cpu-steps timed steps on --cpu-batch images: it is two
 * to three orders of magnitude slower and is measured only to show it is unusable.
 */
import { fork } from 'node:child_process';
import os from 'node:os';
import type * as TF from '@tensorflow/tfjs';
import { initComputeBackend } from '../compute/backend';
import { applyForTraining } from '../domain/ml/training-forward';
import { loadWinnowTfOps } from '../kernels/tfjs-node/tfjs-node-native-ops';
import { benchBatch, benchOptimizer, buildBenchModel } from './cnn-small-bench';
import { machineLine } from './machine';

type BenchBackend = 'tfjs-node' | 'wasm' | 'cpu';
const allBackends: BenchBackend[] = ['tfjs-node', 'wasm', 'cpu'];

interface Options {
  backends: BenchBackend[];
  padding: 'same' | 'valid';
  optimizer: 'momentum' | 'adam';
  batch: number;
  /** Time spent on timed steps per phase (training, inference), roughly. */
  seconds: number;
  cpuSteps: number;
  /** Batch for the stock cpu backend: its filter-gradient kernel needs minutes per 128-image step. */
  cpuBatch: number;
}

interface Phase {
  imagesPerSecond: number;
  steps: number;
  medianStepMs: number;
  /** Process CPU time (all threads) per step: less sensitive than wall time to other load on the machine. */
  cpuMsPerStep: number;
  loadavg: number[];
}

interface BackendResult {
  backend: BenchBackend;
  detail: string;
  train: Phase;
  infer: Phase;
  lossFirst: number;
  lossLast: number;
}

function parseOptions(argv: string[]): Options {
  const get = (name: string): string | undefined =>
    argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const backends = (get('backends') ?? allBackends.join(',')).split(',') as BenchBackend[];
  for (const b of backends)
    if (!allBackends.includes(b)) throw new Error(`--backends: unknown backend ${b}; use ${allBackends.join(', ')}`);
  const padding = get('padding') ?? 'same';
  if (padding !== 'same' && padding !== 'valid') throw new Error(`--padding must be same or valid, got ${padding}`);
  const optimizer = get('optimizer') ?? 'momentum';
  if (optimizer !== 'momentum' && optimizer !== 'adam')
    throw new Error(`--optimizer must be momentum or adam, got ${optimizer}`);
  return {
    backends,
    padding,
    optimizer,
    batch: Number(get('batch') ?? 128),
    seconds: Number(get('seconds') ?? 8),
    cpuSteps: Number(get('cpu-steps') ?? 1),
    cpuBatch: Number(get('cpu-batch') ?? 16),
  };
}

async function loadBackend(name: BenchBackend): Promise<{ tf: typeof TF; detail: string }> {
  if (name === 'cpu') {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- each backend is loaded only when its bench runs
    const tf = require('@tensorflow/tfjs') as typeof TF;
    await tf.setBackend('cpu');
    return { tf, detail: 'stock @tensorflow/tfjs cpu kernels' };
  }
  const backend = await initComputeBackend(name);
  const tf = backend.tf;
  const detail =
    name === 'wasm'
      ? `simd=${tf.env().getBool('WASM_HAS_SIMD_SUPPORT')} threads=${tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT')}, winnow gradient kernels`
      : `tf backend ${tf.getBackend()}, winnow native ops ${loadWinnowTfOps().ops ? 'loaded' : 'not loaded'}`;
  return { tf, detail };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Runs timed steps until `seconds` have passed or `maxSteps` are done. */
function timeSteps(step: () => void, seconds: number, maxSteps: number, batch: number): Phase {
  const times: number[] = [];
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  while (times.length < maxSteps && (times.length === 0 || performance.now() - start < seconds * 1000)) {
    const t0 = performance.now();
    step();
    times.push(performance.now() - t0);
  }
  const cpu = process.cpuUsage(cpu0);
  const total = times.reduce((a, b) => a + b, 0);
  return {
    imagesPerSecond: (times.length * batch) / (total / 1000),
    steps: times.length,
    medianStepMs: median(times),
    cpuMsPerStep: (cpu.user + cpu.system) / 1000 / times.length,
    loadavg: os.loadavg(),
  };
}

async function runBackend(name: BenchBackend, options: Options): Promise<BackendResult> {
  const o = name === 'cpu' ? { ...options, batch: options.cpuBatch } : options;
  const { tf, detail } = await loadBackend(name);
  tf.randomUniform([1]).dispose();
  const model = buildBenchModel(tf, o.padding);
  const optimizer = benchOptimizer(o.optimizer);
  const { x, y } = benchBatch(tf, o.batch);
  const losses: number[] = [];
  const trainStep = () => {
    const loss = optimizer.minimize(
      () => tf.losses.softmaxCrossEntropy(y, applyForTraining(model, x)) as TF.Scalar,
      true,
    );
    losses.push(loss!.dataSync()[0]);
    loss!.dispose();
  };
  const inferStep = () => {
    // One forward pass over the whole batch (predict would split it into 32s), as domain/ml/predict.ts does.
    tf.tidy(() => (model.predict(x, { batchSize: o.batch }) as TF.Tensor).dataSync());
  };
  const slow = name === 'cpu';
  // Warm-up: kernel set-up, weight packing, optimizer slots (created on the first step).
  for (let i = 0; i < (slow ? 1 : 3); i++) {
    trainStep();
    inferStep();
  }
  const before = tf.memory().numTensors;
  const train = timeSteps(trainStep, o.seconds, slow ? o.cpuSteps : 10_000, o.batch);
  const infer = timeSteps(inferStep, o.seconds, slow ? Math.max(3, o.cpuSteps) : 10_000, o.batch);
  const leaked = tf.memory().numTensors - before;
  if (leaked !== 0) throw new Error(`${name}: ${leaked} tensors leaked by the benchmark steps`);
  return {
    backend: name,
    detail: `${detail}, batch ${o.batch}`,
    train,
    infer,
    lossFirst: losses[0],
    lossLast: losses[losses.length - 1],
  };
}

function runInOwnProcess(
  name: BenchBackend,
  argv: string[],
): Promise<BackendResult | { backend: BenchBackend; error: string }> {
  return new Promise((resolve) => {
    const child = fork(__filename, ['--child', name, ...argv], { env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' } });
    let result: BackendResult | undefined;
    let error = '';
    child.on('message', (m: { result?: BackendResult; error?: string }) => {
      result = m.result;
      error = m.error ?? '';
    });
    child.on('exit', (code) => resolve(result ?? { backend: name, error: error || `child exited with code ${code}` }));
  });
}

function format(n: number): string {
  return n >= 100 ? Math.round(n).toString() : n.toFixed(1);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const childAt = argv.indexOf('--child');
  if (childAt >= 0) {
    const name = argv[childAt + 1] as BenchBackend;
    try {
      process.send?.({ result: await runBackend(name, parseOptions(argv)) });
    } catch (err) {
      process.send?.({ error: (err as Error).message });
    }
    return;
  }
  const o = parseOptions(argv);
  const cpus = os.cpus();
  console.log(machineLine());
  console.log(
    `model: conv3x3x32-maxpool-conv3x3x64-maxpool-dense128-dense10 relu, padding ${o.padding}, batch ${o.batch}, 28x28x1, optimizer ${o.optimizer === 'adam' ? 'adam(1e-3)' : 'sgd momentum(0.01, 0.9)'}`,
  );
  const rows: (BackendResult | { backend: BenchBackend; error: string })[] = [];
  for (const name of o.backends) {
    const r = await runInOwnProcess(name, argv);
    rows.push(r);
    if ('error' in r) {
      console.log(`${name}: not measured: ${r.error}`);
      continue;
    }
    const la = (p: Phase) => p.loadavg.map((v) => v.toFixed(2)).join(' ');
    console.log(
      `${name} (${r.detail}): train ${format(r.train.imagesPerSecond)} images/s (${r.train.steps} steps, median ${format(r.train.medianStepMs)} ms/step, cpu ${format(r.train.cpuMsPerStep)} ms/step, loadavg ${la(r.train)}; ` +
        `loss ${r.lossFirst.toFixed(3)} -> ${r.lossLast.toFixed(3)}), ` +
        `inference ${format(r.infer.imagesPerSecond)} images/s (${r.infer.steps} steps, cpu ${format(r.infer.cpuMsPerStep)} ms/step, loadavg ${la(r.infer)})`,
    );
  }
  console.log(
    JSON.stringify({
      machine: { cpu: cpus[0]?.model, cores: cpus.length, node: process.version },
      options: o,
      results: rows,
    }),
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
