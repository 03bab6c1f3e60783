/**
 * The worker entry points as real processes against a real dev server:
 * they connect from the environment, serve Prometheus metrics when asked,
 * and exit cleanly on SIGTERM.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
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
