/**
 * Acquisition at pool scale: fold throughput (GB of float32 probabilities
 * per second, one core), scoring time, and time + extra memory of exact
 * top-k (500,000 of 1,280,000 scores over 50k-sample shards). The fold is
 * timed three ways, interleaved, and all three must agree bit for bit; how,
 * and why its inputs come from DRAM: docs/benchmarks.md, "Acquisition".
 *
 *   node dist/bench/acquisition.js            full sizes (about 2 min on 2 loaded cores)
 *   node dist/bench/acquisition.js --quick    small sizes, to check it runs
 */
import os from 'node:os';
import v8 from 'node:v8';
import vm from 'node:vm';
import {
  createAccumulator,
  foldKernelStatus,
  foldMember,
  type AccumulatorShape,
  type EnsembleAccumulator,
  type FoldKernel,
} from '../domain/acquisition/ensemble-accumulator';
import { scoreAccumulator } from '../domain/acquisition/acquisition-scores';
import { selectTopK, type TopKResult } from '../domain/acquisition/top-k';
import { serialiseScoreShard, type ScoreShard } from '../domain/acquisition/score-shard-codec';
import { selectTopKFromChunks } from '../domain/acquisition/acquisition-files';
import { serialiseAccumulator, parseAccumulator } from '../domain/acquisition/accumulator-codec';
import { acquisitionFunctions, parseSearchConfig } from '../contracts/config';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const quick = process.argv.includes('--quick');

/** xorshift32 PRNG: deterministic synthetic data. */
function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

/** Softmax of random logits, peaked like a trained classifier's output, some rows with exact zeros. */
function memberPredictions(rows: number, classes: number, seed: number): Float32Array {
  const rand = prng(seed);
  const out = new Float32Array(rows * classes);
  const logits = new Float64Array(classes);
  for (let r = 0; r < rows; r++) {
    const hot = Math.floor(rand() * classes);
    let max = -Infinity;
    for (let c = 0; c < classes; c++) {
      logits[c] = 3 * (rand() - 0.5) + (c === hot ? 4 * rand() : 0);
      if (logits[c]! > max) max = logits[c]!;
    }
    let total = 0;
    for (let c = 0; c < classes; c++) {
      logits[c] = Math.exp(logits[c]! - max);
      total += logits[c]!;
    }
    const zeroRow = r % 97 === 0;
    for (let c = 0; c < classes; c++) out[r * classes + c] = zeroRow ? (c === hot ? 1 : 0) : logits[c]! / total;
  }
  return out;
}

