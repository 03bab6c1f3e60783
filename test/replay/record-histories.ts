/**
 * Records the replay corpus: small searches run on a real dev server with
 * both workers, every run's history written to test/replay/histories/ as a
 * binary History protobuf (`<workflowId>.<runId>.binpb`; the SDK's JSON
 * helper trips over two protobufjs versions in the tree). Run it on the code
 * whose histories running searches have (before a workflow change), then
 * commit the files; test/unit/replay-histories.test.ts replays them.
 *
 *   npm run build && npm run replay:record [-- OUT_DIR] [--only=case,case]
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { temporal } from '@temporalio/proto';
import { TaskQueue } from '../../contracts/task-queues';
import { subsetSearch } from '../../workflows';
import { pauseSignal, progressQuery, resumeSignal } from '../../workflows/definitions';
import { pendingActivities } from '../helpers/activity-history';
import { spawnWorker, waitFor } from '../helpers/processes';
import { startDevServerEnv, withWorkers } from '../helpers/temporal';
import { replayCases, type ReplayCase } from './replay-cases';

async function runIds(client: Client, workflowId: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const w of client.workflow.list({
    query: `WorkflowId = '${workflowId}' OR WorkflowId STARTS_WITH '${workflowId}/'`,
  })) {
    ids.push(`${w.workflowId} ${w.runId}`);
  }
  return ids;
}

async function waitForPhase(handle: WorkflowHandle<typeof subsetSearch>, phase: string): Promise<void> {
  for (let i = 0; i < 3000; i++) {
    if ((await handle.query(progressQuery)).phase === phase) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${handle.workflowId} never reached ${phase}`);
}

async function writeHistories(client: Client, name: string, out: string): Promise<void> {
  for (const line of await runIds(client, name)) {
    const [workflowId, runId] = line.split(' ');
    const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    const file = path.join(out, `${encodeURIComponent(workflowId)}.${runId.slice(0, 8)}.binpb`);
    const History = temporal.api.history.v1.History;
    writeFileSync(file, History.encode(History.fromObject(history)).finish());
    console.log(`wrote ${path.relative(process.cwd(), file)} (${history.events?.length ?? 0} events)`);
  }
}

/**
 * Runs the case with a gpu worker process that is SIGKILLed (with its compute
 * child) while a member trains, as when its machine dies; a fresh process
 * retries the member once the heartbeat times out (2 minutes).
 */
async function recordWorkerKill(env: TestWorkflowEnvironment, c: ReplayCase): Promise<void> {
  const storageRoot = process.env.WINNOW_STORAGE_ROOT!;
  const spawnGpu = () =>
    spawnWorker('gpu', { address: env.address, namespace: env.namespace ?? 'default', storageRoot });
  await withWorkers(env, ['orchestrator'], async () => {
    const first = spawnGpu();
    await first.ready();
    const handle = await env.client.workflow.start(subsetSearch, {
      taskQueue: TaskQueue.orchestrator,
      workflowId: c.name,
      args: [c.config],
    });
    await waitFor(
      'a member training on the first gpu worker',
      async () =>
        (await pendingActivities(handle)).some((p) => p.type === 'trainMember' && p.state === 'STARTED')
          ? true
          : undefined,
      300,
    );
    await first.killGroup();
    const second = spawnGpu();
    try {
      await second.ready();
      await handle.result();
    } finally {
      await second.stop();
    }
  });
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const only = args
    .find((a) => a.startsWith('--only='))
    ?.slice('--only='.length)
    .split(',');
  const positional = args.filter((a) => !a.startsWith('--'));
  const out = path.resolve(positional[0] ?? path.join(__dirname, '..', '..', '..', 'test', 'replay', 'histories'));
  const cases = replayCases.filter((c) => only === undefined || only.includes(c.name));
  if (only && cases.length !== only.length)
    throw new Error(`--only: known cases are ${replayCases.map((c) => c.name).join(', ')}`);
  mkdirSync(out, { recursive: true });
  const storage = mkdtempSync(path.join(os.tmpdir(), 'winnow-replay-'));
  process.env.WINNOW_STORAGE_ROOT = storage;
  const env = await startDevServerEnv();
  try {
    for (const c of cases.filter((x) => x.killGpuMidRound)) {
      await recordWorkerKill(env, c);
      await writeHistories(env.client, c.name, out);
    }
    await withWorkers(env, ['orchestrator', 'gpu'], async () => {
      for (const c of cases.filter((x) => !x.killGpuMidRound)) {
        const handle = await env.client.workflow.start(subsetSearch, {
          taskQueue: TaskQueue.orchestrator,
          workflowId: c.name,
          args: [c.config],
        });
        if (c.pauseOnce) {
          // Paused before scoring, un-paused with the signal name clients have always sent.
          await handle.signal(pauseSignal);
          await waitForPhase(handle, 'paused');
          await handle.signal(resumeSignal);
        }
        await handle.result();
        await writeHistories(env.client, c.name, out);
      }
    });
  } finally {
    await env.teardown();
    rmSync(storage, { recursive: true, force: true });
  }
}

// `node --test dist/test/` loads every file under test/ as a test file: record only when run on purpose.
if (process.env.NODE_TEST_CONTEXT === undefined) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
