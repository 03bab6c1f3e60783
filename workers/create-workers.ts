/**
 * Worker factories, one per task queue. The entry points in this folder, the
 * demo and the integration tests all build their workers here.
 */
import { NativeConnection, Worker, type WorkflowBundleOption } from '@temporalio/worker';
import { gpuActivities, orchestratorActivities } from '../activities';
import { TaskQueue } from '../workflows/task-queues';
import { connectionSettings, type ConnectionSettings } from '../infra/env';

export interface WorkerOptions {
  connection: NativeConnection;
  namespace: string;
  /** A prebuilt workflow bundle (tests build one and share it); otherwise workflows/ is bundled at start. */
  workflowBundle?: WorkflowBundleOption;
}

export const workflowsPath = require.resolve('../workflows');

export function createOrchestratorWorker(options: WorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: TaskQueue.orchestrator,
    ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : { workflowsPath }),
    activities: orchestratorActivities,
  });
}

export function createGpuWorker(options: WorkerOptions & { slots?: number }): Promise<Worker> {
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: TaskQueue.gpu,
    activities: gpuActivities,
    // One activity per GPU slot: each one owns the device while it trains or scores.
    maxConcurrentActivityTaskExecutions: options.slots ?? 1,
  });
}

export async function connectWorker(settings: ConnectionSettings = connectionSettings()): Promise<NativeConnection> {
  return NativeConnection.connect({ address: settings.address, tls: settings.tls, apiKey: settings.apiKey });
}

/** Shared body of the worker entry points: connect, run until SIGINT/SIGTERM, close. */
export async function runWorkerMain(create: (connection: NativeConnection, namespace: string) => Promise<Worker>): Promise<void> {
  const settings = connectionSettings();
  const connection = await connectWorker(settings);
  try {
    const worker = await create(connection, settings.namespace);
    console.log(`[winnow] worker on ${worker.options.taskQueue} connected to ${settings.address} (namespace ${settings.namespace})`);
    await worker.run();
  } finally {
    await connection.close();
  }
}
