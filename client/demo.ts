/**
 * `npm run demo`: the main job on the embedded default. Starts the Temporal
 * dev server (unless one already answers on TEMPORAL_ADDRESS) and both
 * workers in this process tree, runs a search on Fashion-MNIST, shows its
 * progress, and prints the result.
 */
import { Connection } from '@temporalio/client';
import { startDevServer, type DevServer } from '../infra/dev-server';
import { connectionSettings } from '../infra/env';
import {
  connectWorker,
  createGpuWorker,
  createOrchestratorWorker,
  installWorkerRuntime,
} from '../workers/create-workers';
import { subsetSearch } from '../workflows';
import { demoConfig, demoTableLegend } from './demo-config';
import { progressQuery } from '../workflows/definitions';
import { TaskQueue } from '../contracts/task-queues';
import { connectClient, workflowUiUrl } from './connection';
import { formatResultTable } from './result-table';
import { writeReport } from './report/write-report';
import { formatHistoryStats, searchHistoryStats } from './search-history';
import path from 'node:path';

async function serverAnswers(address: string): Promise<boolean> {
  try {
    const connection = await Connection.connect({ address, connectTimeout: 1_500 });
    await connection.close();
    return true;
  } catch {
    return false;
  }
}

async function main(): Promise<void> {
  const started = Date.now();
  // Workers run in this process: errors only (the SDK warns that the gpu worker polls no workflows), unless WINNOW_LOG_LEVEL says otherwise.
  installWorkerRuntime({ ...process.env, WINNOW_LOG_LEVEL: process.env.WINNOW_LOG_LEVEL ?? 'ERROR' });
  let settings = connectionSettings();
  let server: DevServer | undefined;
  let uiBase = process.env.WINNOW_UI_URL ?? 'http://localhost:8233';
  if (!(await serverAnswers(settings.address))) {
    console.log(
      `[demo] no Temporal server on ${settings.address}: starting the dev server (history in state/temporal.db)`,
    );
    server = await startDevServer({ namespace: settings.namespace });
    settings = { ...settings, address: server.address };
    uiBase = server.uiUrl;
  } else {
    console.log(`[demo] using the Temporal server on ${settings.address}`);
  }
  const workerConnection = await connectWorker(settings);
  const client = await connectClient(settings);
  try {
    const workers = await Promise.all([
      createOrchestratorWorker({ connection: workerConnection, namespace: settings.namespace }),
      createGpuWorker({ connection: workerConnection, namespace: settings.namespace }),
    ]);
    const workflowId = `demo-${new Date().toISOString().replace(/[:.]/g, '-').toLowerCase()}`;
    const run = async () => {
      const handle = await client.workflow.start(subsetSearch, {
        taskQueue: TaskQueue.orchestrator,
        workflowId,
        args: [demoConfig],
      });
      console.log(
        `[demo] search ${workflowId} started; watch it at ${workflowUiUrl(uiBase, settings.namespace, workflowId)}`,
      );
      let last = '';
      const timer = setInterval(() => {
        // After continue-as-new the handle follows the latest run of the search.
        client.workflow
          .getHandle(workflowId)
          .query(progressQuery)
          .then(
            (p) => {
              const line = `round ${p.round}, ${p.phase}: subset ${p.subsetSize}, members ${p.membersTrained}/${p.members}, shards ${p.shardsScored}/${p.shards}`;
              if (line !== last)
                console.log(`[demo] ${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s  ${line}`);
              last = line;
            },
            () => undefined,
          );
      }, 1000);
      try {
        return await handle.result();
      } finally {
        clearInterval(timer);
      }
    };
    const [orchestrator, gpu] = workers;
    const result = await orchestrator.runUntil(gpu.runUntil(run()));
    console.log('');
    console.log(formatResultTable(result));
    console.log(demoTableLegend);
    console.log('');
    console.log(`search id        ${result.searchId}`);
    console.log(`compute backend  ${result.computeBackend}`);
    console.log(`artifacts        ${result.storageRoot}/${result.searchId}/`);
    console.log('');
    console.log('history per run (one run per round) and time outside activities:');
    console.log(formatHistoryStats(await searchHistoryStats(client, workflowId)));
    console.log('');
    const report = await writeReport({
      result,
      outputPath: path.resolve('state', 'reports', `${result.searchId}.html`),
      numClasses: result.numClasses,
    });
    console.log(`report           ${report}`);
    console.log(`wall time        ${((Date.now() - started) / 1000).toFixed(1)} s`);
    console.log(
      `winnow CLI       npx winnow status ${workflowId}   (export: npx winnow export ${workflowId} --out subset.csv)`,
    );
    if (server)
      console.log(
        'The dev server stops now; `npm run server` keeps it (and the UI on :8233) running, with this run in its history.',
      );
  } finally {
    await client.connection.close();
    await workerConnection.close();
    await server?.stop();
  }
}

main().catch((err: unknown) => {
  console.error(`[demo] failed: ${(err as Error).message}`);
  process.exit(1);
});
