/**
 * Real processes for the fault tests: a Temporal dev server that can be
 * SIGKILLed and restarted on the same SQLite file and ports, and winnow worker
 * processes (the entry points in dist/workers) that can be SIGKILLed together
 * with their compute children, as when a machine or container dies.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { connectWhenReady, singlePartitionArgs } from '../../infra/dev-server';
import { ensureSearchAttributes } from '../../infra/search-attributes';
import { repoRoot, toolPath } from '../../infra/tools';
import { freePortBlock } from './ports';

export interface ServerProcess {
  /** host:port of the frontend; the same across restarts. */
  readonly address: string;
  readonly dbFile: string;
  readonly namespaces: string[];
  /** The current server process id. */
  pid(): number | undefined;
  /** SIGKILL, then wait until the process is gone. */
  kill(): Promise<void>;
  /** Starts again on the same database file and port. */
  restart(): Promise<void>;
  /** SIGTERM (SIGKILL after 10 s); safe to call twice. */
  stop(): Promise<void>;
  client(namespace: string): Promise<Client>;
}

/** A dev server on its own ports and SQLite file, headless, with winnow's search attributes in every namespace. */
export async function startServerProcess(options: {
  dbFile: string;
  namespaces: string[];
  /** One partition per task queue, as `npm run server` and the demo run it (infra/dev-server.ts). */
  singlePartition?: boolean;
}): Promise<ServerProcess> {
  const port = await freePortBlock(6);
  const address = `127.0.0.1:${port}`;
  const logFile = options.dbFile.replace(/\.db$/, '') + '.log';
  let child: ChildProcess | undefined;
  const connections: Connection[] = [];

  const launch = async (): Promise<void> => {
    const args = [
      'server',
      'start-dev',
      '--headless',
      '--ip',
      '127.0.0.1',
      '--port',
      String(port),
      '--db-filename',
      options.dbFile,
      '--log-level',
      'warn',
    ];
    for (const ns of options.namespaces) args.push('--namespace', ns);
    if (options.singlePartition) args.push(...singlePartitionArgs);
    const out = openSync(logFile, 'a');
    const started = spawn(toolPath('temporal'), args, { stdio: ['ignore', out, out] });
    child = started;
    closeSync(out);
    const reap = (): void => void started.kill('SIGKILL');
    process.once('exit', reap);
    started.once('exit', () => process.removeListener('exit', reap));
    const connection = await connectWhenReady(address, child, 60_000).catch((err: Error) => {
      child?.kill('SIGKILL');
      throw new Error(`${err.message}\n--- ${logFile} ---\n${tail(logFile)}`);
    });
    try {
      for (const ns of ['default', ...options.namespaces]) await ensureSearchAttributes(connection, ns);
    } finally {
      await connection.close();
    }
  };

  const terminate = async (signal: NodeJS.Signals): Promise<void> => {
    const current = child;
    if (!current || current.exitCode !== null || current.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => current.once('exit', () => resolve()));
    current.kill(signal);
    const force = setTimeout(() => current.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(force);
  };

  await launch();
  return {
    address,
    dbFile: options.dbFile,
    namespaces: options.namespaces,
    pid: () => child?.pid,
    kill: () => terminate('SIGKILL'),
    restart: launch,
    async stop() {
      await Promise.all(connections.splice(0).map((c) => c.close().catch(() => undefined)));
      await terminate('SIGTERM');
    },
    async client(namespace) {
      const connection = await Connection.connect({ address });
      connections.push(connection);
      return new Client({ connection, namespace });
    },
  };
}

export type WorkerKind = 'gpu' | 'orchestrator';

export interface WorkerProcess {
  readonly kind: WorkerKind;
  readonly pid: number;
  /** Everything the worker printed so far (stdout and stderr, compute children included). */
  output(): string;
  alive(): boolean;
  /** Resolves once the worker printed that it is connected and polling. */
  ready(): Promise<void>;
  /** Ids of the worker's process group still running (the worker and its compute children). */
  groupPids(): number[];
  /** SIGKILL to the whole process group (worker and compute children); resolves when the worker is gone. */
  killGroup(): Promise<void>;
  /** SIGTERM to the worker only, waiting up to `ms` before killing the group. */
  stop(ms?: number): Promise<void>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface WorkerEnv {
  address: string;
  namespace: string;
  storageRoot: string;
  /** Extra variables (WINNOW_BACKEND, WINNOW_GPU_SLOTS, ...); undefined removes one. */
  env?: NodeJS.ProcessEnv;
  /** The working folder (default: the test's), e.g. one per simulated host. */
  cwd?: string;
}

/** Starts `node dist/workers/<kind>.js` in its own process group. */
export function spawnWorker(kind: WorkerKind, options: WorkerEnv): WorkerProcess {
  const child = spawn(process.execPath, [path.join(repoRoot(), 'dist', 'workers', `${kind}.js`)], {
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: options.address,
      TEMPORAL_NAMESPACE: options.namespace,
      WINNOW_STORAGE_ROOT: options.storageRoot,
      WINNOW_LOG_LEVEL: 'WARN',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: options.cwd,
    // Its own group: killing the group takes the compute children along, like losing the machine.
    detached: true,
  });
  if (child.pid === undefined) throw new Error(`could not start the ${kind} worker`);
  const pid = child.pid;
  // Its own group does not die with the test process: make sure it does.
  const reap = (): void => {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  process.once('exit', reap);
  child.once('exit', () => process.removeListener('exit', reap));
  let output = '';
  const collect = (d: Buffer): void => {
    output = (output + d.toString()).slice(-200_000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const alive = (): boolean => child.exitCode === null && child.signalCode === null;
  const groupPids = (): number[] => {
    const out: number[] = [];
    for (const line of readProcStats()) if (line.pgrp === pid) out.push(line.pid);
    return out;
  };
  return {
    kind,
    pid,
    output: () => output,
    alive,
    exited,
    groupPids,
    async ready() {
      const deadline = Date.now() + 120_000;
      while (!/worker on winnow-\S+ connected to/.test(output)) {
        if (!alive()) throw new Error(`the ${kind} worker exited before connecting:\n${output}`);
        if (Date.now() > deadline) throw new Error(`the ${kind} worker did not connect within 120 s:\n${output}`);
        await sleep(100);
      }
    },
    async killGroup() {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // already gone
      }
      await exited;
      // The compute children die with the group; wait until the kernel has reaped them too.
      for (let i = 0; i < 100 && groupPids().length > 0; i++) await sleep(50);
    },
    async stop(ms = 30_000) {
      if (alive()) child.kill('SIGTERM');
      const timer = setTimeout(() => {
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }, ms);
      await exited;
      clearTimeout(timer);
      for (let i = 0; i < 100 && groupPids().length > 0; i++) await sleep(50);
    },
  };
}

interface ProcStat {
  pid: number;
  pgrp: number;
  state: string;
}

/** Every process on the machine with its group, from /proc (Linux). Zombies are left out. */
function readProcStats(): ProcStat[] {
  const out: ProcStat[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Fields after the command name (which may hold spaces) start after the last ')'.
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const state = rest[0];
      if (state === 'Z') continue;
      out.push({ pid: Number(entry), pgrp: Number(rest[2]), state });
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `probe` every `everyMs` until it returns a value other than undefined, or fails after `seconds`. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  seconds: number,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${seconds} s waiting for ${what}${lastError ? ` (last error: ${(lastError as Error).message})` : ''}`,
      );
    }
    await sleep(everyMs);
  }
}

function tail(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
