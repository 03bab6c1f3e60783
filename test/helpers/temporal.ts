/**
 * Shared integration-test helpers: a real Temporal dev server (the CLI binary
 * built by infra/install-tools.sh, started through @temporalio/testing) and
 * both winnow workers connected to it.
 */
import { TestWorkflowEnvironment } from '@temporalio/testing';
import {
  bundleWorkflowCode,
  DefaultLogger,
  Runtime,
  type Worker,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import { createGpuWorker, createOrchestratorWorker, workflowsPath } from '../../workers/create-workers';
import { toolPath } from '../../infra/tools';
import { winnowSearchAttributes } from '../../workflows/search-attributes';
import { freePort } from './ports';

let runtimeInstalled = false;

export function installQuietRuntime(): void {
  if (!runtimeInstalled) {
    // Worker lifecycle chatter and the expected-failure warnings drown the test report; keep errors.
    Runtime.install({ logger: new DefaultLogger('ERROR') });
    runtimeInstalled = true;
  }
}

export async function startDevServerEnv(): Promise<TestWorkflowEnvironment> {
  installQuietRuntime();
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: toolPath('temporal') },
      ip: '127.0.0.1',
      searchAttributes: [...winnowSearchAttributes],
    },
  });
}

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;

/** Bundles workflows/ once per test process. */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({ workflowsPath, logger: quietLogger });
  return bundle;
}

const quietLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (message: string) => console.warn(message),
  error: (message: string) => console.error(message),
};

export type WorkerKind = 'orchestrator' | 'gpu';

/**
 * Creates fresh workers of the given kinds (a Worker runs only once), runs
 * `fn` while they poll, then shuts them down.
 */
export async function withWorkers<T>(
  env: TestWorkflowEnvironment,
  kinds: WorkerKind[],
  fn: () => Promise<T>,
  gpuSlots = 1,
): Promise<T> {
  const common = { connection: env.nativeConnection, namespace: env.namespace ?? 'default' };
  const workers: Worker[] = await Promise.all(
    kinds.map(async (kind) =>
      kind === 'orchestrator'
        ? createOrchestratorWorker({ ...common, workflowBundle: await workflowBundle() })
        : createGpuWorker({ ...common, slots: gpuSlots }),
    ),
  );
  return runAll(workers, fn);
}

/** Runs `fn` while `workers` poll; they shut down when it returns. */
export function runAll<T>(workers: Worker[], fn: () => Promise<T>): Promise<T> {
  const [first, ...rest] = workers;
  if (!first) return fn();
  return first.runUntil(() => runAll(rest, fn));
}

export interface DevServerWithUi {
  env: TestWorkflowEnvironment;
  /** The dev server's web UI, e.g. http://127.0.0.1:PORT. */
  uiUrl: string;
}

/**
 * Like startDevServerEnv, with the web UI on a free loopback port. The CLI's
 * dev server configures its UI in code (no startWorkflowDisabled and no write
 * restrictions), so the UI's "Start Workflow" form is enabled as is.
 */
export async function startDevServerEnvWithUi(): Promise<DevServerWithUi> {
  installQuietRuntime();
  const uiPort = await freePort();
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: toolPath('temporal') },
      ip: '127.0.0.1',
      ui: true,
      uiPort,
      searchAttributes: [...winnowSearchAttributes],
    },
  });
  return { env, uiUrl: `http://127.0.0.1:${uiPort}` };
}
