/**
 * Scale simulation: one real build-up round of `subsetSearch` over a synthetic pool of 10,000,000 samples
 * (4x4x1 images, the built-in linear model, 2 members, 1 epoch on a 10,000-sample start), scored in 100k-sample
 * shards through scorePoolShards child workflows, acquiring 1,000,000, against a Temporal dev server with the
 * orchestrator and gpu workers as separate processes. Prints events per workflow run, the largest payload, the
 * share of the round spent outside activities, the workers' peak RSS, acquire's time, and an in-process top-k of
 * 1,000,000 of 10,000,000 scores (time and memory). Targets: orchestration < 1% of the round, < 10,000 events a
 * run, orchestrator RSS < 1 GiB, top-k < 5 s and < 128 MiB.
 *
 *   node dist/bench/scale.js [--samples=10000000] [--acquire=1000000] [--shard=100000] [--per-child=25]
 *                            [--slots=2] [--initial=10000] [--gaps] [--single-partition]
 *                            [--dump=FILE]
 *
 * --gaps lists the longest stretches outside activities; --dump writes every run's events as
 * `ms<TAB>run event`; --single-partition starts the dev server with one partition per task queue, as
 * `npm run server` and the demo do (infra/dev-server.ts).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import {
  activityIntervals,
  coveredMillis,
  largestPayload,
  type Interval,
  type LargestPayload,
} from '../client/history-stats';
import type { SearchConfigInput } from '../contracts/config';
import { TaskQueue } from '../contracts/task-queues';
import { randomScores } from '../domain/acquisition/acquisition-scores';
import { TopKSelector } from '../domain/acquisition/top-k';
import type { subsetSearch } from '../workflows';
import { sleep, spawnWorker, startServerProcess, type WorkerProcess } from '../test/helpers/processes';
import { numberArg } from './bench-args';
import { machineLine } from './machine';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

const samples = numberArg('samples', 10_000_000, true);
const acquire = numberArg('acquire', 1_000_000, true);
const shardSize = numberArg('shard', 100_000, true);
const perChild = numberArg('per-child', 25, true);
const slots = numberArg('slots', 2, true);
const initialSize = numberArg('initial', 10_000, true);

const MiB = 2 ** 20;
const fmt = (n: number): string => n.toLocaleString('en-US');

const config = (searchId: string): SearchConfigInput => ({
  searchId,
  dataset: { kind: 'synthetic', uri: 'synthetic:?seed=1&shape=4x4x1&classes=4&test=10000', size: samples },
  model: 'linear',
  training: { epochs: 1, batchSize: 256, learningRate: 0.01 },
  ensemble: { members: 2, checkpointEpochs: [1] },
  shardSize,
  shardsPerChild: perChild,
  scoringWindow: 8,
  initialSize,
  targets: [initialSize + acquire],
  acquisition: { function: 'entropy', step: acquire },
  evaluation: { randomBaseline: true, fullBaseline: false },
  seed: 5,
});

/** A /proc/<pid>/status field in bytes (VmRSS, VmHWM), or 0 when the process is gone. */
function procBytes(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Top-k of `k` out of `n` seeded uniform scores fed shard by shard: the selector's time and the process's peak growth. */
function timeTopK(n: number, k: number, shard: number): { seconds: number; peakMiB: number; workingMiB: number } {
  const selector = new TopKSelector({ k, seed: 3, poolSize: n });
  // Peak RSS from here on (Linux: writing 5 to clear_refs resets VmHWM to the current RSS).
  writeFileSync('/proc/self/clear_refs', '5');
  const before = procBytes(process.pid, 'VmRSS');
  let ms = 0;
  for (let start = 0; start < n; start += shard) {
    const scores = randomScores(start, Math.min(shard, n - start), 17);
    const t = performance.now();
    selector.add({ globalStart: start, scores });
    ms += performance.now() - t;
  }
  const t = performance.now();
  const result = selector.finish();
  ms += performance.now() - t;
  if (result.indices.length !== k) throw new Error(`top-k selected ${result.indices.length}, expected ${k}`);
  return {
    seconds: ms / 1000,
    peakMiB: (procBytes(process.pid, 'VmHWM') - before) / MiB,
    workingMiB: result.workingBytes / MiB,
  };
}

interface RunFigures {
  workflowId: string;
  events: number;
  historyBytes: number;
  largest: LargestPayload;
  start: number;
  end: number;
  activities: Interval[];
  /** Event times and names, for --gaps. */
  marks: Array<[number, string]>;
  acquire?: { queuedSeconds: number; runSeconds: number };
}

const millis = (e: HistoryEvent): number =>
  Number(e.eventTime?.seconds ?? 0) * 1000 + Math.floor((e.eventTime?.nanos ?? 0) / 1e6);

async function runFigures(client: Client, workflowId: string, runId?: string): Promise<RunFigures> {
  const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
  const events = history.events ?? [];
  const scheduled = events.find(
    (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'acquire',
  )?.eventId;
  const byId = (id: unknown) => (e: HistoryEvent) => String(e.eventId) === String(id);
  const startedAcquire = events.find(
    (e) => String(e.activityTaskStartedEventAttributes?.scheduledEventId) === String(scheduled),
  );
  const doneAcquire = events.find(
    (e) => String(e.activityTaskCompletedEventAttributes?.scheduledEventId) === String(scheduled),
  );
  const scheduledEvent = events.find(byId(scheduled));
  return {
    workflowId,
    events: events.length,
    historyBytes: temporal.api.history.v1.History.encode(history).finish().byteLength,
    largest: largestPayload(events),
    start: millis(events[0]!),
    end: millis(events[events.length - 1]!),
    activities: activityIntervals(events),
    marks: events.map((e) => [
      millis(e),
      `${workflowId} ${Object.keys(e).find((k) => k.endsWith('EventAttributes')) ?? '?'}`,
    ]),
    ...(scheduledEvent && startedAcquire && doneAcquire
      ? {
          acquire: {
            queuedSeconds: (millis(startedAcquire) - millis(scheduledEvent)) / 1000,
            runSeconds: (millis(doneAcquire) - millis(startedAcquire)) / 1000,
          },
        }
      : {}),
  };
}

/** Every child workflow a run started, as (workflowId, runId). */
async function childrenOf(client: Client, workflowId: string): Promise<Array<{ workflowId: string; runId: string }>> {
  const events = (await client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  return events.flatMap((e) => {
    const started = e.childWorkflowExecutionStartedEventAttributes?.workflowExecution;
    return started?.workflowId && started.runId ? [{ workflowId: started.workflowId, runId: started.runId }] : [];
  });
}

/** The longest stretches of the round with no activity running, with the events at their ends. */
function printGaps(runs: RunFigures[], start: number, end: number): void {
  const busy = runs.flatMap((r) => r.activities).sort((a, b) => a[0] - b[0]);
  const gaps: Interval[] = [];
  let at = start;
  for (const [a, b] of busy) {
    if (a > at) gaps.push([at, a]);
    at = Math.max(at, b);
  }
  if (end > at) gaps.push([at, end]);
  const marks = runs.flatMap((r) => r.marks).sort((a, b) => a[0] - b[0]);
  const near = (t: number) => marks.filter(([m]) => Math.abs(m - t) <= 2).map(([, name]) => name);
  const total = gaps.reduce((sum, [a, b]) => sum + b - a, 0);
  console.log(`gaps: ${gaps.length}, ${total} ms in all; the longest:`);
  for (const [a, b] of gaps.sort((x, y) => y[1] - y[0] - (x[1] - x[0])).slice(0, 12))
    console.log(`  ${b - a} ms at +${a - start} ms: after [${near(a).join(', ')}] before [${near(b).join(', ')}]`);
}

async function main(): Promise<void> {
  console.log(machineLine());
  const shards = Math.ceil(samples / shardSize);
  console.log(
    `pool ${fmt(samples)} samples (4x4x1, linear model, 2 members), ${fmt(shards)} shards of ${fmt(shardSize)}, ` +
      `${Math.ceil(shards / perChild)} scoring children, acquire ${fmt(acquire)}, ${slots} gpu slots`,
  );

  // Before anything else runs: the process is quiet and its peak RSS means the top-k alone.
  const topK = timeTopK(samples, acquire, shardSize);
  console.log(
    `top-k ${fmt(acquire)} of ${fmt(samples)} (in-process, ${fmt(shardSize)}-score shards): ${topK.seconds.toFixed(2)} s, ` +
      `peak RSS +${topK.peakMiB.toFixed(0)} MiB (selector arrays ${topK.workingMiB.toFixed(0)} MiB); ` +
      `target < 5 s and < 128 MiB: ${topK.seconds < 5 && topK.peakMiB < 128 ? 'met' : 'NOT met'}`,
  );

  const scratch = mkdtempSync(path.join(os.tmpdir(), 'winnow-scale-'));
  const storage = path.join(scratch, 'artifacts');
  const namespace = 'scale';
  // --single-partition: one task-queue partition, so a pickup never waits for a task forwarded between partitions.
  const singlePartition = process.argv.includes('--single-partition');
  const server = await startServerProcess({
    dbFile: path.join(scratch, 'temporal.db'),
    namespaces: [namespace],
    singlePartition,
  });
  if (singlePartition) console.log('dev server: one read and one write partition per task queue');
  const workers: WorkerProcess[] = [];
  try {
    const env = { address: server.address, namespace, storageRoot: pathToFileURL(storage).href };
    const orchestrator = spawnWorker('orchestrator', env);
    const gpu = spawnWorker('gpu', { ...env, env: { WINNOW_GPU_SLOTS: String(slots) } });
    workers.push(orchestrator, gpu);
    await Promise.all(workers.map((w) => w.ready()));

    // Compute children come and go: sample the gpu worker's process group for the largest one.
    let childPeak = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        for (const pid of gpu.groupPids())
          if (pid !== gpu.pid) childPeak = Math.max(childPeak, procBytes(pid, 'VmHWM'));
        await sleep(200);
      }
    })();

    const client = await server.client(namespace);
    const searchId = 'scale';
    const started = performance.now();
    const handle = await client.workflow.start<typeof subsetSearch>('subsetSearch', {
      taskQueue: TaskQueue.orchestrator,
      workflowId: searchId,
      args: [config(searchId)],
    });
    const result = await handle.result();
    const wallSeconds = (performance.now() - started) / 1000;
    sampling = false;
    await sampler;
    const orchestratorPeak = procBytes(orchestrator.pid, 'VmHWM');
    const gpuPeak = procBytes(gpu.pid, 'VmHWM');

    const parent = await runFigures(client, searchId);
    const children = await Promise.all(
      (await childrenOf(client, searchId)).map((c) => runFigures(client, c.workflowId, c.runId)),
    );
    const runs = [parent, ...children];
    const roundMs = parent.end - parent.start;
    const busyMs = coveredMillis(runs.flatMap((r) => r.activities));
    const orchestration = (roundMs - busyMs) / roundMs;
    const mostEvents = runs.reduce((a, b) => (b.events > a.events ? b : a));
    const largest = runs.reduce((a, b) => (b.largest.bytes > a.largest.bytes ? b : a));
    const subset = result.subsets[String(initialSize + acquire)] ? initialSize + acquire : undefined;

    console.log(
      `round: ${wallSeconds.toFixed(1)} s at the client, ${(roundMs / 1000).toFixed(1)} s in the history; ` +
        `subset of ${subset ? fmt(subset) : 'NONE'}; ${runs.length} workflow runs (1 search, ${children.length} scoring children)`,
    );
    console.log(
      `events per run: search ${fmt(parent.events)}, children ${children.map((c) => fmt(c.events)).join(', ') || '-'}; ` +
        `largest ${fmt(mostEvents.events)} (${mostEvents.workflowId}, ${(mostEvents.historyBytes / 1024).toFixed(0)} KiB of history); ` +
        `target < 10,000: ${mostEvents.events < 10_000 ? 'met' : 'NOT met'}`,
    );
    console.log(
      `largest payload: ${fmt(largest.largest.bytes)} bytes (${largest.largest.event} of ${largest.workflowId})`,
    );
    console.log(
      `orchestration: ${((roundMs - busyMs) / 1000).toFixed(2)} s of ${(roundMs / 1000).toFixed(1)} s = ${(100 * orchestration).toFixed(2)}% ` +
        `of the round outside any activity; target < 1%: ${orchestration < 0.01 ? 'met' : 'NOT met'}`,
    );
    if (process.argv.includes('--gaps')) printGaps(runs, parent.start, parent.end);
    const dump = process.argv.find((a) => a.startsWith('--dump='))?.slice('--dump='.length);
    if (dump) {
      const marks = runs.flatMap((r) => r.marks).sort((a, b) => a[0] - b[0]);
      writeFileSync(dump, marks.map(([t, name]) => `${t - parent.start}\t${name}`).join('\n') + '\n');
      console.log(`event timeline written to ${dump}`);
    }
    const acq = parent.acquire;
    console.log(
      acq
        ? `acquire (top-${fmt(acquire)} of ${fmt(samples)} in the orchestrator worker, from ${fmt(shards)} stored shards): ` +
            `${acq.runSeconds.toFixed(2)} s running, ${acq.queuedSeconds.toFixed(2)} s queued`
        : 'acquire: not found in the history',
    );
    console.log(
      `peak RSS: orchestrator worker ${(orchestratorPeak / MiB).toFixed(0)} MiB (target < 1024: ${orchestratorPeak < 2 ** 30 ? 'met' : 'NOT met'}), ` +
        `gpu worker ${(gpuPeak / MiB).toFixed(0)} MiB, largest compute child ${(childPeak / MiB).toFixed(0)} MiB (sampled every 200 ms)`,
    );
  } finally {
    await Promise.all(workers.map((w) => w.killGroup()));
    await server.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
