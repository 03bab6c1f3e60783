/**
 * Records the replay corpus: small searches run on a real dev server with
 * both workers, every run's history written to test/replay/histories/ as a
 * binary History protobuf (`<workflowId>.<runId>.binpb`; the SDK's JSON
 * helper trips over two protobufjs versions in the tree). Run it on the code
 * whose histories running searches have (before a workflow change), then
 * commit the files; test/unit/replay-histories.test.ts replays them.
 *
 *   npm run build && npm run replay:record [-- OUT_DIR]
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { TaskQueue } from '../../contracts/task-queues';
import { subsetSearch } from '../../workflows';
import { pauseSignal, progressQuery, resumeSignal } from '../../workflows/definitions';
import { startDevServerEnv, withWorkers } from '../helpers/temporal';
import { replayCases } from './replay-cases';

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

async function main(): Promise<void> {
  const out = path.resolve(process.argv[2] ?? path.join(__dirname, '..', '..', '..', 'test', 'replay', 'histories'));
  mkdirSync(out, { recursive: true });
  const storage = mkdtempSync(path.join(os.tmpdir(), 'winnow-replay-'));
  process.env.WINNOW_STORAGE_ROOT = storage;
  const env = await startDevServerEnv();
  try {
    await withWorkers(env, ['orchestrator', 'gpu'], async () => {
      for (const c of replayCases) {
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
        for (const line of await runIds(env.client, c.name)) {
          const [workflowId, runId] = line.split(' ');
          const history = await env.client.workflow.getHandle(workflowId, runId).fetchHistory();
          const file = path.join(out, `${encodeURIComponent(workflowId)}.${runId.slice(0, 8)}.binpb`);
          const History = temporal.api.history.v1.History;
          writeFileSync(file, History.encode(History.fromObject(history)).finish());
          console.log(`wrote ${path.relative(process.cwd(), file)} (${history.events?.length ?? 0} events)`);
        }
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
