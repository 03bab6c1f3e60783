/**
 * Bad input through a real search on a real dev server: malformed configs as
 * the Temporal UI would send them, broken dataset files, paths outside the
 * worker's roots, unusable storage, and bad artifacts met mid-search (a
 * checkpoint whose bytes changed, one whose model predicts NaN, a member that
 * diverges). Each must end in a clear, specific, typed failure (or, for the
 * corrupt checkpoint, a refusal to use it) and leave nothing damaged behind.
 */
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import type { ApplicationFailure } from '@temporalio/common';
import { applicationFailureOf } from '../helpers/failures';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { parseSubsetManifest } from '../../domain/acquisition/subset-manifest';
import { openStore } from '../../domain/storage/open-store';
import { subsetSearch } from '../../workflows';
import type { SearchConfigInput } from '../../contracts/config';
import {
  pauseSignal,
  progressQuery,
  resumeSignal,
  type SearchProgress,
  unpauseSignal,
} from '../../workflows/definitions';
import { WinnowStatus } from '../../workflows/search-attributes';
import { TaskQueue } from '../../contracts/task-queues';
import { completedActivities, failedAttempts } from '../helpers/activity-history';
import { startFakeGcs, type FakeGcs } from '../helpers/fake-gcs';
import { waitFor } from '../helpers/processes';
import { startDevServerEnv, withWorkers } from '../helpers/temporal';
import { idxBytes, writeIdxSet } from '../unit/data-helpers';

let env: TestWorkflowEnvironment;
const scratch = mkdtempSync(path.join(os.tmpdir(), 'winnow-faults-input-'));
const storageDir = path.join(scratch, 'artifacts');
mkdirSync(storageDir);
const store = openStore(pathToFileURL(storageDir).href);
const savedEnv = {
  WINNOW_STORAGE_ROOT: process.env.WINNOW_STORAGE_ROOT,
  STORAGE_EMULATOR_HOST: process.env.STORAGE_EMULATOR_HOST,
};

before(async () => {
  process.env.WINNOW_STORAGE_ROOT = storageDir;
  env = await startDevServerEnv();
});