function seconds(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

const MiB = 1024 * 1024;

const foldVariants = ['js', 'wasm in place', 'wasm copied'] as const;
type FoldVariant = (typeof foldVariants)[number];

interface VariantFigures {
  variant: FoldVariant;
  foldSeconds: number;
  gbPerSecond: number;
  /** CPU time of this process during the folds: on a loaded machine, wall time also counts other processes' turns. */
  foldCpuSeconds: number;
  gbPerCpuSecond: number;
}

interface FoldFigures {
  samples: number;
  classes: number;
  shardSamples: number;
  members: number;
  /** Per variant. */
  gigabytes: number;
  variants: VariantFigures[];
  scoreSecondsPerFunction: Record<string, number>;
}

/** An accumulator with ordinary arrays, as parseAccumulator returns: the kernel copies its sums in and out. */
const plainAccumulator = (shape: AccumulatorShape): EnsembleAccumulator =>
  createAccumulator(shape, { memory: 'plain' });

function accumulatorFor(
  variant: FoldVariant,
  shape: AccumulatorShape,
): { acc: EnsembleAccumulator; kernel: FoldKernel } {
  if (variant === 'js') return { acc: plainAccumulator(shape), kernel: 'js' };
  if (variant === 'wasm copied') return { acc: plainAccumulator(shape), kernel: 'wasm' };
  return { acc: createAccumulator(shape), kernel: 'wasm' };
}

function sameBits(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

function benchFold(
  samples: number,
  classes: number,
  shardSamples: number,
  members: number,
  buffersCount: number,
): FoldFigures {
  const buffers = Array.from({ length: buffersCount }, (_, v) => memberPredictions(shardSamples, classes, 1000 + v));
  const variants = foldVariants.filter((v) => v === 'js' || foldKernelStatus().available);
  const wall = new Map<FoldVariant, number>(variants.map((v) => [v, 0]));
  const cpu = new Map<FoldVariant, number>(variants.map((v) => [v, 0]));
  const scoreSeconds: Record<string, number> = {};
  let sink = 0;
  let first = 0;
  for (let start = 0, shard = 0; start < samples; start += shardSamples, shard++) {
    const done = new Map<FoldVariant, EnsembleAccumulator>();
    for (let i = 0; i < variants.length; i++) {
      const variant = variants[(shard + i) % variants.length]!;
      const { acc, kernel } = accumulatorFor(variant, { samples: shardSamples, classes, globalStart: start });
      const t = process.hrtime.bigint();
      const cpuStart = process.cpuUsage();
      for (let k = 0; k < members; k++) foldMember(acc, buffers[(first + k) % buffersCount]!, { kernel });
      wall.set(variant, wall.get(variant)! + seconds(t));
      const used = process.cpuUsage(cpuStart);
      cpu.set(variant, cpu.get(variant)! + (used.user + used.system) / 1e6);
      done.set(variant, acc);
    }
    first += members;
    const reference = done.get('js')!;
    for (const [variant, acc] of done) {
      if (
        !sameBits(acc.probabilitySums, reference.probabilitySums) ||
        !sameBits(acc.entropySums, reference.entropySums) ||
        !sameBits(acc.votes, reference.votes)
      ) {
        throw new Error(`fold '${variant}' differs from the JS fold on the shard at ${start}`);
      }
    }
    const scored = done.get(variants[variants.length > 1 ? 1 : 0]!)!;
    for (const fn of acquisitionFunctions) {
      const ts = process.hrtime.bigint();
      const scores = scoreAccumulator(scored, fn, { seed: 7 });
      scoreSeconds[fn] = (scoreSeconds[fn] ?? 0) + seconds(ts);
      sink += scores[0]!;
    }
  }
  if (!Number.isFinite(sink)) throw new Error('non-finite score');
  const gigabytes = (samples * classes * 4 * members) / 1e9;
  return {
    samples,
    classes,
    shardSamples,
    members,
    gigabytes,
    variants: variants.map((variant) => ({
      variant,
      foldSeconds: wall.get(variant)!,
      gbPerSecond: gigabytes / wall.get(variant)!,
      foldCpuSeconds: cpu.get(variant)!,
      gbPerCpuSecond: gigabytes / cpu.get(variant)!,
    })),
    scoreSecondsPerFunction: scoreSeconds,
  };
}

function printFold(f: FoldFigures, note = ''): void {
  console.log(
    `fold C=${f.classes}: ${f.samples} samples${note} in shards of ${f.shardSamples}, K=${f.members}, ${f.gigabytes.toFixed(2)} GB per variant:`,
  );
  for (const v of f.variants) {
    console.log(
      `  ${v.variant.padEnd(14)} ${v.gbPerSecond.toFixed(2)} GB/s wall (${v.foldSeconds.toFixed(2)} s), ${v.gbPerCpuSecond.toFixed(2)} GB per CPU-second`,
    );
  }
  console.log(
    `  scoring all ${f.samples} samples, seconds per function: ${JSON.stringify(f.scoreSecondsPerFunction, (_, v) => (typeof v === 'number' ? Number(v.toFixed(3)) : v))}`,
  );
}

function scoreShards(total: number, shardSamples: number, levels: number | null, seed: number): ScoreShard[] {
  const rand = prng(seed);
  const shards: ScoreShard[] = [];
  for (let start = 0; start < total; start += shardSamples) {
    const scores = new Float32Array(Math.min(shardSamples, total - start));
    for (let i = 0; i < scores.length; i++)
      scores[i] = levels === null ? rand() * 2.3 : Math.floor(rand() * levels) / levels;
    shards.push({ globalStart: start, scores });
  }
  return shards;
}

interface TopKFigures {
  label: string;
  total: number;
  k: number;
  excluded: number;
  seconds: number;
  cpuSeconds: number;
  selected: number;
  selectorWorkingMiB: number;
  extraHeapMiB: number;
  extraArrayBuffersMiB: number;
  extraRssMiB: number;
}

async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
}

async function measureTopK(
  label: string,
  run: () => TopKResult | Promise<TopKResult>,
  total: number,
  k: number,
  excluded: number,
): Promise<TopKFigures> {
  await settle();
  const before = process.memoryUsage();
  const t = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  return Promise.resolve(run()).then((result) => {
    const elapsed = seconds(t);
    const used = process.cpuUsage(cpu);
    // No gc before this reading: garbage made during the call is still counted, so this bounds the peak from above for the JS heap and array buffers.
    const after = process.memoryUsage();
    return {
      label,
      total,
      k,
      excluded,
      seconds: elapsed,
      cpuSeconds: (used.user + used.system) / 1e6,
      selected: result.indices.length,
      selectorWorkingMiB: result.workingBytes / MiB,
      extraHeapMiB: (after.heapUsed - before.heapUsed) / MiB,
      extraArrayBuffersMiB: (after.arrayBuffers - before.arrayBuffers) / MiB,
      extraRssMiB: (after.rss - before.rss) / MiB,
    };
  });
}

function defaultShardSize(): number {
  const parsed = parseSearchConfig({ dataset: { kind: 'synthetic' }, targets: [1] });
  if (!parsed.ok) throw new Error(parsed.problems.join('; '));
  return parsed.config.shardSize;
}

async function main(): Promise<void> {
  const cpus = os.cpus();
  console.log(
    `machine: ${cpus[0]?.model ?? 'unknown'}, ${cpus.length} cores, Node ${process.version}, ${os.platform()} ${os.arch()}`,
  );
  console.log(
    `load average at start (1/5/15 min): ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );

  const kernel = foldKernelStatus();
  console.log(`fold kernel: ${kernel.available ? 'WebAssembly SIMD available' : kernel.reason}`);
  // Shards of the config's default shardSize: the accumulator one scoreShard activity folds into. 100 distinct
  // member buffers of 10k x 10 (40 MB) exceed the L3 cache, so every member is read from DRAM.
  const shard = defaultShardSize();
  const fold10 = quick
    ? benchFold(100_000, 10, shard, 10, 4)
    : benchFold(1_000_000, 10, shard, 100, Math.ceil(40e6 / (shard * 10 * 4)));
  printFold(fold10, ' (shards of the default shardSize)');
  console.log(
    `load average after fold C=10: ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );

  const fold1000 = quick ? benchFold(2_000, 1000, 1_000, 10, 3) : benchFold(20_000, 1000, 10_000, 100, 3);
  printFold(fold1000, ' (fewer than 1M to bound time and memory: an accumulator of 10k x 1000 is 100 MB)');
  console.log(
    `load average after fold C=1000: ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );

  {
    const acc = createAccumulator({ samples: 50_000, classes: 10 });
    foldMember(acc, memberPredictions(50_000, 10, 5));
    const t = process.hrtime.bigint();
    const bytes = serialiseAccumulator(acc);
    const ts = seconds(t);
    const tp = process.hrtime.bigint();
    parseAccumulator(bytes);
    console.log(
      `accumulator 50k x 10: ${(bytes.length / MiB).toFixed(1)} MiB, serialise ${(ts * 1000).toFixed(1)} ms, parse+verify ${(seconds(tp) * 1000).toFixed(1)} ms`,
    );
  }

  const total = quick ? 128_000 : 1_280_000;
  const k = quick ? 50_000 : 500_000;
  const shardSamples = 50_000;
  const figures: TopKFigures[] = [];
  {
    const shards = scoreShards(total, shardSamples, null, 11);
    figures.push(await measureTopK('continuous scores', () => selectTopK(shards, { k, seed: 3 }), total, k, 0));
    const exclude = new Uint32Array(Math.floor(total / 10));
    for (let i = 0; i < exclude.length; i++) exclude[i] = i * 10;
    figures.push(
      await measureTopK(
        'continuous, 10% excluded',
        () => selectTopK(shards, { k, seed: 3, exclude }),
        total,
        k,
        exclude.length,
      ),
    );
    const tied = scoreShards(total, shardSamples, 64, 12);
    figures.push(await measureTopK('64 distinct scores (ties)', () => selectTopK(tied, { k, seed: 3 }), total, k, 0));
    const files = shards.map((s) => ({ name: `shard-${s.globalStart}`, bytes: serialiseScoreShard(s) }));
    figures.push(
      await measureTopK(
        'from serialised shards (parse + sha256)',
        () => selectTopKFromChunks(files, { k, seed: 3 }),
        total,
        k,
        0,
      ),
    );
  }
  for (const f of figures) {
    console.log(
      `top-k ${f.label}: ${f.k} of ${f.total} (${f.excluded} excluded) -> ${f.selected} in ${(f.seconds * 1000).toFixed(0)} ms wall, ${(f.cpuSeconds * 1000).toFixed(0)} ms CPU; selector arrays ${f.selectorWorkingMiB.toFixed(1)} MiB; process deltas: heap ${f.extraHeapMiB.toFixed(1)} MiB, array buffers ${f.extraArrayBuffersMiB.toFixed(1)} MiB, rss ${f.extraRssMiB.toFixed(1)} MiB`,
    );
  }
  console.log(`scores themselves: ${((total * 4) / MiB).toFixed(1)} MiB`);
  console.log(
    `load average at end (1/5/15 min): ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  console.log(
    JSON.stringify({
      machine: cpus[0]?.model,
      cores: cpus.length,
      node: process.version,
      loadavg: os.loadavg(),
      fold: [fold10, fold1000],
      topK: figures,
    }),
  );
}

void main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
