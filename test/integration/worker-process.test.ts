/**
 * The worker entry points as real processes against a real dev server:
 * they connect from the environment, serve Prometheus metrics when asked,
 * and exit cleanly on SIGTERM; the container images' entrypoint script,
 * run directly, starts them the same way and refuses unusable settings.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { repoRoot } from '../../infra/tools';
import { freePort } from '../helpers/ports';
import { startDevServerEnv } from '../helpers/temporal';

let env: TestWorkflowEnvironment;
before(async () => {
  env = await startDevServerEnv();
});
after(async () => {
  await env?.teardown();
});

async function waitForMetrics(url: string, child: ChildProcess): Promise<string> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`worker exited with ${child.exitCode}`);
    try {
      const response = await fetch(url);
      const body = await response.text();
      if (response.ok && body.includes('temporal_')) return body;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`no metrics at ${url}`);
}

/** Runs infra/docker/entrypoint.sh; waits for `until` in its output (then SIGTERM) or for it to exit. */
async function runEntrypoint(
  args: string[],
  extra: NodeJS.ProcessEnv,
  until: string,
): Promise<{ code: number | null; output: string }> {
  const child = spawn('sh', [path.join(repoRoot(), 'infra', 'docker', 'entrypoint.sh'), ...args], {
    env: { ...process.env, TEMPORAL_ADDRESS: env.address, WINNOW_LOG_LEVEL: 'WARN', ...extra },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = once(child, 'exit');
  if (until !== 'exit') {
    for (let i = 0; i < 300 && !output.includes(until) && child.exitCode === null; i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    child.kill('SIGTERM');
  }
  const [code] = await exited;
  return { code: code as number | null, output };
}

describe('worker processes', () => {
  it('the gpu worker serves Prometheus metrics and stops on SIGTERM', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [path.join(repoRoot(), 'dist', 'workers', 'gpu.js')], {
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: env.address,
        WINNOW_METRICS_ADDRESS: `127.0.0.1:${port}`,
        WINNOW_LOG_LEVEL: 'WARN',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    try {
      const metrics = await waitForMetrics(`http://127.0.0.1:${port}/metrics`, child);
      assert.match(metrics, /temporal_\w+/);
      for (let i = 0; i < 200 && !output.includes('connected to'); i++) await new Promise((r) => setTimeout(r, 100));
      assert.match(output, /worker on winnow-gpu connected to .*; metrics at http:\/\/127\.0\.0\.1:\d+\/metrics/);
    } finally {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const [code] = await exited;
      assert.equal(code, 0, `clean exit on SIGTERM; output:\n${output}`);
    }
  });

  it('the images’ entrypoint starts a worker with exec (SIGTERM reaches it) and reads the API key from a file', async () => {
    const keyFile = path.join(os.tmpdir(), `winnow-entrypoint-key-${process.pid}`);
    writeFileSync(keyFile, 'not-a-real-key\n');
    // A dev server takes no API key: the worker must then fail to connect, which shows the key reached it.
    const withKey = await runEntrypoint(['orchestrator'], { TEMPORAL_API_KEY_FILE: keyFile }, 'exit');
    rmSync(keyFile, { force: true });
    assert.notEqual(withKey.code, 0);
    assert.match(withKey.output, /starting the orchestrator worker/);
    const run = await runEntrypoint(['orchestrator'], {}, 'connected to');
    assert.match(run.output, /\[entrypoint\] starting the orchestrator worker \(.*dist\/workers\/orchestrator\.js\)/);
    assert.match(run.output, /worker on winnow-orchestrator connected to/);
    assert.equal(run.code, 0, `clean exit on SIGTERM sent to the entrypoint's pid; output:\n${run.output}`);
  });

  it('the entrypoint refuses a wrong kind, a local storage root where shared storage is required, and a grace too long', async () => {
    const cases: Array<[string[], NodeJS.ProcessEnv, number, RegExp]> = [
      [['trainer'], {}, 64, /worker kind must be orchestrator or gpu .* got 'trainer'/],
      [
        ['gpu'],
        { WINNOW_REQUIRE_SHARED_STORAGE: '1', WINNOW_STORAGE_ROOT: '/var/winnow' },
        64,
        /WINNOW_STORAGE_ROOT='\/var\/winnow': workers on several hosts share no disk; set a gs:\/\/bucket\/prefix root/,
      ],
      [
        ['gpu'],
        { WINNOW_SHUTDOWN_GRACE_SECONDS: '600', WINNOW_TERMINATION_GRACE_SECONDS: '600' },
        64,
        /WINNOW_SHUTDOWN_GRACE_SECONDS=600 must be below the pod's terminationGracePeriodSeconds \(600\)/,
      ],
      [
        ['gpu'],
        { TEMPORAL_API_KEY_FILE: '/nonexistent/api-key' },
        66,
        /TEMPORAL_API_KEY_FILE=\/nonexistent\/api-key cannot be read/,
      ],
      [['gpu'], { WINNOW_APP_DIR: os.tmpdir() }, 66, /dist\/workers\/gpu\.js not found/],
    ];
    for (const [args, extra, code, message] of cases) {
      const run = await runEntrypoint(args, extra, 'exit');
      assert.equal(run.code, code, `${args.join(' ')} ${JSON.stringify(extra)}: ${run.output}`);
      assert.match(run.output, message);
    }
  });

  it('refuses a malformed metrics address with a clear message', async () => {
    const child = spawn(process.execPath, [path.join(repoRoot(), 'dist', 'workers', 'orchestrator.js')], {
      env: { ...process.env, TEMPORAL_ADDRESS: env.address, WINNOW_METRICS_ADDRESS: 'everywhere' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    const [code] = await once(child, 'exit');
    assert.equal(code, 1);
    assert.match(output, /WINNOW_METRICS_ADDRESS=everywhere must be host:port/);
  });
});
