/**
 * Worker factories, one per task queue. The entry points in this folder, the
 * demo and the integration tests all build their workers here.
 */
import {
  DefaultLogger,
  NativeConnection,
  Runtime,
  Worker,
  type LogLevel,
  type WorkflowBundleOption,
} from '@temporalio/worker';
import { gpuActivities, orchestratorActivities } from '../activities';
import { shutdownGraceMs } from '../activities/shutdown-grace';
import { TaskQueue } from '../contracts/task-queues';
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
    // Shutdown cancels activities at once; training then saves its position within the grace time, and the
    // worker gives up waiting a little after that.
    shutdownForceTime: shutdownGraceMs() + 15_000,
  });
}

export async function connectWorker(settings: ConnectionSettings = connectionSettings()): Promise<NativeConnection> {
  return NativeConnection.connect({ address: settings.address, tls: settings.tls, apiKey: settings.apiKey });
}

const logLevels: LogLevel[] = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'];

/**
 * The worker process's Temporal runtime: log level from WINNOW_LOG_LEVEL
 * (default INFO) and, when WINNOW_METRICS_ADDRESS is set (host:port), the
 * SDK's metrics on a Prometheus endpoint at http://host:port/metrics.
 */
export function installWorkerRuntime(env: NodeJS.ProcessEnv = process.env): void {
  const level = (env.WINNOW_LOG_LEVEL ?? 'INFO').toUpperCase() as LogLevel;
  if (!logLevels.includes(level))
    throw new Error(`WINNOW_LOG_LEVEL=${env.WINNOW_LOG_LEVEL} is not one of ${logLevels.join(', ')}`);
  const metrics = env.WINNOW_METRICS_ADDRESS;
  if (metrics !== undefined && !/^[^:\s]+:\d{1,5}$/.test(metrics)) {
    throw new Error(`WINNOW_METRICS_ADDRESS=${metrics} must be host:port, e.g. 0.0.0.0:9464`);
  }
  Runtime.install({
    logger: new DefaultLogger(level),
    telemetryOptions: metrics ? { metrics: { prometheus: { bindAddress: metrics } } } : undefined,
  });
}

/** Shared body of the worker entry points: connect, run until SIGINT/SIGTERM, close. */
export async function runWorkerMain(
  create: (connection: NativeConnection, namespace: string) => Promise<Worker>,
): Promise<void> {
  installWorkerRuntime();
  const settings = connectionSettings();
  const connection = await connectWorker(settings);
  try {
    const worker = await create(connection, settings.namespace);
    const metrics = process.env.WINNOW_METRICS_ADDRESS
      ? `; metrics at http://${process.env.WINNOW_METRICS_ADDRESS}/metrics`
      : '';
    console.log(
      `[winnow] worker on ${worker.options.taskQueue} connected to ${settings.address} (namespace ${settings.namespace})${metrics}`,
    );
    await worker.run();
  } finally {
    await connection.close();
  }
}