after(async () => {
  await env?.teardown();
  for (const [name, value] of Object.entries(savedEnv)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  rmSync(scratch, { recursive: true, force: true });
});

const POOL = 120;
const tiny = {
  dataset: { kind: 'synthetic', uri: 'synthetic:?seed=6&shape=8x8x1&classes=3&test=60', size: POOL },
  modelWidth: 0.25,
  training: { epochs: 2, batchSize: 32, learningRate: 0.003 },
  ensemble: { members: 1, checkpointEpochs: [1, 2] },
  shardSize: 60,
  initialSize: 30,
  targets: [60],
  acquisition: { step: 30 },
  evaluation: { randomBaseline: false, fullBaseline: false },
} satisfies SearchConfigInput;

/** Runs every input as its own search (workflow id = key) at once and returns how each failed. */
async function failuresOf(inputs: Record<string, unknown>): Promise<Record<string, ApplicationFailure>> {
  const outcomes = await withWorkers(env, ['orchestrator', 'gpu'], () =>
    Promise.all(
      Object.entries(inputs).map(([workflowId, input]) =>
        env.client.workflow
          .execute(subsetSearch, { taskQueue: TaskQueue.orchestrator, workflowId, args: [input] })
          .then(
            () => assert.fail(`${workflowId}: the search should have failed`),
            (err: unknown) => [workflowId, applicationFailureOf(err)] as const,
          ),
      ),
    ),
  );
  return Object.fromEntries(outcomes);
}

function assertFailure(failure: ApplicationFailure, type: string, ...patterns: RegExp[]): void {
  assert.equal(failure.type, type, `${failure.type}: ${failure.message}`);
  assert.equal(failure.nonRetryable, true, `${type} is not retried`);
  for (const pattern of patterns) assert.match(failure.message, pattern);
}

/** The artifacts a failed search left in the store (keys below its folder): none, or only its search manifest. */
async function storedFor(searchId: string): Promise<string[]> {
  return (await store.list(`${searchId}/`)).map((o) => o.key.slice(searchId.length + 1));
}

const id = (name: string) => `${name}-${randomUUID().slice(0, 8)}`;

/** Flips the low bit of the byte at `at` (negative: from the end) behind the store's back; returns the original bytes. */
function flipBit(file: string, at: number): Buffer {
  const original = readFileSync(file);
  const flipped = Buffer.from(original);
  flipped[at < 0 ? flipped.length + at : at] ^= 0x01;
  writeFileSync(file, flipped);
  return original;
}

describe('bad input', { timeout: 10 * 60_000 }, () => {
  it('malformed configs fail at once with InvalidConfig naming each bad field, and store nothing', async () => {
    const cases = {
      [id('wrong-types')]: {
        input: { ...tiny, targets: ['60'], training: { learningRate: 'fast' }, storageRoot: 42 },
        fields: ['targets.0', 'training.learningRate', 'storageRoot'],
      },
      [id('negative-sizes')]: {
        input: {
          ...tiny,
          dataset: { ...tiny.dataset, size: -10 },
          initialSize: -5,
          shardSize: 0,
          training: { epochs: -1 },
          ensemble: { members: -2 },
        },
        fields: ['dataset.size', 'initialSize', 'shardSize', 'training.epochs', 'ensemble.members'],
      },
      [id('unknown-kind-and-model')]: {
        input: { ...tiny, dataset: { kind: 'imagenet-22k' }, model: 'vgg-77' },
        fields: ['dataset.kind', 'model'],
      },
      [id('huge-learning-rate')]: {
        input: { ...tiny, training: { ...tiny.training, learningRate: 1e6 } },
        fields: ['training.learningRate'],
      },
      [id('not-an-object')]: { input: 'fashion-mnist please', fields: ['(config)'] },
    };
    const failures = await failuresOf(Object.fromEntries(Object.entries(cases).map(([k, c]) => [k, c.input])));
    for (const [workflowId, { fields }] of Object.entries(cases)) {
      const failure = failures[workflowId];
      assertFailure(failure, 'InvalidConfig', /^invalid search config \(\d+ problems?\)/);
      for (const field of fields)
        assert.ok(failure.message.includes(`${field}: `), `${workflowId}: message names ${field}: ${failure.message}`);
      assert.deepEqual(await storedFor(workflowId), [], `${workflowId}: nothing stored`);
    }
    assert.match(
      failures[Object.keys(cases)[2]].message,
      /dataset\.kind: .*"fashion-mnist"/,
      'lists the known dataset kinds',
    );
    assert.match(
      failures[Object.keys(cases)[3]].message,
      /training\.learningRate: .*<=\s?10/,
      'states the allowed maximum',
    );
  });

  it('targets larger than the data set fail once the pool is known, before any subset is drawn', async () => {
    const workflowId = id('targets-too-large');
    const failure = (await failuresOf({ [workflowId]: { ...tiny, targets: [60, 500] } }))[workflowId];
    assertFailure(
      failure,
      'InvalidConfig',
      new RegExp(`targets\\.1: 500 is larger than the training set \\(${POOL} samples\\)`),
    );
    assert.deepEqual(await storedFor(workflowId), ['search.json']);
  });

  it('broken dataset files fail with InvalidData naming the file and what is wrong', async () => {
    const broken = (name: string, damage: (dir: string) => void): string => {
      const dir = path.join(scratch, 'datasets', name);
      mkdirSync(dir, { recursive: true });
      writeIdxSet(dir, { n: 40, m: 10, rows: 4, cols: 4, gzip: false });
      damage(dir);
      return dir;
    };
    const images = (dir: string) => path.join(dir, 'train-images-idx3-ubyte');
    const labels = (dir: string) => path.join(dir, 'train-labels-idx1-ubyte');
    const dirs = {
      missing: broken('missing', (dir) => rmSync(labels(dir))),
      truncated: broken('truncated', (dir) =>
        writeFileSync(images(dir), readFileSync(images(dir)).subarray(0, 16 + 16 * 10)),
      ),
      magic: broken('magic', (dir) => writeFileSync(labels(dir), idxBytes(2051, [40], new Uint8Array(40)))),
      count: broken('count', (dir) => writeFileSync(labels(dir), idxBytes(2049, [39], new Uint8Array(39)))),
    };
    const before = Object.fromEntries(
      Object.values(dirs).flatMap((dir) =>
        readdirSync(dir).map((f) => [path.join(dir, f), readFileSync(path.join(dir, f))]),
      ),
    );
    const ids = Object.fromEntries(Object.keys(dirs).map((k) => [k, id(`data-${k}`)])) as Record<
      keyof typeof dirs,
      string
    >;
    const failures = await failuresOf(
      Object.fromEntries(
        Object.entries(dirs).map(([k, dir]) => [
          ids[k as keyof typeof dirs],
          { ...tiny, dataset: { kind: 'fashion-mnist', uri: pathToFileURL(dir).href }, initialSize: 10, targets: [20] },
        ]),
      ),
    );
    assertFailure(
      failures[ids.missing],
      'InvalidData',
      /missing\/train-labels-idx1-ubyte: file not found/,
      /check dataset\.uri/,
    );
    assertFailure(
      failures[ids.truncated],
      'InvalidData',
      /truncated\/train-images-idx3-ubyte: truncated: .*declares 40 x 4 x 4 bytes of data, .*ends at byte offset 176/,
    );
    assertFailure(
      failures[ids.magic],
      'InvalidData',
      /magic\/train-labels-idx1-ubyte: byte offset 0 holds magic number 2051 .*expected 2049/,
    );
    assertFailure(failures[ids.count], 'InvalidData', /count\/train-labels-idx1-ubyte: 39 labels .* holds 40 images/);
    for (const searchId of Object.values(ids))
      assert.deepEqual(await storedFor(searchId), ['search.json'], `${searchId}: no subset or model stored`);
    for (const [file, bytes] of Object.entries(before))
      assert.deepEqual(readFileSync(file), bytes, `${file} left as it was`);
  });

  it('paths outside the worker’s roots: datasets are not read and storage roots not written', async () => {
    const outside = path.join(scratch, 'outside');
    mkdirSync(outside);
    const cases = {
      [id('data-etc')]: { ...tiny, dataset: { kind: 'fashion-mnist', uri: '/etc' } },
      [id('data-climb')]: { ...tiny, dataset: { kind: 'mnist', uri: '../../../../../../../etc/passwd' } },
      [id('data-file-uri')]: { ...tiny, dataset: { kind: 'cifar10', uri: 'file:///root' } },
      [id('store-outside')]: { ...tiny, storageRoot: outside },
      [id('store-climb')]: { ...tiny, storageRoot: `${pathToFileURL(storageDir).href}/../outside` },
      [id('store-etc')]: { ...tiny, storageRoot: 'file:///etc/winnow' },
    };
    const failures = await failuresOf(cases);
    const [etc, climb, fileUri, storeOutside, storeClimb, storeEtc] = Object.keys(cases);
    assertFailure(
      failures[etc],
      'ForbiddenPath',
      /^dataset\.uri \/etc resolves to \/etc, outside the folders this worker reads datasets from/,
    );
    assertFailure(
      failures[climb],
      'ForbiddenPath',
      /^dataset\.uri \.\.\/.*etc\/passwd resolves to \/etc\/passwd, outside/,
    );
    assertFailure(failures[fileUri], 'ForbiddenPath', /^dataset\.uri \/root resolves to \/root, outside/);
    for (const key of [storeOutside, storeClimb, storeEtc]) {
      assertFailure(failures[key], 'ForbiddenPath', /lies outside the worker's storage root/);
    }
    for (const key of [etc, climb, fileUri])
      assert.deepEqual(await storedFor(key), ['search.json'], 'refused before any subset is drawn');
    assert.deepEqual(readdirSync(outside), [], 'nothing written outside the storage root');
    assert.equal(existsSync('/etc/winnow'), false);
  });

  it('a storage root that is not a folder, and a gs:// bucket that does not exist: InvalidConfig naming the root', async () => {
    const file = path.join(scratch, 'root-is-a-file');
    writeFileSync(file, 'not a folder');
    let gcs: FakeGcs | undefined;
    try {
      process.env.WINNOW_STORAGE_ROOT = file;
      const fileCase = id('unwritable-root');
      const unwritable = (await failuresOf({ [fileCase]: tiny }))[fileCase];
      assertFailure(
        unwritable,
        'InvalidConfig',
        new RegExp(
          `cannot write artifact ${pathToFileURL(file).href}/${fileCase}/search\\.json: a path component under the root is a regular file`,
        ),
        /is not writable by this worker/,
      );
      assert.equal(readFileSync(file, 'utf8'), 'not a folder');

      gcs = await startFakeGcs();
      await gcs.createBucket('winnow-bucket');
      process.env.STORAGE_EMULATOR_HOST = gcs.endpoint;
      process.env.WINNOW_STORAGE_ROOT = 'gs://no-such-bucket/searches';
      const missing = id('missing-bucket');
      assertFailure(
        (await failuresOf({ [missing]: tiny }))[missing],
        'InvalidConfig',
        /bucket no-such-bucket does not exist \(store root gs:\/\/no-such-bucket\/searches\)/,
      );

      // With a bucket that exists, a config may not leave the worker's prefix or bucket.
      process.env.WINNOW_STORAGE_ROOT = 'gs://winnow-bucket/searches';
      const otherBucket = id('other-bucket');
      const climb = id('gs-climb');
      const failures = await failuresOf({
        [otherBucket]: { ...tiny, storageRoot: 'gs://no-such-bucket/searches' },
        [climb]: { ...tiny, storageRoot: 'gs://winnow-bucket/searches/../elsewhere' },
      });
      assertFailure(
        failures[otherBucket],
        'ForbiddenPath',
        /lies outside the worker's storage root gs:\/\/winnow-bucket\/searches/,
      );
      assertFailure(failures[climb], 'ForbiddenPath', /lies outside the worker's storage root/);
      const [objects] = await gcs.storage.bucket('winnow-bucket').getFiles();
      assert.deepEqual(
        objects.map((o) => o.name),
        [],
        'nothing written to the bucket',
      );
    } finally {
      process.env.WINNOW_STORAGE_ROOT = storageDir;
      if (savedEnv.STORAGE_EMULATOR_HOST === undefined) delete process.env.STORAGE_EMULATOR_HOST;
      else process.env.STORAGE_EMULATOR_HOST = savedEnv.STORAGE_EMULATOR_HOST;
      await gcs?.stop();
    }
  });
});

type HeldSearch = WorkflowHandle<typeof subsetSearch> & { firstExecutionRunId: string };

/**
 * Starts a search paused: a gpu worker runs its preparation, and it waits at the gate before training
 * with no gpu worker left polling. runOneStep then moves it one step at a time.
 */
async function startHeldBeforeTraining(searchId: string, config: SearchConfigInput): Promise<HeldSearch> {
  const started = await env.client.workflow.signalWithStart(subsetSearch, {
    taskQueue: TaskQueue.orchestrator,
    workflowId: searchId,
    args: [config],
    signal: pauseSignal,
    signalArgs: [],
  });
  // Without a run id the handle follows the search across continue-as-new.
  const handle = Object.assign(env.client.workflow.getHandle<typeof subsetSearch>(searchId), {
    firstExecutionRunId: started.signaledRunId,
  });
  await withWorkers(env, ['gpu'], () => progressWhen(handle, (p) => p.phase === 'paused', 300));
  return handle;
}

/**
 * From a pause with no gpu worker polling: un-pauses, lets the search enter `phase` (its activities wait
 * in the gpu queue), pauses it again, then has a gpu worker run that step; returns once the search waits
 * at the gate after it with `reached` true. However fast the step, the search stops right after it.
 */
async function runOneStep(
  handle: WorkflowHandle,
  phase: 'training' | 'scoring',
  reached: (p: SearchProgress) => boolean,
): Promise<void> {
  await handle.signal(unpauseSignal);
  await progressWhen(handle, (p) => p.phase === phase, 300);
  await handle.signal(pauseSignal);
  await withWorkers(env, ['gpu'], () => progressWhen(handle, (p) => p.phase === 'paused' && reached(p), 300));
}

/** Polls the progress query until `done` holds. */
async function progressWhen(
  handle: WorkflowHandle,
  done: (p: SearchProgress) => boolean,
  seconds: number,
): Promise<SearchProgress> {
  return waitFor(
    'search progress',
    async () => {
      const progress = await handle.query(progressQuery);
      return done(progress) ? progress : undefined;
    },
    seconds,
    200,
  );
}

/** Rewrites a stored checkpoint, through the store (valid checksums), with every model weight NaN: what a diverged member leaves. */
async function poisonCheckpoint(checkpointKey: string): Promise<void> {
  const json = JSON.parse((await store.get(`${checkpointKey}/checkpoint.json`)).toString('utf8')) as {
    modelWeightBytes: number;
    weightsSha256: string;
  };
  const weights = Buffer.from(await store.get(`${checkpointKey}/weights.bin`));
  for (let offset = 0; offset + 4 <= json.modelWeightBytes; offset += 4) weights.writeFloatLE(NaN, offset);
  json.weightsSha256 = createHash('sha256').update(weights).digest('hex');
  await store.put(`${checkpointKey}/weights.bin`, weights);
  await store.put(`${checkpointKey}/checkpoint.json`, Buffer.from(JSON.stringify(json)));
}

describe('bad artifacts met mid-search', { timeout: 10 * 60_000 }, () => {
  it('a checkpoint whose model predicts NaN stops the search before anything is acquired', async () => {
    const searchId = id('nan-predictions');
    const outcome = await withWorkers(env, ['orchestrator'], async () => {
      const handle = await startHeldBeforeTraining(searchId, tiny);
      // Paused while training, the search stops at the gate after it, before scoring.
      await runOneStep(handle, 'training', (p) => p.membersTrained === 1);
      await poisonCheckpoint(`${searchId}/round-0/member-0/ckpt-2`);
      await handle.signal(unpauseSignal);
      const error = await withWorkers(env, ['gpu'], () =>
        handle.result().then(
          () => undefined,
          (err: unknown) => err,
        ),
      );
      return { error, description: await handle.describe(), activities: await completedActivities(handle) };
    });
    assertFailure(
      applicationFailureOf(outcome.error),
      'Diverged',
      new RegExp(
        `ensemble model 2 of 2, checkpoint .*/${searchId}/round-0/member-0/ckpt-2/checkpoint\\.json: member 1, sample \\d+ \\(global \\d+\\), class \\d+: probability is NaN`,
      ),
    );
    assert.equal(outcome.description.status.name, 'FAILED');
    assert.equal(outcome.description.typedSearchAttributes.get(WinnowStatus), 'failed');
    assert.equal(outcome.activities.filter((a) => a.type === 'acquire').length, 0, 'nothing acquired');
    assert.equal(existsSync(path.join(storageDir, searchId, 'round-1')), false, 'no next subset');
  });

  it('a member that diverges (fine-tuned from NaN weights) fails naming its round, member and epoch', async () => {
    const searchId = id('diverged-member');
    const config: SearchConfigInput = { ...tiny, initialisation: 'finetune', targets: [90] };
    const outcome = await withWorkers(env, ['orchestrator'], async () => {
      const handle = await startHeldBeforeTraining(searchId, config);
      await runOneStep(handle, 'training', (p) => p.membersTrained === 1);
      // Paused before acquiring: round 1 fine-tunes from this checkpoint.
      await runOneStep(handle, 'scoring', (p) => p.shardsScored === 2);
      await poisonCheckpoint(`${searchId}/round-0/member-0/ckpt-1`);
      await handle.signal(unpauseSignal);
      const error = await withWorkers(env, ['gpu'], () =>
        handle.result().then(
          () => undefined,
          (err: unknown) => err,
        ),
      );
      return { error, activities: await completedActivities(handle) };
    });
    assertFailure(
      applicationFailureOf(outcome.error),
      'Diverged',
      new RegExp(`search ${searchId}, round 1, member 0, epoch 1: training loss is NaN`),
    );
    assert.equal(outcome.activities.filter((a) => a.type === 'acquire').length, 0, 'round 1 acquired nothing');
    assert.equal(existsSync(path.join(storageDir, searchId, 'round-2')), false);
  });

  it('a checkpoint corrupted in storage is never scored with: its member is retrained from the last intact state, then scoring goes on', async () => {
    const searchId = id('corrupt-checkpoint');
    const memberKey = `${searchId}/round-0/member-0`;
    const weights = path.join(storageDir, searchId, 'round-0', 'member-0', 'ckpt-2', 'weights.bin');
    let original: Buffer | undefined;
    const { result, activities, failedScoring } = await withWorkers(env, ['orchestrator'], async () => {
      const handle = await startHeldBeforeTraining(searchId, tiny);
      await runOneStep(handle, 'training', (p) => p.membersTrained === 1);
      original = flipBit(weights, 100);
      await handle.signal(unpauseSignal);
      const result = await withWorkers(env, ['gpu'], () => handle.result());
      return { result, activities: await completedActivities(handle), failedScoring: await failedAttempts(handle) };
    });
    // Scoring refused the damaged checkpoint (each shard in flight at most once, never retried as is)...
    assert.ok(
      failedScoring.length >= 1 && failedScoring.length <= 2,
      `${failedScoring.length} failed scoreShard attempts (2 shards)`,
    );
    for (const failure of failedScoring) {
      assert.equal(
        failure.cause?.applicationFailureInfo?.type ?? failure.applicationFailureInfo?.type,
        'CorruptArtifact',
      );
      assert.match(failure.message ?? failure.cause?.message ?? '', /ckpt-2\/weights\.bin is corrupt: expected sha256/);
    }
    // ...the member was trained again from its intact epoch-1 checkpoint, rewriting epoch 2 byte for byte...
    const trainings = activities.filter(
      (a) => a.type === 'trainMember' && (a.input as { memberKey?: string }).memberKey === memberKey,
    );
    assert.equal(trainings.length, 2, 'trained, then retrained after the corruption');
    const retrained = trainings[1].result as { resumedFromEpoch: number; history: { epoch: number }[] };
    assert.equal(retrained.resumedFromEpoch, 1);
    assert.deepEqual(
      retrained.history.map((h) => h.epoch),
      [2],
    );
    assert.ok(original && readFileSync(weights).equals(original), 'the retrained checkpoint has the original bytes');
    // ...and the search finished with a clean subset.
    assert.deepEqual(
      result.evaluations.map((e) => e.size),
      [60],
    );
    const subset = parseSubsetManifest((await store.get(result.subsets['60'])).toString('utf8'));
    assert.equal(new Set(subset.indices).size, 60);
  });

  it('a score shard damaged in storage before acquire is scored again (same bytes), and acquire goes on', async () => {
    const searchId = id('damaged-score-shard');
    const shardFile = path.join(storageDir, searchId, 'round-0', 'scores', 'shard-00001');
    let original: Buffer | undefined;
    const { result, activities, failedAcquire } = await withWorkers(env, ['orchestrator'], async () => {
      const handle = await startHeldBeforeTraining(searchId, tiny);
      await runOneStep(handle, 'training', (p) => p.membersTrained === 1);
      // Held at the gate between scoring and acquiring.
      await runOneStep(handle, 'scoring', (p) => p.shardsScored === 2);
      original = flipBit(shardFile, -1);
      // `resume`, the signal's name before `unpause`, still un-pauses (clients of earlier versions send it).
      await handle.signal(resumeSignal);
      const result = await withWorkers(env, ['gpu'], () => handle.result());
      const firstRun = env.client.workflow.getHandle(searchId, handle.firstExecutionRunId);
      return { result, activities: await completedActivities(firstRun), failedAcquire: await failedAttempts(firstRun) };
    });
    // acquire refused the damaged shard once, without retrying it as is...
    assert.equal(failedAcquire.length, 1, 'one failed acquire attempt');
    assert.match(
      failedAcquire[0].message ?? '',
      /score shard .*shard-00001 cannot be used \(artifact .* is corrupt: expected sha256/,
    );
    // ...the shard was scored again, rewriting the same bytes...
    const scored = activities
      .filter((a) => a.type === 'scoreShard')
      .map((a) => (a.input as { outputKey: string }).outputKey);
    assert.equal(scored.filter((k) => k.endsWith('shard-00001')).length, 2, `scored twice: ${scored.join(', ')}`);
    assert.equal(scored.length, 3, 'the intact shard was not scored again');
    assert.ok(original && readFileSync(shardFile).equals(original), 'the rescored shard has the original bytes');
    // ...and acquire went on to a clean subset.
    assert.equal(activities.filter((a) => a.type === 'acquire').length, 1);
    const subset = parseSubsetManifest((await store.get(result.subsets['60'])).toString('utf8'));
    assert.equal(new Set(subset.indices).size, 60);
  });
});
