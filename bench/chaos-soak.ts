/**
 * Chaos soak: a build-up search of several rounds while a random worker
 * process (orchestrator or gpu, with its compute children) is SIGKILLed every
 * --every seconds and replaced at once, against a real Temporal server
 * process on loopback. Kills are bounded in number (--kills) and time
 * (--minutes). An undisturbed search with the same config runs first; the
 * bench prints the kills, the retried activities, the time lost, and whether
 * any subset or evaluation differs. Target: nothing differs, nothing lost.
 *
 *   node dist/bench/chaos-soak.js [--kills=20] [--every=15] [--minutes=40] [--gpus=3]
 *
 * A gpu activity killed mid-flight is retried only when its heartbeat times
 * out (2 minutes), so most of the time lost is heartbeat timeouts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import type { SearchConfigInput } from '../contracts/config';
import { mulberry32 } from '../contracts/seeded-hash';
import { TaskQueue } from '../contracts/task-queues';
import { parseSubsetManifest } from '../domain/acquisition/subset-manifest';
import { openStore } from '../domain/storage/open-store';
import type { SearchResult, subsetSearch } from '../workflows';
import { completedActivities } from '../test/helpers/activity-history';
import { sleep, spawnWorker, startServerProcess, type WorkerKind, type WorkerProcess } from '../test/helpers/processes';
import { numberArg } from './bench-args';
import { machineLine } from './machine';

const config = (searchId: string): SearchConfigInput => ({
  searchId,
  dataset: { kind: 'synthetic', uri: 'synthetic:?seed=6&shape=12x12x1&classes=4&test=200', size: 600 },
  modelWidth: 0.25,
  training: { epochs: 4, batchSize: 16, learningRate: 0.003 },
  ensemble: { members: 3, checkpointEpochs: [2, 4] },
  shardSize: 100,
  initialSize: 60,
  targets: [120, 180, 240, 300],
  acquisition: { function: 'entropy', step: 60 },
  evaluation: { randomBaseline: true, fullBaseline: false },
  seed: 11,
});

interface Outcome {
  seconds: number;
  result: SearchResult;
  subsets: Record<string, number[]>;
  retried: number;
  activities: number;
}

/** Every run of a workflow that continued as new, oldest first. */
async function allRuns(client: Client, workflowId: string, firstRunId: string): Promise<WorkflowHandle[]> {
  const runs: WorkflowHandle[] = [];
  for (let runId: string | undefined = firstRunId; runId;) {
    const handle: WorkflowHandle = client.workflow.getHandle(workflowId, runId);
    runs.push(handle);
    const events: temporal.api.history.v1.IHistoryEvent[] = (await handle.fetchHistory()).events ?? [];
    runId =
      events.find((e) => e.workflowExecutionContinuedAsNewEventAttributes)
        ?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
  }
  return runs;
}

