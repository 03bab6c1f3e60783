/**
 * `npm run demo`: the main job on the embedded default. Starts the Temporal
 * dev server (unless one already answers on TEMPORAL_ADDRESS) and both
 * workers in this process tree, runs a search on Fashion-MNIST, shows its
 * progress, and prints the result.
 */
import { Connection } from '@temporalio/client';
import { startDevServer, type DevServer } from '../infra/dev-server';
import { connectionSettings } from '../infra/env';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { connectWorker, createGpuWorker, createOrchestratorWorker } from '../workers/create-workers';
import { subsetSearch } from '../workflows';
import type { SearchConfigInput } from '../workflows/config';
import { progressQuery } from '../workflows/definitions';
import { TaskQueue } from '../workflows/task-queues';
import { connectClient, workflowUiUrl } from './connection';

const demoConfig: SearchConfigInput = {
  dataset: { kind: 'fashion-mnist' },
  scheme: 'build-up',
  initialSize: 3000,
  targets: [6000, 15000, 30000],
  acquisition: { function: 'entropy', step: 3000 },
};

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
  Runtime.install({ logger: new DefaultLogger((process.env.WINNOW_LOG_LEVEL as 'WARN' | undefined) ?? 'WARN') });
  let settings = connectionSettings();
  let server: DevServer | undefined;
  let uiBase = process.env.WINNOW_UI_URL ?? 'http://localhost:8233';
  if (!(await serverAnswers(settings.address))) {
    console.log(`[demo] no Temporal server on ${settings.address}: starting the dev server (history in state/temporal.db)`);
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
      const handle = await client.workflow.start(subsetSearch, { taskQueue: TaskQueue.orchestrator, workflowId, args: [demoConfig] });
      console.log(`[demo] search ${workflowId} started; watch it at ${workflowUiUrl(uiBase, settings.namespace, workflowId)}`);
      let lastPhase = '';
      const timer = setInterval(() => {
        handle.query(progressQuery).then(
          (p) => {
            if (p.phase !== lastPhase) console.log(`[demo] ${((Date.now() - started) / 1000).toFixed(1)} s  phase: ${p.phase}`);
            lastPhase = p.phase;
          },
          () => undefined,
        );
      }, 300);
      try {
        return await handle.result();
      } finally {
        clearInterval(timer);
      }
    };
    const [orchestrator, gpu] = workers;
    const result = await orchestrator.runUntil(gpu.runUntil(run()));
    console.log('');
    console.log(`search id        ${result.searchId}`);
    console.log(`dataset          ${result.config.dataset.kind}`);
    console.log(`targets          ${result.config.targets.join(', ')}`);
    console.log(`compute backend  ${result.compute.backend} (tfjs ${result.compute.tfjsVersion})`);
    console.log(`manifest         ${result.manifest.uri}`);
    console.log(`wall time        ${((Date.now() - started) / 1000).toFixed(1)} s`);
    console.log('');
    console.log('This is the foundation slice: the rounds (train, score, acquire, evaluate) land with the orchestration issue.');
    if (server) console.log('The dev server stops now; `npm run server` keeps it (and the UI on :8233) running, with this run in its history.');
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
