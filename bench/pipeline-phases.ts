/**
 * Where a round's compute time goes: the demo's round shape (members trained
 * on a Fashion-MNIST subset, the pool scored in shards with every
 * checkpoint, a few evaluations) run task by task through the compute
 * children, once with a fresh child per task (`cold`, the behaviour before
 * warm children) and once with warm children (`warm`). Prints seconds per
 * phase per task kind, the images/s the pipeline delivered, and the kernel
 * ceiling bench:throughput measures in the same run.
 *
 *   node dist/bench/pipeline-phases.js [--modes=cold,warm] [--subset=4000] [--epochs=3] [--members=2]
 *        [--shard-size=15000] [--shards=4] [--evaluations=3] [--reference-seconds=4]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { closeIdleChildren, runInChild } from '../compute/run-child';
import { addPhaseSeconds, taskPhases, type PhaseSeconds } from '../compute/phase-clock';
import type { EvaluateResult } from '../compute/tasks/evaluate';
import type { ScoreShardResult } from '../compute/tasks/score-shard';
import type { TrainMemberResult } from '../compute/tasks/train-member';
import { drawRandomSubset } from '../domain/acquisition/subset-steps';
import { openDataset } from '../domain/data';
import { defaultTrainingSettings } from '../domain/ml/train';
import { artifactPaths } from '../contracts/artifact-paths';
import { numberArg } from './bench-args';
import { kernelCeiling } from './kernel-ceiling';
import { machineLine } from './machine';

type Mode = 'cold' | 'warm';

interface KindTotals {
  tasks: number;
  wallSeconds: number;
  images: number;
  phases: PhaseSeconds;
}

interface ModeResult {
  mode: Mode;
  train: KindTotals;
  score: KindTotals;
  evaluate: KindTotals;
}

const emptyTotals = (): KindTotals => ({ tasks: 0, wallSeconds: 0, images: 0, phases: {} });

async function timed<R extends { phases?: PhaseSeconds }>(
  totals: KindTotals,
  images: number,
  run: () => Promise<R>,
): Promise<R> {
  const started = performance.now();
  const result = await run();
  totals.wallSeconds += (performance.now() - started) / 1000;
  totals.tasks++;
  totals.images += images;
  totals.phases = addPhaseSeconds(totals.phases, result.phases);
  return result;
}

async function runMode(mode: Mode, root: string, o: Options, subsetUri: string): Promise<ModeResult> {
  closeIdleChildren();
  const warm = mode === 'warm';
  const storageRoot = `file://${root}`;
  const dataset = { kind: 'fashion-mnist' as const };
  const searchId = `bench-${mode}`;
  const result: ModeResult = { mode, train: emptyTotals(), score: emptyTotals(), evaluate: emptyTotals() };
  const checkpointEpochs = o.epochs > 1 ? [o.epochs - 1, o.epochs] : [o.epochs];
  const checkpoints: string[] = [];
  for (let m = 0; m < o.members; m++) {
    const trained = await timed(result.train, o.subset * o.epochs, () =>
      runInChild<TrainMemberResult>(
        'trainMember',
        {
          storageRoot,
          dataset,
          model: { name: 'cnn-small' },
          training: { ...defaultTrainingSettings, epochs: o.epochs },
          subsetUri,
          memberKey: artifactPaths.member(searchId, 0, m),
          checkpointEpochs,
          seed: 100 + m,
          context: `bench member ${m}`,
        },
        { warm },
      ),
    );
    checkpoints.push(...trained.checkpoints.map((c) => c.uri));
  }
  for (let s = 0; s < o.shards; s++) {
    await timed(result.score, o.shardSize * checkpoints.length, () =>
      runInChild<ScoreShardResult>(
        'scoreShard',
        {
          storageRoot,
          dataset,
          start: s * o.shardSize,
          count: o.shardSize,
          checkpoints,
          function: 'entropy',
          seed: 7,
          outputKey: artifactPaths.scoreShard(searchId, 0, s),
        },
        { warm },
      ),
    );
  }
  for (let e = 0; e < o.evaluations; e++) {
    await timed(result.evaluate, 10_000, () =>
      runInChild<EvaluateResult>(
        'evaluate',
        { storageRoot, dataset, split: 'test', checkpoints: [checkpoints[e % checkpoints.length]] },
        { warm },
      ),
    );
  }
  closeIdleChildren();
  return result;
}

interface Options {
  modes: Mode[];
  subset: number;
  epochs: number;
  members: number;
  shardSize: number;
  shards: number;
  evaluations: number;
  referenceSeconds: number;
}

function parseOptions(argv: string[]): Options {
  const raw = argv.find((a) => a.startsWith('--modes='))?.slice('--modes='.length);
  const modes = (raw ?? 'cold,warm').split(',') as Mode[];
  for (const m of modes) if (m !== 'cold' && m !== 'warm') throw new Error(`--modes: ${m} is not cold or warm`);
  return {
    modes,
    subset: numberArg('subset', 4000, true),
    epochs: numberArg('epochs', 3, true),
    members: numberArg('members', 2, true),
    shardSize: numberArg('shard-size', 15_000, true),
    shards: numberArg('shards', 4, true),
    evaluations: numberArg('evaluations', 3, true),
    referenceSeconds: numberArg('reference-seconds', 4, true),
  };
}

const fmt = (n: number): string => (n >= 100 ? Math.round(n).toString() : n.toFixed(2));

function printKind(label: string, t: KindTotals, ceiling: number | undefined): void {
  const rate = t.images / t.wallSeconds;
  const phases = taskPhases
    .filter((p) => t.phases[p] !== undefined)
    .map((p) => `${p} ${fmt(t.phases[p] ?? 0)}`)
    .join(', ');
  const inside = Object.values(t.phases).reduce((a, b) => a + (b ?? 0), 0);
  const share = ceiling ? `, ${((100 * rate) / ceiling).toFixed(0)}% of bench:throughput's ${fmt(ceiling)}` : '';
  console.log(
    `  ${label}: ${t.tasks} tasks, ${fmt(t.wallSeconds)} s, ${fmt(rate)} images/s delivered${share}; ` +
      `phases (s): ${phases}; unaccounted ${fmt(t.wallSeconds - inside)} (IPC, serialisation)`,
  );
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  console.log(machineLine());
  console.log(
    `round: ${o.members} members x ${o.epochs} epochs on ${o.subset} Fashion-MNIST images, ${o.shards} shards of ${o.shardSize} scored, ${o.evaluations} evaluations on 10,000 test images; cnn-small, one task at a time`,
  );
  const root = mkdtempSync(path.join(os.tmpdir(), 'winnow-pipeline-'));
  // The workers' store root: the children inherit it and refuse any storageRoot outside it.
  process.env.WINNOW_STORAGE_ROOT = `file://${root}`;
  try {
    const dataset = await openDataset({ kind: 'fashion-mnist' });
    const results: ModeResult[] = [];
    for (const mode of o.modes) {
      const subset = await drawRandomSubset({
        storageRoot: `file://${root}`,
        key: `bench-${mode}/round-0/subset.json`,
        size: o.subset,
        poolSize: dataset.info.samples.train,
        seed: 3,
        fingerprint: 'bench',
        round: 0,
      });
      results.push(await runMode(mode, root, o, subset.uri));
    }
    const ceiling = await kernelCeiling(o.referenceSeconds);
    console.log(
      ceiling
        ? `bench:throughput (tfjs-node, same run): train ${fmt(ceiling.train)} images/s, inference ${fmt(ceiling.infer)} images/s`
        : 'bench:throughput could not run here: no kernel ceiling to compare with',
    );
    for (const r of results) {
      const total = r.train.wallSeconds + r.score.wallSeconds + r.evaluate.wallSeconds;
      console.log(`${r.mode} children: ${fmt(total)} s in all`);
      printKind('train', r.train, ceiling?.train);
      printKind('score', r.score, ceiling?.infer);
      printKind('evaluate', r.evaluate, ceiling?.infer);
    }
    console.log(JSON.stringify({ machine: machineLine(), options: o, ceiling, results }));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
