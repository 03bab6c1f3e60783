/**
 * Several hosts, simulated: one Temporal server process, 2 orchestrator and
 * 3 gpu worker processes, each in its own working folder with its own temp
 * folder and home, sharing nothing but Temporal and fake-gcs-server (the
 * dataset, TFRecord shards, and every artifact live on gs://). The search
 * completes with activities on every gpu worker; one gpu worker killed
 * mid-round (SIGKILL to its process group) changes nothing: the subset equals
 * that of a run on a single pair of workers, run alongside in its own
 * namespace. A dead worker's activity is retried when its heartbeat times out
 * (2 minutes), so this test takes about three.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import type { SearchConfigInput } from '../../contracts/config';
import { TaskQueue } from '../../contracts/task-queues';
import { parseSubsetManifest } from '../../domain/acquisition/subset-manifest';
import { openStore } from '../../domain/storage/open-store';
import type { SearchResult, subsetSearch } from '../../workflows';
import { completedActivities, pendingActivities } from '../helpers/activity-history';
import { startFakeGcs, type FakeGcs } from '../helpers/fake-gcs';
import {
  spawnWorker,
  startServerProcess,
  waitFor,
  type ServerProcess,
  type WorkerKind,
  type WorkerProcess,
} from '../helpers/processes';
import { freePort } from '../helpers/ports';
import { writeTfrecordShards } from '../helpers/tfrecords';

const BUCKET = 'winnow-hosts';
const ROOT = `gs://${BUCKET}/searches`;
const DATA = `gs://${BUCKET}/searches/datasets/bars`;
const namespaces = { hosts: 'multi-host', reference: 'multi-host-reference' } as const;
const POOL = 300;
const TARGET = 130;

const scratch = mkdtempSync(path.join(os.tmpdir(), 'winnow-multi-host-'));
let server: ServerProcess;
let gcs: FakeGcs;
let connection: Connection;
const workers: WorkerProcess[] = [];
const hostDirs = new Map<WorkerProcess, string>();
let hostCount = 0;

before(async () => {
  gcs = await startFakeGcs();
  await gcs.createBucket(BUCKET);
  const shards = writeTfrecordShards(path.join(scratch, 'upload'), {
    classes: 4,
    train: [100, 100, 100],
    test: [50, 50],
    side: 12,
    seed: 8,
  });
  for (const name of readdirSync(shards.dir)) {
    await gcs.storage
      .bucket(BUCKET)
      .file(`searches/datasets/bars/${name}`)
      .save(readFileSync(path.join(shards.dir, name)), { resumable: false });
  }
  // Nothing local is used after the upload.
  rmSync(shards.dir, { recursive: true, force: true });
  server = await startServerProcess({
    dbFile: path.join(scratch, 'temporal.db'),
    namespaces: Object.values(namespaces),
  });
  connection = await Connection.connect({ address: server.address });
});

after(async () => {
  await Promise.all(workers.map((w) => w.killGroup()));
  await connection?.close();
  await server?.stop();
  await gcs?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

/** A worker on a "host" of its own: its own working folder, temp folder and home; gs:// storage. */
const metricsPorts = new Map<WorkerProcess, number>();

async function startHost(kind: WorkerKind, namespace: string): Promise<WorkerProcess> {
  const port = await freePort();
  const dir = path.join(scratch, `host-${hostCount++}-${kind}`);
  for (const sub of ['tmp', 'home']) mkdirSync(path.join(dir, sub), { recursive: true });
  const worker = spawnWorker(kind, {
    address: server.address,
    namespace,
    storageRoot: ROOT,
    cwd: dir,
    env: {
      STORAGE_EMULATOR_HOST: gcs.endpoint,
      TMPDIR: path.join(dir, 'tmp'),
      HOME: path.join(dir, 'home'),
      // Each host's caches default to its own working folder.
      WINNOW_DATA_CACHE: undefined,
      WINNOW_DATA_ROOTS: undefined,
      WINNOW_REQUIRE_SHARED_STORAGE: '1',
      WINNOW_METRICS_ADDRESS: `127.0.0.1:${port}`,
    },
  });
  metricsPorts.set(worker, port);
  workers.push(worker);
  hostDirs.set(worker, dir);
  return worker;
}

const config = (searchId: string): SearchConfigInput => ({
  searchId,
  dataset: { kind: 'tfrecord', uri: DATA },
  modelWidth: 0.25,
  training: { epochs: 4, batchSize: 16, learningRate: 0.003 },
  ensemble: { members: 3, checkpointEpochs: [2, 4] },
  shardSize: 50,
  initialSize: 100,
  targets: [TARGET],
  acquisition: { function: 'entropy', step: 30 },
  evaluation: { randomBaseline: false, fullBaseline: false },
  seed: 5,
});

function start(namespace: string, searchId: string): Promise<WorkflowHandle<typeof subsetSearch>> {
  const client = new Client({ connection, namespace });
  return client.workflow.start<typeof subsetSearch>('subsetSearch', {
    taskQueue: TaskQueue.orchestrator,
    workflowId: searchId,
    args: [config(searchId)],
  });
}

