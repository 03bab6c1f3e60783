import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runInChild } from '../../compute/run-child';
import type { ComputeProbe } from '../../compute/probe';
import { parseBackendPreference } from '../../compute/backend';

describe('compute child process', () => {
  it('runs the probe in another process on a real backend', async () => {
    const probe = await runInChild<ComputeProbe>('probe', {}, { env: { WINNOW_BACKEND: 'wasm' } });
    assert.equal(probe.backend, 'wasm');
    assert.notEqual(probe.pid, process.pid);
    assert.ok(Number.isFinite(probe.checksum) && probe.checksum > 0);
  });

  it('reports an unknown task as an error naming the known ones', async () => {
    await assert.rejects(runInChild('no-such-task', {}), /unknown compute task "no-such-task"; known: probe/);
  });

  it('kills the child when aborted', async () => {
    const controller = new AbortController();
    const running = runInChild('probe', {}, { signal: controller.signal });
    controller.abort(new Error('cancelled by test'));
    await assert.rejects(running, /cancelled by test/);
  });
});

describe('backend preference', () => {
  it('accepts auto and the known backends, and names the bad value', () => {
    assert.equal(parseBackendPreference(undefined), 'auto');
    assert.equal(parseBackendPreference('wasm'), 'wasm');
    assert.throws(
      () => parseBackendPreference('cuda'),
      /WINNOW_BACKEND=cuda is not a backend; use one of auto, tfjs-node-gpu, tfjs-node, wasm/,
    );
  });
});
