/**
 * reacquireSubset against a real file store: a round's kept accumulators,
 * scored again with another function, give the subset that scoring the same
 * ensemble with that function and acquiring would have given (same k, same
 * excluded parent, same tie-break); and clear errors for what cannot be
 * acquired again.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { artifactPaths } from '../../contracts/artifact-paths';
import { FailureType } from '../../contracts/failures';
import { keepAccumulator, readAccumulatorManifest } from '../../domain/acquisition/accumulator-store';
import { scoreAccumulator, type AcquisitionFunction } from '../../domain/acquisition/acquisition-scores';
import { createAccumulator, foldMember } from '../../domain/acquisition/ensemble-accumulator';
import { reacquireSubset } from '../../domain/acquisition/reacquire';
import { serialiseScoreShard } from '../../domain/acquisition/score-shard-codec';
import {
  createSubsetManifest,
  parseSubsetManifest,
  serialiseSubsetManifest,
} from '../../domain/acquisition/subset-manifest';
import { acquireSubset, type AcquireInput } from '../../domain/acquisition/subset-steps';
import type { ArtifactStore } from '../../domain/storage/store';
import { openStore } from '../../domain/storage/open-store';

let root: string;
let storageRoot: string;
let store: ArtifactStore;

before(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'winnow-reacquire-'));
  storageRoot = pathToFileURL(root).href;
  process.env.WINNOW_STORAGE_ROOT = root;
  store = openStore(storageRoot);
});
after(() => rmSync(root, { recursive: true, force: true }));

const poolSize = 200;
const classes = 4;
const members = 3;
const shards = [
  { index: 0, start: 0, count: 80 },
  { index: 1, start: 80, count: 80 },
  { index: 2, start: 160, count: 40 },
];

/** Seeded softmax outputs of one member on one shard: some confident rows, some not, members disagreeing. */
function memberProbabilities(member: number, start: number, count: number): Float32Array {
  let state = (member + 1) * 7919 + start * 104729;
  const next = (): number => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
  const out = new Float32Array(count * classes);
  for (let s = 0; s < count; s++) {
    const sharpness = 0.5 + 4 * next();
    const logits = Array.from({ length: classes }, () => sharpness * next() * 3);
    const max = Math.max(...logits);
    const exp = logits.map((l) => Math.exp(l - max));
    const total = exp.reduce((a, b) => a + b, 0);
    exp.forEach((e, c) => (out[s * classes + c] = e / total));
  }
  return out;
}

function ensembleOn(shard: (typeof shards)[number]) {
  const acc = createAccumulator({ samples: shard.count, classes, globalStart: shard.start });
  for (let m = 0; m < members; m++) foldMember(acc, memberProbabilities(m, shard.start, shard.count), { member: m });
  return acc;
}

/** Scores the ensemble on every shard with `fn` under `scoresKey(k)`; keeps the accumulators when `keep`. */
async function scoreRound(searchId: string, round: number, fn: AcquisitionFunction, keep: boolean, prefix?: string) {
  const uris: string[] = [];
  for (const shard of shards) {
    const acc = ensembleOn(shard);
    if (keep) await keepAccumulator(store, artifactPaths.accumulatorShard(searchId, round, shard.index), acc);
    const scores = scoreAccumulator(acc, fn);
    const key = prefix ? `${prefix}/shard-${shard.index}` : artifactPaths.scoreShard(searchId, round, shard.index);
    uris.push((await store.put(key, serialiseScoreShard({ globalStart: shard.start, scores }))).uri);
  }
  return uris;
}

async function parentSubset(searchId: string, round: number): Promise<string> {
  const indices = Array.from({ length: 30 }, (_, i) => (i * 37) % poolSize);
  const manifest = createSubsetManifest({
    indices,
    poolSize,
    lineage: {
      datasetFingerprint: 'fp',
      acquisitionFunction: 'random',
      ensembleManifestUri: null,
      seed: 1,
      parentManifestUri: null,
      round,
    },
  });
  return (await store.put(artifactPaths.subset(searchId, round), Buffer.from(serialiseSubsetManifest(manifest)))).uri;
}

function acquireInput(searchId: string, round: number, overrides: Partial<AcquireInput>): AcquireInput {
  return {
    storageRoot,
    key: artifactPaths.subset(searchId, round + 1),
    ensembleKey: `${artifactPaths.round(searchId, round)}/ensemble.json`,
    checkpoints: Array.from({ length: members }, (_, m) => `${searchId}/round-${round}/member-${m}/ckpt-1`),
    scoreShards: [],
    parentSubsetUri: null,
    k: 40,
    poolSize,
    seed: 1234,
    fingerprint: 'fp',
    function: 'entropy',
    round: round + 1,
    ...overrides,
  };
}

