/**
 * The local Temporal dev server: the Temporal CLI's `server start-dev` with a
 * persistent SQLite file under state/, the web UI on 8233, and winnow's search
 * attributes registered. `npm run server` runs it in the foreground; the demo
 * starts it in the background when nothing listens on TEMPORAL_ADDRESS.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { ensureSearchAttributes } from './search-attributes';
import { repoRoot, toolPath } from './tools';

export interface DevServerOptions {
  /** gRPC port (default 7233). */
  port?: number;
  /** Web UI port (default 8233). */
  uiPort?: number;
  /** SQLite file (default state/temporal.db); the server keeps all history there across restarts. */
  dbFile?: string;
  namespace?: string;
  /** Print the server's own output here instead of appending it to temporal.log beside the database. */
  inheritStdio?: boolean;
}

export interface DevServer {
  address: string;
  uiUrl: string;
  namespace: string;
  dbFile: string;
  process: ChildProcess;
  /** Search attributes added at this start. */
  addedSearchAttributes: string[];
  stop(): Promise<void>;
}

/** `temporal server start-dev` arguments that give every task queue one read and one write partition. */
export const singlePartitionArgs: readonly string[] = [
  '--dynamic-config-value',
  'matching.numTaskqueueReadPartitions=1',
  '--dynamic-config-value',
  'matching.numTaskqueueWritePartitions=1',
];

export async function startDevServer(options: DevServerOptions = {}): Promise<DevServer> {
  const port = options.port ?? 7233;
  const uiPort = options.uiPort ?? 8233;
  const namespace = options.namespace ?? 'default';
  const dbFile = path.resolve(options.dbFile ?? path.join(repoRoot(), 'state', 'temporal.db'));
  mkdirSync(path.dirname(dbFile), { recursive: true });
  // Another server on the port would answer our readiness probe; refuse up front instead.
  for (const [what, p] of [
    ['gRPC', port],
    ['UI', uiPort],
  ] as const) {
    if (!(await portIsFree(p))) {
      throw new Error(
        `port ${p} (Temporal ${what}) on 127.0.0.1 is already in use: stop what listens there (another \`npm run server\`?) or choose other ports`,
      );
    }
  }
  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    '--ui-port',
    String(uiPort),
    '--db-filename',
    dbFile,
    '--namespace',
    namespace,
    '--log-level',
    'warn',
    // One partition per task queue: with the default four, a task that lands in a partition no worker is polling
    // waits to be forwarded, about a second on this server (bench:scale --single-partition shows it).
    ...singlePartitionArgs,
  ];
  const logFile = dbFile.replace(/\.db$/, '') + '.log';
  const out = options.inheritStdio ? 'inherit' : openSync(logFile, 'a');
  const child = spawn(toolPath('temporal'), args, { stdio: ['ignore', out, out] });
  if (typeof out === 'number') closeSync(out);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const address = `127.0.0.1:${port}`;
  try {
    const connection = await connectWhenReady(address, child, 60_000).catch((err: Error) => {
      throw new Error(
        `${err.message}${options.inheritStdio ? '' : `\n--- last lines of ${logFile} ---\n${tailOf(logFile, 15)}`}`,
      );
    });
    try {
      const added = await ensureSearchAttributes(connection, namespace);
      return {
        address,
        uiUrl: `http://localhost:${uiPort}`,
        namespace,
        dbFile,
        process: child,
        addedSearchAttributes: added,
        async stop() {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
          await exited;
        },
      };
    } finally {
      await connection.close();
    }
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
}

function tailOf(file: string, lines: number): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

/** Connects once the server answers; fails early if the process dies (e.g. the port is taken). */
export async function connectWhenReady(
  address: string,
  child: ChildProcess | undefined,
  timeoutMs: number,
): Promise<Connection> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (child && (child.exitCode !== null || child.signalCode !== null)) {
      throw new Error(`the Temporal dev server exited (${child.exitCode ?? child.signalCode}) while starting`);
    }
    try {
      const connection = await Connection.connect({ address, connectTimeout: 2_000 });
      await connection.workflowService.getSystemInfo({});
      return connection;
    } catch (err) {
      lastError = err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  throw new Error(
    `the Temporal server at ${address} did not answer within ${timeoutMs / 1000} s: ${(lastError as Error)?.message}`,
  );
}

async function main(): Promise<void> {
  const server = await startDevServer({ inheritStdio: true });
  console.log(`[winnow] Temporal dev server on ${server.address}, UI at ${server.uiUrl}, history in ${server.dbFile}`);
  if (server.addedSearchAttributes.length > 0)
    console.log(`[winnow] registered search attributes: ${server.addedSearchAttributes.join(', ')}`);
  console.log('[winnow] Ctrl-C stops it; the history stays in the database for the next start.');
  const stop = (): void => void server.stop().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await new Promise<void>((resolve) => server.process.once('exit', () => resolve()));
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(`[winnow] ${(err as Error).message}`);
    process.exit(1);
  });
}
