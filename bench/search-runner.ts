/**
 * What the search benches share: a dev server and both workers in this process, searches run (or reused,
 * awaited, resumed) by a stable workflow id, a bounded number at once, and their progress logged.
 */
import { execFileSync } from 'node:child_process';
import net from 'node:net';
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/common';
import { connectClient } from '../client/connection';
import { restartFailedSearch } from '../client/restart';
import { startDevServer, type DevServer } from '../infra/dev-server';
import { connectionSettings } from '../infra/env';
import { repoRoot } from '../infra/tools';
import {
  connectWorker,
  createGpuWorker,
  createOrchestratorWorker,
  installWorkerRuntime,
} from '../workers/create-workers';
import { subsetSearch } from '../workflows';
import { progressQuery } from '../workflows/definitions';
import type { SearchResult } from '../workflows/subset-search';
import type { SearchConfigInput } from '../contracts/config';
import { TaskQueue } from '../contracts/task-queues';
import { attemptWorkflowId, nextStep, type WorkflowStatusName } from './reproduce-plan';

export type Log = (line: string) => void;

export function gitInfo(): { commit: string; uncommittedChanges: number } {
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: repoRoot(), encoding: 'utf8' }).trim();
    const status = execFileSync('git', ['status', '--porcelain'], { cwd: repoRoot(), encoding: 'utf8' });
    return { commit, uncommittedChanges: status.split('\n').filter(Boolean).length };
  } catch {
    return { commit: 'unknown', uncommittedChanges: -1 };
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const port = (probe.address() as net.AddressInfo).port;
      probe.close(() => resolve(port));
    });
  });
}

/** Runs `tasks` with at most `limit` in flight, in order. */
export async function withLimit<T>(limit: number, tasks: (() => Promise<T>)[]): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await tasks[i]();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, lane));
  return results;
}

async function attemptStatuses(client: Client, baseId: string): Promise<WorkflowStatusName[]> {
  const statuses: WorkflowStatusName[] = [];
  for (let attempt = 0; ; attempt++) {
    try {
      statuses.push(
        (await client.workflow.getHandle(attemptWorkflowId(baseId, attempt)).describe()).status
          .name as WorkflowStatusName,
      );
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return statuses;
      throw err;
    }
  }
}

export interface SearchRun {
  /** Short name for logs. */
  name: string;
  /** Stable id: a finished search under it is reused, a running one awaited, a failed one resumed. */
  baseId: string;
  config: SearchConfigInput;
}

export interface SearchOutcome {
  workflowId: string;
  how?: 'started' | 'resumed' | 'awaited' | 'reused';
  result?: SearchResult;
  error?: string;
}

/** One search to its result: reuse, await, start or resume it (at most 2 resumes per call). */
export async function runSearch(
  client: Client,
  run: SearchRun,
  inFlight: Map<string, string>,
  log: Log,
): Promise<SearchOutcome> {
  let resumesLeft = 2;
  let how: SearchOutcome['how'];
  for (;;) {
    const step = nextStep(run.baseId, await attemptStatuses(client, run.baseId), resumesLeft);
    if (step.action === 'give-up') return { workflowId: step.workflowId, how, error: step.reason };
    if (step.action === 'start') {
      await client.workflow.start(subsetSearch, {
        taskQueue: TaskQueue.orchestrator,
        workflowId: step.workflowId,
        args: [{ ...run.config, searchId: run.baseId }],
      });
      how = 'started';
      log(`${run.name}: started ${step.workflowId}`);
    } else if (step.action === 'restart') {
      const resumed = await restartFailedSearch(client, step.from, step.workflowId);
      resumesLeft--;
      how = 'resumed';
      log(`${run.name}: ${step.from} did not finish; resumed as ${resumed.workflowId} from round ${resumed.round}`);
    } else if (step.action === 'await') {
      how ??= 'awaited';
      log(`${run.name}: ${step.workflowId} is running; waiting for it`);
    } else {
      how ??= 'reused';
    }
    inFlight.set(run.name, step.workflowId);
    try {
      const result = (await client.workflow.getHandle(step.workflowId).result()) as SearchResult;
      if (step.action !== 'reuse') log(`${run.name}: finished`);
      return { workflowId: step.workflowId, how, result };
    } catch (err) {
      const cause = (err as { cause?: Error }).cause;
      log(`${run.name}: ${step.workflowId} failed: ${(err as Error).message}${cause ? ` (${cause.message})` : ''}`);
    } finally {
      inFlight.delete(run.name);
    }
  }
}

