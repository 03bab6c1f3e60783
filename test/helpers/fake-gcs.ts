/**
 * A real fake-gcs-server (the binary infra/install-tools.sh builds) on a free
 * loopback port, with a raw @google-cloud/storage client pointed at it. Start
 * one per test file and stop it in `after`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { Storage } from '@google-cloud/storage';
import { toolPath } from '../../infra/tools';
import { freePort } from './ports';

export interface FakeGcs {
  /** http://127.0.0.1:PORT, for `apiEndpoint`. */
  endpoint: string;
  /** A client with no credentials and no retries, for setting up and tampering behind a store's back. */
  storage: Storage;
  projectId: string;
  /** The server process, e.g. to read its memory use. */
  pid: number | undefined;
  createBucket(name: string): Promise<void>;
  stop(): Promise<void>;
}

export interface FakeGcsOptions {
  /** 'memory' (default) or a directory for the filesystem backend (large objects). */
  backend?: 'memory' | { filesystemRoot: string };
}

export async function startFakeGcs(options: FakeGcsOptions = {}): Promise<FakeGcs> {
  const binary = toolPath('fake-gcs-server');
  let lastError: unknown;
  // A port found free can be taken before the server binds it; try a few.
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const backend = options.backend ?? 'memory';
    const args = ['-scheme', 'http', '-host', '127.0.0.1', '-port', String(port), '-log-level', 'error'];
    args.push(
      ...(backend === 'memory'
        ? ['-backend', 'memory']
        : ['-backend', 'filesystem', '-filesystem-root', backend.filesystemRoot]),
    );
    // Upload URLs the server hands out must point back at this address.
    args.push('-external-url', `http://127.0.0.1:${port}`);
    const child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    const endpoint = `http://127.0.0.1:${port}`;
    try {
      await waitUntilServing(endpoint, child, () => stderr);
    } catch (err) {
      lastError = err;
      await stopChild(child);
      continue;
    }
    const projectId = 'winnow-test';
    const storage = new Storage({ apiEndpoint: endpoint, projectId, retryOptions: { autoRetry: false } });
    return {
      endpoint,
      storage,
      projectId,
      pid: child.pid,
      createBucket: async (name) => {
        await storage.createBucket(name);
      },
      stop: () => stopChild(child),
    };
  }
  throw new Error(`fake-gcs-server did not start: ${(lastError as Error)?.message}`);
}

async function waitUntilServing(endpoint: string, child: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`fake-gcs-server exited with ${child.exitCode}: ${stderr()}`);
    try {
      const response = await fetch(`${endpoint}/storage/v1/b`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`fake-gcs-server at ${endpoint} did not answer within 15 s: ${stderr()}`);
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}
