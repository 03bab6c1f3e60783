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
  /** Aborting kills the child (SIGKILL) and rejects with the abort reason. */
  signal?: AbortSignal;
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
    const onAbort = (): void => {
      child.kill('SIGKILL');
      settle(() => reject(options.signal?.reason ?? new Error('aborted')));
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });

    child.on('message', (raw) => {
      const msg = raw as ChildMessage;
      if (msg.type === 'progress') {
        options.onProgress?.(msg.progress);
      } else if (msg.type === 'result') {
        settle(() => resolve(msg.result as R));
        child.disconnect();
      } else if (msg.type === 'error') {
        settle(() => reject(new ChildTaskError(msg.error.message, msg.error.failureType)));
        child.disconnect();
      }
    });
    child.on('error', (err) => settle(() => reject(err)));
    child.on('exit', (code, signal) => {
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