/** Logs each in-flight search's progress line when it changes, every `everyMs`. */
export function watchProgress(
  client: Client,
  inFlight: Map<string, string>,
  started: number,
  log: Log,
  everyMs = 15_000,
): NodeJS.Timeout {
  const last = new Map<string, string>();
  return setInterval(() => {
    for (const [name, workflowId] of inFlight) {
      client.workflow
        .getHandle(workflowId)
        .query(progressQuery)
        .then(
          (p) => {
            const line = `round ${p.round}, ${p.phase}, subset ${p.subsetSize}, members ${p.membersTrained}/${p.members}, shards ${p.shardsScored}/${p.shards}, evaluated ${p.evaluations.length}/${p.targets.length}`;
            if (last.get(name) !== line)
              log(`${name.padEnd(20)} ${((Date.now() - started) / 1000).toFixed(0).padStart(5)} s  ${line}`);
            last.set(name, line);
          },
          () => undefined,
        );
    }
  }, everyMs);
}

export interface BenchWorkersOptions {
  /** The dev server's history file (used unless TEMPORAL_ADDRESS names a server). */
  dbFile: string;
  slots: number;
  log: Log;
}

/**
 * Starts a dev server (one task-queue partition, free ports) unless TEMPORAL_ADDRESS is set, runs both
 * workers in this process, and calls `body` with a client; SIGINT/SIGTERM stop the workers and make `body`'s
 * result a rejection saying the searches stay on the server.
 */
export async function withBenchWorkers<T>(
  options: BenchWorkersOptions,
  body: (client: Client) => Promise<T>,
): Promise<T> {
  installWorkerRuntime({ ...process.env, WINNOW_LOG_LEVEL: process.env.WINNOW_LOG_LEVEL ?? 'WARN' });
  let settings = connectionSettings();
  let server: DevServer | undefined;
  if (!process.env.TEMPORAL_ADDRESS) {
    server = await startDevServer({
      port: await freePort(),
      uiPort: await freePort(),
      dbFile: options.dbFile,
      namespace: settings.namespace,
    });
    settings = { ...settings, address: server.address };
    const child = server.process;
    // Never leave the dev server behind, whatever way this process ends.
    process.once('exit', () => child.kill('SIGTERM'));
    options.log(`Temporal dev server on ${server.address} (UI ${server.uiUrl}), history in ${options.dbFile}`);
  }
  const workerConnection = await connectWorker(settings);
  const client = await connectClient(settings);
  try {
    const [orchestrator, gpu] = await Promise.all([
      createOrchestratorWorker({ connection: workerConnection, namespace: settings.namespace }),
      createGpuWorker({ connection: workerConnection, namespace: settings.namespace, slots: options.slots }),
    ]);
    // SIGINT/SIGTERM shut the workers down (the Temporal runtime's default); the searches stay on the server.
    const workersDone = Promise.all([orchestrator.run(), gpu.run()]);
    try {
      const work = body(client);
      // After an interruption the searches' pending calls fail as the connections close; nothing waits for them then.
      work.catch(() => undefined);
      const interrupted = workersDone.then(() => {
        throw new Error(
          'the workers were shut down (SIGINT or SIGTERM) before the searches finished; run the same command again to go on where they stopped',
        );
      });
      return await Promise.race([work, interrupted]);
    } finally {
      for (const w of [orchestrator, gpu]) if (w.getState() === 'RUNNING') w.shutdown();
      await workersDone.catch((err: unknown) => options.log(`worker stopped with an error: ${(err as Error).message}`));
    }
  } finally {
    await client.connection.close().catch(() => undefined);
    await workerConnection
      .close()
      .catch((err: unknown) => options.log(`closing the worker connection: ${(err as Error).message}`));
    await server?.stop();
  }
}