async function subsetOf(result: SearchResult): Promise<number[]> {
  const uri = result.subsets[String(TARGET)];
  assert.ok(uri.startsWith(`${ROOT}/`), `the subset is on gs://: ${uri}`);
  const store = openStore(ROOT, { gcs: { apiEndpoint: gcs.endpoint } });
  const manifest = parseSubsetManifest((await store.get(uri)).toString('utf8'), uri);
  assert.equal(manifest.count, TARGET);
  assert.ok(
    manifest.indices.every((i) => i >= 0 && i < POOL),
    'every index inside the pool',
  );
  return [...manifest.indices].sort((a, b) => a - b);
}

const identityOf = (worker: WorkerProcess) => `${worker.pid}@${os.hostname()}`;

/** The sum over all label sets of a metric in Prometheus text (a counter may carry a _total suffix). */
function sumOf(text: string, name: string): number {
  let sum = 0;
  for (const match of text.matchAll(new RegExp(`^${name}(?:_total)?(?:\\{[^}]*\\})? (\\S+)$`, 'gm')))
    sum += Number(match[1]);
  return sum;
}

describe('workers on several hosts, sharing only Temporal and gs://', () => {
  it('2 orchestrators and 3 gpu workers finish the search, one gpu worker killed mid-round, with the single-host subset', async () => {
    const reference = [
      await startHost('orchestrator', namespaces.reference),
      await startHost('gpu', namespaces.reference),
    ];
    const orchestrators = [
      await startHost('orchestrator', namespaces.hosts),
      await startHost('orchestrator', namespaces.hosts),
    ];
    const gpus = [
      await startHost('gpu', namespaces.hosts),
      await startHost('gpu', namespaces.hosts),
      await startHost('gpu', namespaces.hosts),
    ];
    await Promise.all([...reference, ...orchestrators, ...gpus].map((w) => w.ready()));

    const referenceRun = start(namespaces.reference, 'hosts-reference').then((h) => h.result());
    const handle = await start(namespaces.hosts, 'hosts-three-gpus');
    // The victim has finished a member and is busy with its next activity: kill it, as when its machine dies.
    const victim = gpus[2];
    await waitFor(
      'the third gpu worker to finish one activity and start another',
      async () => {
        const done = (await completedActivities(handle)).some((a) => a.identity === identityOf(victim));
        const busy = (await pendingActivities(handle)).some(
          (p) => p.state === 'STARTED' && p.worker === identityOf(victim),
        );
        return done && busy ? true : undefined;
      },
      300,
      500,
    );
    await victim.killGroup();
    const result = await handle.result();

    const activities = await completedActivities(handle);
    for (const gpu of gpus) {
      assert.ok(
        activities.some((a) => a.identity === identityOf(gpu)),
        `gpu worker ${identityOf(gpu)} completed activities`,
      );
    }
    const retried = activities.filter((a) => a.attempt > 1);
    assert.ok(retried.length >= 1, "the killed worker's activity was retried elsewhere");
    assert.ok(retried.every((a) => a.identity !== identityOf(victim)));
    const orchestratorIds = new Set(orchestrators.map(identityOf));
    assert.ok(
      activities.some((a) => a.type === 'acquire' && orchestratorIds.has(a.identity ?? '')),
      'an orchestrator host acquired the subset',
    );

    assert.deepEqual(
      await subsetOf(result),
      await subsetOf(await referenceRun),
      'same subset as on one pair of workers',
    );
    // winnow's own metrics beside the SDK's on each surviving gpu worker's Prometheus endpoint.
    let trained = 0;
    let scored = 0;
    for (const gpu of gpus.slice(0, 2)) {
      const text = await (await fetch(`http://127.0.0.1:${metricsPorts.get(gpu)}/metrics`)).text();
      assert.match(text, /^temporal_\w+/m, 'the SDK metrics are there too');
      trained += sumOf(text, 'winnow_images_trained');
      scored += sumOf(text, 'winnow_samples_scored');
      assert.match(text, /^winnow_activity_seconds_count\{[^}]*activity="(trainMember|scoreShard)"/m);
      assert.match(text, /^winnow_\w+\{[^}]*backend="(tfjs-node|wasm)"/m, 'the compute backend is a label');
    }
    assert.ok(trained > 0, `images trained: ${trained}`);
    assert.ok(scored > 0, `samples scored: ${scored}`);
    // Every gpu host that ran a task reading the data built its own record index of the gs:// shards, in its own
    // folder. A host whose only finished tasks were probes (probeCompute, describeModel) never opened the data.
    const readsData = new Set(['trainMember', 'scoreShard', 'evaluate']);
    const readers = gpus.filter((gpu) =>
      activities.some((a) => a.identity === identityOf(gpu) && readsData.has(a.type)),
    );
    assert.ok(readers.length >= 2, `${readers.length} gpu hosts finished a task that reads the data`);
    for (const gpu of readers) {
      const cache = path.join(hostDirs.get(gpu)!, 'state', 'cache', 'datasets', 'tfrecord-index');
      assert.ok(existsSync(cache) && readdirSync(cache).length > 0, `${cache} holds the host's own indices`);
    }
  });
});