async function main(): Promise<void> {
  const maxKills = numberArg('kills', 20, true);
  const every = numberArg('every', 15);
  const minutes = numberArg('minutes', 40);
  const gpuCount = numberArg('gpus', 3, true);
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'winnow-chaos-'));
  const storage = path.join(scratch, 'artifacts');
  const store = openStore(pathToFileURL(storage).href);
  const namespaces = { calm: 'chaos-calm', storm: 'chaos-storm' };
  const server = await startServerProcess({
    dbFile: path.join(scratch, 'temporal.db'),
    namespaces: Object.values(namespaces),
  });
  const workers = new Set<WorkerProcess>();
  const startWorker = (kind: WorkerKind, namespace: string): WorkerProcess => {
    const w = spawnWorker(kind, { address: server.address, namespace, storageRoot: storage });
    workers.add(w);
    return w;
  };
  const subsetsOf = async (result: SearchResult): Promise<Record<string, number[]>> => {
    const out: Record<string, number[]> = {};
    for (const [size, uri] of Object.entries(result.subsets)) {
      out[size] = [...parseSubsetManifest((await store.get(uri)).toString('utf8'), uri).indices].sort((a, b) => a - b);
    }
    return out;
  };
  const run = async (
    namespace: string,
    searchId: string,
    during?: (done: () => boolean) => Promise<void>,
  ): Promise<Outcome> => {
    const client = await server.client(namespace);
    const started = performance.now();
    const handle = await client.workflow.start<typeof subsetSearch>('subsetSearch', {
      taskQueue: TaskQueue.orchestrator,
      workflowId: searchId,
      args: [config(searchId)],
    });
    let finished = false;
    const chaos = during?.(() => finished);
    const result = await handle.result().finally(() => (finished = true));
    await chaos;
    const seconds = (performance.now() - started) / 1000;
    const activities = (
      await Promise.all((await allRuns(client, searchId, handle.firstExecutionRunId)).map(completedActivities))
    ).flat();
    return {
      seconds,
      result,
      subsets: await subsetsOf(result),
      retried: activities.filter((a) => a.attempt > 1).length,
      activities: activities.length,
    };
  };

  try {
    console.log(machineLine());
    // Undisturbed: one orchestrator, the same number of gpu workers.
    const calmWorkers = [
      startWorker('orchestrator', namespaces.calm),
      ...Array.from({ length: gpuCount }, () => startWorker('gpu', namespaces.calm)),
    ];
    await Promise.all(calmWorkers.map((w) => w.ready()));
    const calm = await run(namespaces.calm, 'chaos-calm');
    await Promise.all(calmWorkers.map((w) => w.stop()));
    console.log(`undisturbed: ${calm.seconds.toFixed(0)} s, ${calm.activities} activities, ${calm.retried} retried`);

    const live: WorkerProcess[] = [
      startWorker('orchestrator', namespaces.storm),
      startWorker('orchestrator', namespaces.storm),
      ...Array.from({ length: gpuCount }, () => startWorker('gpu', namespaces.storm)),
    ];
    await Promise.all(live.map((w) => w.ready()));
    const kills: Record<WorkerKind, number> = { orchestrator: 0, gpu: 0 };
    const random = mulberry32(3);
    const deadline = Date.now() + minutes * 60_000;
    const storm = await run(namespaces.storm, 'chaos-storm', async (done) => {
      while (!done() && kills.orchestrator + kills.gpu < maxKills && Date.now() < deadline) {
        await sleep(every * 1000);
        if (done()) break;
        const at = Math.floor(random() * live.length);
        const victim = live[at];
        await victim.killGroup();
        kills[victim.kind]++;
        live[at] = startWorker(victim.kind, namespaces.storm);
        console.log(
          `  kill ${kills.orchestrator + kills.gpu}: ${victim.kind} worker ${victim.pid}, replaced by ${live[at].pid}`,
        );
      }
    });
    const sameSubsets = JSON.stringify(storm.subsets) === JSON.stringify(calm.subsets);
    const rows = (r: SearchResult) => JSON.stringify(r.evaluations.map((e) => [e.size, e.activeLearning, e.random]));
    const sameEvaluations = rows(storm.result) === rows(calm.result);
    console.log(
      `with chaos: ${storm.seconds.toFixed(0)} s, ${kills.orchestrator + kills.gpu} kills (${kills.orchestrator} orchestrator, ${kills.gpu} gpu), ` +
        `${storm.activities} activities, ${storm.retried} retried; time lost ${(storm.seconds - calm.seconds).toFixed(0)} s`,
    );
    console.log(
      `subsets ${sameSubsets ? 'identical' : 'DIFFER'} (${Object.keys(calm.subsets).join(', ')}); evaluations ${sameEvaluations ? 'identical' : 'DIFFER'}; ` +
        `target (nothing differs, nothing lost): ${sameSubsets && sameEvaluations ? 'met' : 'NOT met'}`,
    );
    if (!sameEvaluations) console.log(`  undisturbed ${rows(calm.result)}\n  with chaos  ${rows(storm.result)}`);
  } finally {
    await Promise.all([...workers].map((w) => w.killGroup()));
    await server.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
