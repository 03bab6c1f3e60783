import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { closeIdleChildren, idleChildCount, runInChild } from '../../compute/run-child';
import type { ComputeProbe } from '../../compute/probe';
import { BoundedCache } from '../../compute/tasks/bounded-cache';

const wasm = { WINNOW_BACKEND: 'wasm' };
const probe = (options: Parameters<typeof runInChild>[2] = {}) =>
  runInChild<ComputeProbe>('probe', {}, { ...options, env: { ...wasm, ...options.env } });

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
    await sleep(25);
  }
}

describe('warm compute children', () => {
  afterEach(() => closeIdleChildren());

  it('serve the next task in the same process, and a fresh child is started when asked', async () => {
    const first = await probe({ warm: true });
    const second = await probe({ warm: true });
    assert.equal(second.pid, first.pid);
    const cold = await probe({ warm: false });
    assert.notEqual(cold.pid, first.pid);
    await until(() => !alive(cold.pid), `the cold child ${cold.pid} exits`);
    assert.equal(idleChildCount(), 1);
  });

  it('are reused only with the environment they were started with', async () => {
    const first = await probe({ warm: true });
    const other = await probe({ warm: true, env: { WINNOW_SOME_SETTING: 'x' } });
    assert.notEqual(other.pid, first.pid);
  });

  it('are never reused after an abort: the aborted child is killed', async () => {
    const first = await probe({ warm: true });
    const controller = new AbortController();
    const running = probe({ warm: true, signal: controller.signal });
    controller.abort(new Error('cancelled by test'));
    await assert.rejects(running, /cancelled by test/);
    await until(() => !alive(first.pid), `the aborted child ${first.pid} is gone`);
    const next = await probe({ warm: true });
    assert.notEqual(next.pid, first.pid);
  });

  it('a child that dies while idle leaves the pool; the next task gets a new one', async () => {
    const first = await probe({ warm: true });
    process.kill(first.pid, 'SIGKILL');
    await until(() => idleChildCount() === 0, 'the dead child leaves the pool');
    const next = await probe({ warm: true });
    assert.notEqual(next.pid, first.pid);
  });

  it('exit after the idle time, releasing their memory', async () => {
    process.env.WINNOW_CHILD_IDLE_MS = '200';
    try {
      const first = await probe({ warm: true });
      assert.equal(idleChildCount(), 1);
      await until(() => !alive(first.pid), `the idle child ${first.pid} exits`);
      assert.equal(idleChildCount(), 0);
    } finally {
      delete process.env.WINNOW_CHILD_IDLE_MS;
    }
  });

  it('retire after WINNOW_CHILD_MAX_TASKS tasks', async () => {
    process.env.WINNOW_CHILD_MAX_TASKS = '2';
    try {
      const first = await probe({ warm: true });
      const second = await probe({ warm: true });
      assert.equal(second.pid, first.pid);
      const third = await probe({ warm: true });
      assert.notEqual(third.pid, first.pid);
    } finally {
      delete process.env.WINNOW_CHILD_MAX_TASKS;
    }
  });

  it('keep serving after a task fails with an error', async () => {
    const first = await probe({ warm: true });
    await assert.rejects(
      runInChild('no-such-task', {}, { warm: true, env: wasm }),
      /unknown compute task "no-such-task"/,
    );
    const next = await probe({ warm: true });
    assert.equal(next.pid, first.pid);
  });
});

describe('bounded cache', () => {
  it('evicts the least recently used entries past its capacity and never keeps an oversized value', () => {
    const cache = new BoundedCache<Uint8Array>(10, (b) => b.byteLength);
    cache.set('a', new Uint8Array(4));
    cache.set('b', new Uint8Array(4));
    assert.ok(cache.get('a'));
    cache.set('c', new Uint8Array(4));
    assert.equal(cache.get('b'), undefined);
    assert.ok(cache.get('a') && cache.get('c'));
    assert.equal(cache.size, 8);
    cache.set('big', new Uint8Array(11));
    assert.equal(cache.get('big'), undefined);
    assert.equal(cache.size, 8);
    cache.set('a', new Uint8Array(2));
    assert.equal(cache.size, 6);
  });
});
