/**
 * Runs compute tasks in child Node processes. Native crashes and GPU memory
 * stay contained in the child, the parent's event loop stays free to
 * heartbeat, and aborting kills the child. A child that finished its task
 * cleanly is kept warm and serves the next task (its backend, built models
 * and caches already in place), until it has been idle too long, then it
 * exits and releases its memory (GPU memory included). Knows nothing of
 * Temporal. Why and how: docs/architecture.md, "Compute children".
 */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { ChildTaskError, type ChildMessage, type ChildRequest } from './child-protocol';

export interface RunChildOptions {
  /** Called for every progress report the task sends. */
  onProgress?: (progress: unknown) => void;
  /**
   * Aborting rejects with the abort reason. Without `stopGraceMs` the child is
   * killed (SIGKILL) at once; with it, the child is asked to stop (a training
   * task saves its position inside the epoch) and killed only if it has not
   * exited within the grace time. The promise settles after the child is gone,
   * so a retry never races a checkpoint still being written.
   */
  signal?: AbortSignal;
  stopGraceMs?: number;
  /** Extra environment for the child. */
  env?: NodeJS.ProcessEnv;
  /** Reuse a warm child and keep this one warm afterwards (default: warmChildSettings().enabled). */
  warm?: boolean;
}

export interface WarmChildSettings {
  enabled: boolean;
  /** A warm child idle this long exits (WINNOW_CHILD_IDLE_MS, default 60 s). */
  idleMs: number;
  /** A child retires after this many tasks, bounding any slow growth (WINNOW_CHILD_MAX_TASKS, default 500). */
  maxTasks: number;
}

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name}=${raw} must be a non-negative number`);
  return value;
}

/** Children stay warm between tasks unless WINNOW_WARM_CHILDREN=0. */
export function warmChildSettings(): WarmChildSettings {
  return {
    enabled: process.env.WINNOW_WARM_CHILDREN !== '0',
    idleMs: envNumber('WINNOW_CHILD_IDLE_MS', 60_000),
    maxTasks: Math.max(1, Math.floor(envNumber('WINNOW_CHILD_MAX_TASKS', 500))),
  };
}

const childMain = path.join(__dirname, 'child-main.js');

interface ComputeChild {
  process: ChildProcess;
  /** The environment it was started with: a child is reused only for the same one. */
  envKey: string;
  tasks: number;
  /** Resolves when the child's modules are loaded; its seconds are the task's process start. */
  ready: Promise<number>;
  idleTimer?: NodeJS.Timeout;
}

const idleChildren: ComputeChild[] = [];

function startChild(env: NodeJS.ProcessEnv, envKey: string): ComputeChild {
  const started = performance.now();
  const proc = fork(childMain, [], { env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced' });
  const ready = new Promise<number>((resolve) => {
    const onMessage = (raw: unknown): void => {
      if ((raw as ChildMessage).type !== 'ready') return;
      proc.off('message', onMessage);
      resolve((performance.now() - started) / 1000);
    };
    proc.on('message', onMessage);
    proc.once('exit', () => resolve((performance.now() - started) / 1000));
  });
  const child: ComputeChild = { process: proc, envKey, tasks: 0, ready };
  // Between tasks no task listens: a child that dies while idle just leaves the pool.
  proc.on('error', () => undefined);
  proc.once('exit', () => {
    clearTimeout(child.idleTimer);
    const i = idleChildren.indexOf(child);
    if (i >= 0) idleChildren.splice(i, 1);
  });
  return child;
}

function retire(child: ComputeChild): void {
  clearTimeout(child.idleTimer);
  const i = idleChildren.indexOf(child);
  if (i >= 0) idleChildren.splice(i, 1);
  // Disconnecting lets the child exit by itself (child-main leaves on disconnect), releasing its native memory.
  if (child.process.connected) child.process.disconnect();
}

function takeIdleChild(envKey: string): ComputeChild | undefined {
  for (let i = idleChildren.length - 1; i >= 0; i--) {
    const child = idleChildren[i];
    if (child.envKey !== envKey || !child.process.connected || child.process.exitCode !== null) continue;
    idleChildren.splice(i, 1);
    clearTimeout(child.idleTimer);
    child.process.ref();
    (child.process.channel as { ref?: () => void } | undefined)?.ref?.();
    return child;
  }
  return undefined;
}

function parkChild(child: ComputeChild, settings: WarmChildSettings): void {
  if (child.tasks >= settings.maxTasks || !child.process.connected) return retire(child);
  // An idle child must not keep the worker process alive.
  child.process.unref();
  (child.process.channel as { unref?: () => void } | undefined)?.unref?.();
  child.idleTimer = setTimeout(() => retire(child), settings.idleMs);
  child.idleTimer.unref();
  idleChildren.push(child);
}

/** Stops every idle warm child (worker shutdown, tests); busy ones finish or are killed by their own task. */
export function closeIdleChildren(): void {
  for (const child of [...idleChildren]) retire(child);
}

/** Warm children waiting for a task (tests, metrics). */
export function idleChildCount(): number {
  return idleChildren.length;
}

export function runInChild<R>(task: string, input: unknown, options: RunChildOptions = {}): Promise<R> {
  return new Promise<R>((resolve, reject) => {
    if (options.signal?.aborted) {
      reject(options.signal.reason ?? new Error('aborted'));
      return;
    }
    const settings = warmChildSettings();
    const warm = options.warm ?? settings.enabled;
    const env = { ...process.env, ...options.env };
    const envKey = JSON.stringify(Object.entries(env).sort(([a], [b]) => (a < b ? -1 : 1)));
    const reused = warm ? takeIdleChild(envKey) : undefined;
    const compute = reused ?? startChild(env, envKey);
    const child = compute.process;
    compute.tasks++;
    let settled = false;
    let aborted = false;
    let stopAsked = false;
    const cleanup = (): void => {
      options.signal?.removeEventListener('abort', onAbort);
      child.off('message', onMessage);
      child.off('error', onError);
      child.off('exit', onExit);
    };
    const settle = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      cleanup();
      fn();
    };
    /** After a clean result or task error: keep the child warm, or let it go. */
    const finish = (): void => {
      if (warm && !aborted && !stopAsked) parkChild(compute, settings);
      else retire(compute);
    };
    const onAbort = (): void => {
      aborted = true;
      const grace = options.stopGraceMs ?? 0;
      if (grace <= 0 || !child.connected) {
        child.kill('SIGKILL');
        return;
      }
      stopAsked = true;
      child.send({ type: 'stop' } satisfies ChildRequest);
      setTimeout(() => child.kill('SIGKILL'), grace).unref();
    };
    const rejectAborted = (): void => settle(() => reject(options.signal?.reason ?? new Error('aborted')));
    options.signal?.addEventListener('abort', onAbort, { once: true });

    const onMessage = (raw: unknown): void => {
      const msg = raw as ChildMessage;
      if (msg.type === 'progress') {
        options.onProgress?.(msg.progress);
      } else if (msg.type === 'result') {
        if (aborted) {
          // The child is on its way out (stopped or killed); the exit settles the promise.
          retire(compute);
          return;
        }
        void compute.ready.then((startSeconds) => {
          settle(() => resolve(withProcessStart(msg.result, reused ? 0 : startSeconds) as R));
          finish();
        });
      } else if (msg.type === 'error') {
        if (aborted) {
          retire(compute);
          return;
        }
        settle(() => reject(new ChildTaskError(msg.error.message, msg.error.failureType)));
        finish();
      }
    };
    const onError = (err: Error): void => settle(() => reject(err));
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
      retire(compute);
      if (aborted) return rejectAborted();
      settle(() =>
        reject(
          new ChildTaskError(
            `compute child for task "${task}" exited (${signal ? `signal ${signal}` : `code ${code}`}) before reporting a result`,
          ),
        ),
      );
    };
    child.on('message', onMessage);
    child.on('error', onError);
    child.on('exit', onExit);
    const request: ChildRequest = { type: 'run', task, input };
    child.send(request);
  });
}

/** Adds the parent-side phase (starting the child and loading its modules) to a result that reports phases. */
function withProcessStart(result: unknown, seconds: number): unknown {
  if (result === null || typeof result !== 'object' || !('phases' in result)) return result;
  const phases = (result as { phases?: Record<string, number> }).phases;
  if (!phases || typeof phases !== 'object') return result;
  return { ...result, phases: { processStart: seconds, ...phases } };
}
