/**
 * Runs one compute task in a child Node process. Native crashes and GPU
 * memory stay contained in the child, the parent's event loop stays free to
 * heartbeat, and aborting kills the child. Knows nothing of Temporal.
 */
import { fork } from 'node:child_process';
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
}

const childMain = path.join(__dirname, 'child-main.js');

export function runInChild<R>(task: string, input: unknown, options: RunChildOptions = {}): Promise<R> {
  return new Promise<R>((resolve, reject) => {
    if (options.signal?.aborted) {
      reject(options.signal.reason ?? new Error('aborted'));
      return;
    }
    const child = fork(childMain, [], {
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'advanced',
    });
    let settled = false;
    const settle = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      options.signal?.removeEventListener('abort', onAbort);
      fn();
    };
    let aborted = false;
    const onAbort = (): void => {
      aborted = true;
      const grace = options.stopGraceMs ?? 0;
      if (grace <= 0 || !child.connected) {
        child.kill('SIGKILL');
        return;
      }
      child.send({ type: 'stop' } satisfies ChildRequest);
      setTimeout(() => child.kill('SIGKILL'), grace).unref();
    };
    const rejectAborted = (): void => settle(() => reject(options.signal?.reason ?? new Error('aborted')));
    options.signal?.addEventListener('abort', onAbort, { once: true });

    child.on('message', (raw) => {
      const msg = raw as ChildMessage;
      if (msg.type === 'progress') {
        options.onProgress?.(msg.progress);
      } else if (msg.type === 'result') {
        if (!aborted) settle(() => resolve(msg.result as R));
        child.disconnect();
      } else if (msg.type === 'error') {
        if (!aborted) settle(() => reject(new ChildTaskError(msg.error.message, msg.error.failureType)));
        child.disconnect();
      }
    });
    child.on('error', (err) => settle(() => reject(err)));
    child.on('exit', (code, signal) => {
      if (aborted) return rejectAborted();
      settle(() =>
        reject(
          new ChildTaskError(
            `compute child for task "${task}" exited (${signal ? `signal ${signal}` : `code ${code}`}) before reporting a result`,
          ),
        ),
      );
    });
    const request: ChildRequest = { type: 'run', task, input };
    child.send(request);
  });
}
