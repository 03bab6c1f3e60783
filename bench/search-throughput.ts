/**
 * Images/s a real search delivers, against the kernels: bench:throughput's cnn-small ceiling (tfjs-node,
 * Adam) measured before and after (their mean is the ceiling), and between them issue 20's demo search
 * (2 members x checkpoints [2, 3], 3 epochs, 2,000 -> 4,000 -> 6,000 on Fashion-MNIST, width 1 so the ceiling
 * applies) through a dev server and both workers in this process. Training delivered = member images over the train steps' wall time; scoring = pool x checkpoints
 * over the score steps' wall time, both as the workflow timed them. Target: >= 80% of the ceiling. It also
 * prints the search's compute floor: its trained images and predictions (searchWork) at the ceiling's rates,
 * one task at a time.
 *
 *   node dist/bench/search-throughput.js [--slots=1] [--reference-seconds=6]
 *
 * Each run starts a fresh search (its own history file and store under a temporary folder).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseSearchConfig } from '../contracts/config';
import { formatResultTable } from '../client/result-table';
import { numberArg } from './bench-args';
import { kernelCeiling, type KernelCeiling } from './kernel-ceiling';
import { machineLine } from './machine';
import { searchWork } from './reproduce-plan';
import { runSearch, watchProgress, withBenchWorkers, type Log } from './search-runner';
import {
  computeFloorSeconds,
  issue20DemoConfig,
  rateOf,
  searchThroughput,
  type StepWork,
} from './search-throughput-figures';

const slots = numberArg('slots', 1, true);
const referenceSeconds = numberArg('reference-seconds', 6, true);
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

function line(label: string, step: StepWork, ceiling: number | undefined, unit: string): string {
  const rate = rateOf(step);
  const share = ceiling ? (100 * rate) / ceiling : Number.NaN;
  const verdict = Number.isFinite(share) ? `; target >= 80%: ${share >= 80 ? 'met' : 'NOT met'}` : '';
  return (
    `${label}: ${fmt(step.images)} ${unit} in ${step.seconds.toFixed(1)} s = ${fmt(rate)}/s` +
    (ceiling ? `, ${share.toFixed(0)}% of bench:throughput's ${fmt(ceiling)} (mean of before and after)` : '') +
    verdict
  );
}

function describeCeiling(c: KernelCeiling | undefined): string {
  return c ? `train ${fmt(c.train)} images/s, inference ${fmt(c.infer)} images/s` : 'could not run here';
}

async function main(): Promise<void> {
  const log: Log = (l) => console.log(l);
  log(machineLine());
  const before = await kernelCeiling(referenceSeconds);
  log(`bench:throughput (tfjs-node, Adam) before the search: ${describeCeiling(before)}`);
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'winnow-search-throughput-'));
  // The workers in this process store under the scratch folder, and the id is new: every run is a fresh search.
  process.env.WINNOW_STORAGE_ROOT = pathToFileURL(path.join(scratch, 'artifacts')).href;
  try {
    const outcome = await withBenchWorkers(
      { dbFile: path.join(scratch, 'temporal.db'), slots, log },
      async (client) => {
        const inFlight = new Map<string, string>();
        const started = Date.now();
        const watcher = watchProgress(client, inFlight, started, log, 10_000);
        try {
          return await runSearch(
            client,
            { name: 'issue-20 demo', baseId: `search-throughput-${Date.now()}`, config: issue20DemoConfig },
            inFlight,
            log,
          );
        } finally {
          clearInterval(watcher);
        }
      },
    );
    // Measured again after the search and averaged: the ceiling moves with the machine's load and clock.
    const after = await kernelCeiling(referenceSeconds);
    log(`bench:throughput (tfjs-node, Adam) after the search: ${describeCeiling(after)}`);
    const ceiling =
      before && after
        ? { train: (before.train + after.train) / 2, infer: (before.infer + after.infer) / 2 }
        : undefined;
    if (!outcome.result) throw new Error(`the search did not finish: ${outcome.error ?? 'unknown'}`);
    const parsed = parseSearchConfig(issue20DemoConfig);
    if (!parsed.ok) throw new Error(parsed.problems.join('; '));
    const result = outcome.result;
    const figures = searchThroughput(parsed.config, result.poolSize, result.rounds);
    // Fashion-MNIST's test split: 10,000 images.
    const work = searchWork(parsed.config, result.poolSize, 10_000);
    const search = result.rounds.reduce(
      (a, r) => a + r.seconds.train + r.seconds.score + r.seconds.acquire + r.seconds.evaluate,
      0,
    );
    log(formatResultTable(result));
    log(`search: ${figures.rounds} rounds, ${search.toFixed(1)} s in its steps, ${slots} gpu slot(s)`);
    log(line('training in the search', figures.train, ceiling?.train, 'images'));
    log(line('scoring in the search', figures.score, ceiling?.infer, 'predictions'));
    log(
      `the whole search: ${fmt(work.trainSampleEpochs)} images trained (members and evaluation models), ` +
        `${fmt(work.predictions)} predictions (pool and test)`,
    );
    if (ceiling)
      log(
        `compute floor at bench:throughput's rates, one task at a time: ${computeFloorSeconds(work, ceiling).toFixed(1)} s ` +
          `(the search took ${search.toFixed(1)} s; target <= 60 s)`,
      );
    log(
      JSON.stringify({ machine: machineLine(), slots, before, after, ceiling, figures, work, searchSeconds: search }),
    );
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
