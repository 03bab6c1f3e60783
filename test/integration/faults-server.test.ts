/**
 * The Temporal server killed mid-search (SIGKILL) and restarted on the same
 * SQLite file: the search goes on from where the history left it, and the
 * same worker processes reconnect by themselves and finish the work.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { parseSubsetManifest } from '../../domain/acquisition/subset-manifest';
import { openStore } from '../../domain/storage/open-store';
import type { subsetSearch } from '../../workflows';
import { TaskQueue } from '../../contracts/task-queues';
import { completedActivities } from '../helpers/activity-history';
import { spawnWorker, startServerProcess, waitFor, type ServerProcess, type WorkerProcess } from '../helpers/processes';

const scratch = mkdtempSync(path.join(os.tmpdir(), 'winnow-faults-server-'));
const storageDir = path.join(scratch, 'artifacts');
mkdirSync(storageDir);
const store = openStore(pathToFileURL(storageDir).href);

let server: ServerProcess;
const workers: WorkerProcess[] = [];

before(async () => {
  server = await startServerProcess({ dbFile: path.join(scratch, 'temporal.db'), namespaces: [] });
});

after(async () => {
  await Promise.all(workers.map((w) => w.killGroup()));
  await server?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

/** The epoch of a member's latest per-epoch save, 0 before the first. */
function savedEpoch(memberDir: string): number {
  let latest = 0;
  for (const state of ['resume', 'ckpt-2', 'ckpt-4']) {
    const json = path.join(memberDir, state, 'checkpoint.json');
    if (existsSync(json))
      latest = Math.max(latest, (JSON.parse(readFileSync(json, 'utf8')) as { meta: { epoch: number } }).meta.epoch);
  }
  return latest;
}

describe('Temporal server killed mid-search', { timeout: 10 * 60_000 }, () => {
  it('restarted on the same database: the search completes and the same worker processes finish it', async () => {
    const searchId = 'server-restart';
    const common = { address: server.address, namespace: 'default', storageRoot: storageDir };
    const orchestrator = spawnWorker('orchestrator', common);
    const gpu = spawnWorker('gpu', common);
    workers.push(orchestrator, gpu);
    await Promise.all([orchestrator.ready(), gpu.ready()]);

    const client = await server.client('default');
    const handle = await client.workflow.start<typeof subsetSearch>('subsetSearch', {
      taskQueue: TaskQueue.orchestrator,
      workflowId: searchId,
      args: [
        {
          searchId,
          dataset: { kind: 'synthetic', uri: 'synthetic:?seed=5&shape=12x12x1&classes=4&test=100', size: 240 },
          modelWidth: 0.25,
          training: { epochs: 4, batchSize: 16, learningRate: 0.003 },
          ensemble: { members: 2, checkpointEpochs: [2, 4] },
          shardSize: 80,
          initialSize: 60,
          targets: [80, 100],
          acquisition: { step: 20 },
          evaluation: { randomBaseline: false, fullBaseline: false },
        },
      ],
    });

    // Kill the server while the first member trains: the worker trains on meanwhile.
    const memberDir = path.join(storageDir, searchId, 'round-0', 'member-0');
    const savedBefore = await waitFor(
      'member 0 of round 0 to save an epoch',
      () => savedEpoch(memberDir) || undefined,
      300,
      50,
    );
    await server.kill();
    await waitFor(
      'training to go on while the server is down',
      () => (savedEpoch(memberDir) > savedBefore ? true : undefined),
      120,
      50,
    );
    await server.restart();

    // Again in the next run (after continue-as-new), while round 1 scores; restarted at once.
    const scores = path.join(storageDir, searchId, 'round-1', 'scores');
    await waitFor(
      'round 1 to score a shard',
      () => (existsSync(scores) && readdirSync(scores).some((f) => f.startsWith('shard-')) ? true : undefined),
      300,
      50,
    );
    await server.kill();
    await server.restart();

    const result = await handle.result();
    assert.ok(orchestrator.alive() && gpu.alive(), 'the worker processes were never restarted');
    assert.deepEqual(
      result.evaluations.map((e) => e.size),
      [80, 100],
    );
    const last = parseSubsetManifest((await store.get(result.subsets['100'])).toString('utf8'));
    assert.equal(new Set(last.indices).size, 100, 'no index twice');
    assert.ok(
      last.indices.every((i) => Number.isInteger(i) && i >= 0 && i < 240),
      'every index inside the pool',
    );

    // The member that trained through the outage reported its result after the restart: not trained twice.
    const firstRun = await completedActivities(client.workflow.getHandle(searchId, handle.firstExecutionRunId));
    const members = firstRun.filter(
      (a) => a.type === 'trainMember' && /\/round-0\/member-/.test((a.input as { memberKey: string }).memberKey),
    );
    assert.equal(members.length, 2);
    assert.deepEqual(
      members.map((m) => m.attempt),
      [1, 1],
      'no member attempt was lost to the outage',
    );
    const lastRun = await completedActivities(handle);
    assert.equal(lastRun.filter((a) => a.type === 'scoreShard').length, 3, 'round 1 scored each of its 3 shards once');
  });
});
