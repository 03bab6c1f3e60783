/**
 * trainMember / scoreShard / evaluate against a real file store and a
 * generated data set: checkpoints at configured epochs, exact resume from the
 * latest intact state, corrupt checkpoints passed over, streaming ensemble
 * scores, and the activity wrapper's heartbeats from the child process.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { parseScoreShard } from '../../domain/acquisition/score-shard-codec';
import { parseAccumulator } from '../../domain/acquisition/accumulator-codec';
import { scoreAccumulator } from '../../domain/acquisition/acquisition-scores';
import { createSubsetManifest, serialiseSubsetManifest } from '../../domain/acquisition/subset-manifest';
import { initComputeBackend } from '../../compute/backend';
import { runInChild } from '../../compute/run-child';
import { evaluateCheckpoints } from '../../compute/tasks/evaluate';
import { scoreShard } from '../../compute/tasks/score-shard';
import {
  trainMember,
  type TrainMemberInput,
  type TrainMemberProgress,
  type TrainMemberResult,
} from '../../compute/tasks/train-member';
import { getCheckpoint } from '../../compute/tasks/checkpoint-store';
import { runTask, trainMember as trainMemberActivity } from '../../activities/gpu-tasks';
import { defaultTrainingSettings } from '../../domain/ml/train';
import { openStore } from '../../domain/storage/open-store';
import { artifactPaths } from '../../contracts/artifact-paths';

let root: string;
let storageRoot: string;
const dataset = { kind: 'synthetic' as const, uri: 'synthetic:?seed=2&shape=12x12x1&classes=4&test=200', size: 300 };
const silent = (): void => undefined;

function input(memberKey: string, overrides: Partial<TrainMemberInput> = {}): TrainMemberInput {
  return {
    storageRoot,
    dataset,
    model: { name: 'cnn-small', width: 0.25 },
    training: { ...defaultTrainingSettings, epochs: 3, batchSize: 32, learningRate: 0.003 },
    subsetUri: null,
    memberKey,
    checkpointEpochs: [2, 3],
    seed: 7,
    context: `test ${memberKey}`,
    ...overrides,
  };
}

async function weightsAt(uri: string): Promise<Float32Array[]> {
  const { model } = await getCheckpoint(openStore(storageRoot), uri);
  const weights = model.getWeights().map((t) => t.dataSync() as Float32Array);
  model.dispose();
  return weights;
}

function assertClose(a: Float32Array[], b: Float32Array[]): void {
  assert.equal(a.length, b.length);
  a.forEach((x, i) =>
    x.forEach((v, j) =>
      assert.ok(Math.abs(v - b[i][j]) <= 1e-5 * Math.max(1, Math.abs(v)), `weight ${i}[${j}] ${v} vs ${b[i][j]}`),
    ),
  );
}

before(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'winnow-tasks-'));
  storageRoot = pathToFileURL(root).href;
  // Tasks only touch stores inside the worker's root; the child processes inherit it.
  process.env.WINNOW_STORAGE_ROOT = root;
  await initComputeBackend();
});
after(() => rmSync(root, { recursive: true, force: true }));

describe('trainMember', () => {
  it('saves the configured checkpoints, resumes from the latest intact state, and never trusts a corrupt one', async () => {
    const key = artifactPaths.member('s1', 1, 0);
    const progress: TrainMemberProgress[] = [];
    const first = await trainMember(input(key), (p) => progress.push(p), { log: silent });
    assert.deepEqual(
      first.checkpoints.map((c) => c.epoch),
      [2, 3],
    );
    assert.equal(first.resumedFromEpoch, 0);
    assert.deepEqual(
      progress.map((p) => p.epoch),
      [1, 2, 3],
    );
    assert.match(progress[0].checkpointUri, /member-0\/resume\/checkpoint\.json$/);
    assert.match(progress[2].checkpointUri, /member-0\/ckpt-3\/checkpoint\.json$/);
    const finalWeights = await weightsAt(first.checkpoints[1].uri);

    // Everything already done: nothing is trained again.
    const again = await trainMember(input(key), silent, { log: silent });
    assert.equal(again.resumedFromEpoch, 3);
    assert.deepEqual(again.history, []);

    // Lose the last checkpoint: only epoch 3 is trained again, to the same weights.
    const store = openStore(storageRoot);
    await store.deletePrefix(`${artifactPaths.checkpoint(key, 3)}/`);
    const resumed = await trainMember(input(key), silent, { log: silent });
    assert.equal(resumed.resumedFromEpoch, 2);
    assert.deepEqual(
      resumed.history.map((h) => h.epoch),
      [3],
    );
    assertClose(await weightsAt(resumed.checkpoints[1].uri), finalWeights);

    // Corrupt checkpoint 2 behind the store's back and lose 3: resume from the epoch-1 state.
    await store.deletePrefix(`${artifactPaths.checkpoint(key, 3)}/`);
    const weightsFile = path.join(fileURLToPath(storageRoot), artifactPaths.checkpoint(key, 2), 'weights.bin');
    writeFileSync(weightsFile, Buffer.alloc(64, 1));
    const logged: string[] = [];
    const repaired = await trainMember(input(key), silent, { log: (line) => logged.push(line) });
    assert.equal(repaired.resumedFromEpoch, 1);
    assert.deepEqual(
      repaired.history.map((h) => h.epoch),
      [2, 3],
    );
    assert.ok(
      logged.some((l) => /ignoring s1\/round-1\/member-0\/ckpt-2: .*sha256/.test(l)),
      logged.join('\n'),
    );
    assertClose(await weightsAt(repaired.checkpoints[1].uri), finalWeights);
  });

  it('alternates its per-epoch state between two slots, so a save cut short falls back one epoch, not to a checkpoint', async () => {
    const key = artifactPaths.member('s7', 0, 0);
    const settings = { training: { ...defaultTrainingSettings, epochs: 4, batchSize: 64 }, checkpointEpochs: [4] };
    const progress: TrainMemberProgress[] = [];
    const first = await trainMember(input(key, settings), (p) => progress.push(p), { log: silent });
    assert.deepEqual(
      progress.map((p) => p.checkpointUri.replace(/.*member-0\//, '')),
      ['resume/checkpoint.json', 'resume-1/checkpoint.json', 'resume/checkpoint.json', 'ckpt-4/checkpoint.json'],
    );
    const finalWeights = await weightsAt(first.checkpoints[0].uri);
    // Lose the checkpoint and tear the newest state (epoch 3, in the first slot), as a kill mid-save would.
    const store = openStore(storageRoot);
    await store.deletePrefix(`${artifactPaths.checkpoint(key, 4)}/`);
    const [newest] = artifactPaths.resumeSlots(key);
    writeFileSync(path.join(fileURLToPath(storageRoot), newest, 'weights.bin'), Buffer.alloc(64, 7));
    const logged: string[] = [];
    const resumed = await trainMember(input(key, settings), silent, { log: (line) => logged.push(line) });
    assert.equal(resumed.resumedFromEpoch, 2, 'the other slot still held epoch 2');
    assert.deepEqual(
      resumed.history.map((h) => h.epoch),
      [3, 4],
    );
    assert.ok(
      logged.some((l) => /ignoring s7\/round-0\/member-0\/resume: .*sha256/.test(l)),
      logged.join('\n'),
    );
    assertClose(await weightsAt(resumed.checkpoints[0].uri), finalWeights);
  });

  it('trains on exactly the subset in a manifest', async () => {
    const store = openStore(storageRoot);
    const manifest = createSubsetManifest({
      indices: Array.from({ length: 50 }, (_, i) => i * 3),
      poolSize: 300,
      lineage: {
        datasetFingerprint: 'f',
        acquisitionFunction: 'random',
        ensembleManifestUri: null,
        seed: 0,
        parentManifestUri: null,
        round: 0,
      },
    });
    const stored = await store.put('s2/round-0/subset.json', Buffer.from(serialiseSubsetManifest(manifest)));
    const result = await trainMember(
      input(artifactPaths.member('s2', 0, 0), {
        subsetUri: stored.uri,
        checkpointEpochs: [1],
        training: { ...defaultTrainingSettings, epochs: 1, batchSize: 16 },
      }),
      silent,
      { log: silent },
    );
    assert.equal(result.samples, 50);
  });
});

describe('scoreShard and evaluate', () => {
  it('folds every checkpoint into one score per sample and evaluates the ensemble', async () => {
    const key = artifactPaths.member('s3', 1, 0);
    const trained = await trainMember(input(key), silent, { log: silent });
    const checkpoints = trained.checkpoints.map((c) => c.uri);
    const folded: number[] = [];
    const result = await scoreShard(
      {
        storageRoot,
        dataset,
        start: 100,
        count: 80,
        checkpoints,
        function: 'entropy',
        seed: 1,
        outputKey: artifactPaths.scoreShard('s3', 1, 1),
        accumulatorKey: artifactPaths.accumulatorShard('s3', 1, 1),
      },
      (p) => folded.push(p.modelsFolded),
    );
    assert.deepEqual(folded, [1, 2]);
    const shard = parseScoreShard(await openStore(storageRoot).get(result.uri));
    assert.equal(shard.globalStart, 100);
    assert.equal(shard.scores.length, 80);
    for (const s of shard.scores) assert.ok(s >= 0 && s <= Math.log(4) + 1e-5, `entropy ${s} within [0, log 4]`);
    assert.ok(result.max > result.min, 'scores differ between samples');
    // The ensemble sums behind the scores are kept: scored again with the same function they give the same scores.
    assert.equal(result.accumulatorUri, openStore(storageRoot).uriOf(artifactPaths.accumulatorShard('s3', 1, 1)));
    const kept = parseAccumulator(
      await openStore(storageRoot).get(result.accumulatorUri!, { sha256: result.accumulatorSha256 }),
    );
    assert.equal(kept.memberCount, 2);
    assert.equal(kept.globalStart, 100);
    assert.deepEqual([...scoreAccumulator(kept, 'entropy')], [...shard.scores]);

    const random = await scoreShard(
      {
        storageRoot,
        dataset,
        start: 0,
        count: 10,
        checkpoints: [],
        function: 'random',
        seed: 5,
        outputKey: 's3/round-1/scores/random',
        accumulatorKey: 's3/round-1/accumulators/random',
      },
      silent,
    );
    assert.equal(random.models, 0);
    assert.equal(random.accumulatorUri, undefined, 'random scores have no accumulator');

    const single = await evaluateCheckpoints({ storageRoot, dataset, split: 'test', checkpoints: [checkpoints[1]] });
    const ensemble = await evaluateCheckpoints({ storageRoot, dataset, split: 'test', checkpoints });
    assert.equal(single.samples, 200);
    assert.equal(ensemble.models, 2);
    assert.ok(single.accuracy > 0.5, `accuracy ${single.accuracy} well above chance (0.25)`);
    assert.equal(single.perClassAccuracy.length, 4);
  });
});

describe('trainMember activity', () => {
  it('runs in a child process and heartbeats the epoch and checkpoint pointer', async () => {
    const env = new MockActivityEnvironment();
    const beats: TrainMemberProgress[] = [];
    env.on('heartbeat', (d: unknown) => beats.push(d as TrainMemberProgress));
    const result: TrainMemberResult = await env.run(
      trainMemberActivity,
      input(artifactPaths.member('s4', 0, 1), {
        training: { ...defaultTrainingSettings, epochs: 2, batchSize: 64 },
        checkpointEpochs: [2],
      }),
    );
    assert.deepEqual(
      beats.map((b) => b.epoch),
      [1, 2],
    );
    assert.equal(result.checkpoints[0].uri, beats[1].checkpointUri);
  });
});

describe('trainMember stopped gracefully', () => {
  it('saves its position inside the epoch when its child is asked to stop, and the next attempt resumes there', async () => {
    const key = artifactPaths.member('s5', 0, 0);
    // 300 samples / batch 8 = 38 batches per epoch: cancel once epoch 1 is done, the stop lands inside epoch 2.
    const settings = { ...defaultTrainingSettings, epochs: 3, batchSize: 8, learningRate: 0.003 };
    const straight = await trainMember(input(artifactPaths.member('s5', 0, 1), { training: settings }), silent, {
      log: silent,
    });

    const controller = new AbortController();
    const running = runInChild<TrainMemberResult>('trainMember', input(key, { training: settings }), {
      signal: controller.signal,
      stopGraceMs: 60_000,
      onProgress: (p) => {
        if ((p as TrainMemberProgress).epoch === 1) controller.abort(new Error('worker shutting down (test)'));
      },
    });
    await assert.rejects(running, /worker shutting down \(test\)/);
    // Epoch 1 went to the first resume slot, the position inside epoch 2 to the other one.
    const [epochOne, saved] = await Promise.all(
      artifactPaths.resumeSlots(key).map((slot) => getCheckpoint(openStore(storageRoot), slot)),
    );
    epochOne.model.dispose();
    saved.model.dispose();
    assert.deepEqual([epochOne.meta.epoch, epochOne.meta.within], [1, undefined]);
    assert.equal(saved.meta.epoch, 1, 'the saved position lies in epoch 2');
    assert.ok(
      (saved.meta.within?.batch ?? 0) >= 1,
      `saved after at least one batch of epoch 2: ${JSON.stringify(saved.meta.within)}`,
    );

    const resumed = await trainMember(input(key, { training: settings }), silent, { log: silent });
    assert.equal(resumed.resumedFromEpoch, 1);
    assert.equal(resumed.resumedFromBatch, saved.meta.within?.batch);
    assert.deepEqual(
      resumed.history.map((h) => h.epoch),
      [2, 3],
    );
    assertClose(await weightsAt(resumed.checkpoints[1].uri), await weightsAt(straight.checkpoints[1].uri));
  });
});

describe('compute task heartbeats', () => {
  it('keeps heart-beating between progress reports, repeating the last one', async () => {
    const env = new MockActivityEnvironment();
    const beats: unknown[] = [];
    env.on('heartbeat', (d: unknown) => beats.push(d));
    // One epoch of 300 samples in batches of 4: a few seconds with a single progress report at its end.
    const training = { ...defaultTrainingSettings, epochs: 1, batchSize: 4 };
    await env.run(() =>
      runTask<TrainMemberResult>(
        'trainMember',
        input(artifactPaths.member('s6', 0, 0), { training, checkpointEpochs: [1] }),
        0,
        100,
      ),
    );
    const progress = beats.filter((b) => (b as TrainMemberProgress | undefined)?.epoch === 1);
    const keepAlive = beats.filter((b) => b === undefined);
    assert.ok(keepAlive.length >= 3, `heartbeats before the first progress report: ${keepAlive.length}`);
    assert.ok(progress.length >= 1, 'the progress report is a heartbeat too');
  });
});