/** A build-up round 1 of `searchId`: entropy scores, accumulators kept, 40 samples acquired onto a subset of 30. */
async function entropyRound(searchId: string) {
  const parent = await parentSubset(searchId, 1);
  const scoreShards = await scoreRound(searchId, 1, 'entropy', true);
  const acquired = await acquireSubset(
    acquireInput(searchId, 1, {
      scoreShards,
      parentSubsetUri: parent,
      accumulators: {
        key: artifactPaths.accumulators(searchId, 1),
        shardKeys: shards.map((s) => artifactPaths.accumulatorShard(searchId, 1, s.index)),
        scoredRound: 1,
      },
    }),
  );
  return { parent, acquired };
}

async function readSubset(uri: string) {
  return parseSubsetManifest((await store.get(uri)).toString('utf8'), uri);
}

async function failureOf(promise: Promise<unknown>): Promise<Error & { failureType?: string }> {
  return promise.then(
    () => assert.fail('expected a failure'),
    (err: Error & { failureType?: string }) => err,
  );
}

describe('reacquireSubset', () => {
  it('selects from the kept accumulators exactly what rescoring with the new function selects', async () => {
    const { parent, acquired } = await entropyRound('s');
    const { manifest } = await readAccumulatorManifest(store, artifactPaths.accumulators('s', 1), 1);
    assert.equal(manifest.function, 'entropy');
    assert.equal(manifest.shards.length, 3);
    assert.deepEqual(manifest.acquired, { subsetUri: acquired.uri, parentSubsetUri: parent, k: 40, subsetRound: 2 });

    for (const fn of ['mutual-information', 'variation-ratios', 'margin', 'least-confidence'] as const) {
      // Rescoring: the same ensemble scored with fn, acquired with the round's k, parent and seed.
      const rescoredShards = await scoreRound('s', 1, fn, false, `rescored/${fn}`);
      const rescored = await acquireSubset(
        acquireInput('s', 1, {
          key: `rescored/${fn}/subset.json`,
          ensembleKey: `rescored/${fn}/ensemble.json`,
          scoreShards: rescoredShards,
          parentSubsetUri: parent,
          function: fn,
        }),
      );
      const shardsRead: number[] = [];
      const again = await reacquireSubset({ storageRoot, searchId: 's', function: fn }, (p) =>
        shardsRead.push(p.shardsRead),
      );
      assert.deepEqual(shardsRead, [1, 2, 3]);
      assert.equal(again.round, 1, 'the latest round with accumulators');
      assert.equal(again.uri, store.uriOf(artifactPaths.reacquiredSubset('s', 2, fn)));
      assert.equal(again.count, 70);
      assert.equal(again.added, 40);
      assert.equal(again.cutoffScore, rescored.cutoffScore);
      assert.equal(again.originalSubsetUri, acquired.uri);
      const mine = await readSubset(again.uri);
      const theirs = await readSubset(rescored.uri);
      assert.deepEqual([...mine.indices], [...theirs.indices], `${fn}: reacquired = rescored`);
      assert.equal(mine.lineage.acquisitionFunction, fn);
      assert.equal(mine.lineage.reacquiredFrom, store.uriOf(artifactPaths.accumulators('s', 1)));
      assert.equal(mine.lineage.parentManifestUri, parent);
      assert.equal(mine.lineage.round, 2);
    }
    // The function with the most disagreement differs from entropy here, so the comparison above means something.
    const mi = await readSubset(store.uriOf(artifactPaths.reacquiredSubset('s', 2, 'mutual-information')));
    const original = await readSubset(acquired.uri);
    assert.notDeepEqual([...mi.indices], [...original.indices]);
    // The round's own function gives back the round's own subset; a second run is the same immutable manifest.
    const entropy = await reacquireSubset({ storageRoot, searchId: 's', round: 1, function: 'entropy' });
    assert.deepEqual([...(await readSubset(entropy.uri)).indices], [...original.indices]);
    const twice = await reacquireSubset({ storageRoot, searchId: 's', round: 1, function: 'entropy' });
    assert.equal(twice.sha256, entropy.sha256);
  });

  it('takes another size: the parent subset stays, the new samples fill up to it', async () => {
    const parent = await readSubset(store.uriOf(artifactPaths.subset('s', 1)));
    const bigger = await reacquireSubset({ storageRoot, searchId: 's', function: 'margin', size: 100 });
    assert.equal(bigger.uri, store.uriOf(artifactPaths.reacquiredSubset('s', 2, 'margin', 100)));
    const subset = await readSubset(bigger.uri);
    assert.equal(subset.count, 100);
    for (const i of parent.indices) assert.ok(subset.indices.includes(i), `parent sample ${i} kept`);
    const smaller = await readSubset(store.uriOf(artifactPaths.reacquiredSubset('s', 2, 'margin')));
    for (const i of smaller.indices) assert.ok(subset.indices.includes(i), `top-70 sample ${i} is in the top 100`);
  });

  it('compress rounds (no parent) are acquired again from the whole pool', async () => {
    const scoreShards = await scoreRound('c', 0, 'entropy', true);
    await acquireSubset(
      acquireInput('c', 0, {
        key: `${artifactPaths.round('c', 0)}/subset-50.json`,
        scoreShards,
        k: 50,
        round: 0,
        accumulators: {
          key: artifactPaths.accumulators('c', 0),
          shardKeys: shards.map((s) => artifactPaths.accumulatorShard('c', 0, s.index)),
          scoredRound: 0,
        },
      }),
    );
    const again = await reacquireSubset({ storageRoot, searchId: 'c', function: 'variation-ratios' });
    assert.equal(again.round, 0);
    assert.equal(again.count, 50);
    assert.equal(again.uri, store.uriOf(artifactPaths.reacquiredSubset('c', 0, 'variation-ratios')));
    assert.equal((await readSubset(again.uri)).lineage.parentManifestUri, null);
  });

  it('refuses random, unknown functions, sizes that do not fit and rounds without accumulators, saying why', async () => {
    const random = await failureOf(reacquireSubset({ storageRoot, searchId: 's', function: 'random' }));
    assert.equal(random.failureType, FailureType.InvalidConfig);
    assert.match(random.message, /random function uses no ensemble/);

    const unknown = await failureOf(
      reacquireSubset({ storageRoot, searchId: 's', function: 'bald' as AcquisitionFunction }),
    );
    assert.equal(unknown.failureType, FailureType.InvalidConfig);
    assert.match(unknown.message, /unknown acquisition function "bald"; use one of entropy, mutual-information/);

    const tooSmall = await failureOf(reacquireSubset({ storageRoot, searchId: 's', function: 'margin', size: 30 }));
    assert.equal(tooSmall.failureType, FailureType.InvalidConfig);
    assert.match(tooSmall.message, /size 30: the round extended a subset of 30 samples .* give a size in \[31, 200\]/);

    const noRound = await failureOf(reacquireSubset({ storageRoot, searchId: 's', round: 5, function: 'margin' }));
    assert.equal(noRound.failureType, FailureType.InvalidConfig);
    assert.match(
      noRound.message,
      /round 5 has no stored accumulators \(.*s\/round-5\/accumulators\.json does not exist\)/,
    );

    const noSearch = await failureOf(reacquireSubset({ storageRoot, searchId: 'nobody', function: 'margin' }));
    assert.equal(noSearch.failureType, FailureType.InvalidConfig);
    assert.match(noSearch.message, /search nobody has no round with stored accumulators/);
  });

  it('a round scored before accumulators were kept records none, and cannot be acquired again', async () => {
    const parent = await parentSubset('old', 1);
    const scoreShards = await scoreRound('old', 1, 'entropy', false);
    await acquireSubset(
      acquireInput('old', 1, {
        scoreShards,
        parentSubsetUri: parent,
        accumulators: {
          key: artifactPaths.accumulators('old', 1),
          shardKeys: shards.map((s) => artifactPaths.accumulatorShard('old', 1, s.index)),
          scoredRound: 1,
        },
      }),
    );
    assert.equal(await store.exists(artifactPaths.accumulators('old', 1)), false);
    const err = await failureOf(reacquireSubset({ storageRoot, searchId: 'old', function: 'margin' }));
    assert.equal(err.failureType, FailureType.InvalidConfig);
  });

  it('a damaged accumulator shard fails, naming the file, and is not retried', async () => {
    await entropyRound('d');
    // Another ensemble's sums under the same key: the manifest's sha256 no longer matches.
    const other = createAccumulator({ samples: 80, classes, globalStart: 80 });
    foldMember(other, memberProbabilities(9, 80, 80));
    await keepAccumulator(store, artifactPaths.accumulatorShard('d', 1, 1), other);
    const err = await failureOf(reacquireSubset({ storageRoot, searchId: 'd', function: 'margin' }));
    assert.equal(err.failureType, FailureType.CorruptArtifact);
    assert.match(err.message, /accumulator shard .*d\/round-1\/accumulators\/shard-00001 of round 1 cannot be used/);
    assert.equal((err as { options?: { nonRetryable?: boolean } }).options?.nonRetryable, true);
  });
});
