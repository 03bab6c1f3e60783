/**
 * Scoring and evaluation never use a bad checkpoint silently: a checkpoint
 * whose bytes no longer match their checksum fails with CorruptArtifact, and
 * one whose model predicts NaN (a diverged member) fails with Diverged; both
 * name the checkpoint, and the shard's scores are not written.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initComputeBackend } from '../../compute/backend';
import { putCheckpoint } from '../../compute/tasks/checkpoint-store';
import { evaluateCheckpoints } from '../../compute/tasks/evaluate';
import { scoreShard } from '../../compute/tasks/score-shard';
import { encodeCheckpoint } from '../../domain/ml/checkpoint';
import { buildModel } from '../../domain/ml/models';
import { openStore } from '../../domain/storage/open-store';
import { artifactPaths } from '../../contracts/artifact-paths';
import { tempDir } from './data-helpers';

const dataset = { kind: 'synthetic' as const, uri: 'synthetic:?seed=3&shape=8x8x1&classes=3&test=40', size: 60 };
const silent = (): void => undefined;

function typed(type: string, ...patterns: RegExp[]): (err: unknown) => boolean {
  return (err: unknown) => {
    const e = err as Error & { failureType?: string };
    assert.equal(e.failureType, type, `expected ${type}, got ${e.failureType ?? e.name}: ${e.message}`);
    for (const pattern of patterns) assert.match(e.message, pattern);
    return true;
  };
}

describe('bad checkpoints at scoring and evaluation', () => {
  const tmp = tempDir('bad-checkpoints');
  const storageRoot = pathToFileURL(tmp.dir).href;
  let previousRoot: string | undefined;
  const uris: Record<'good' | 'nan' | 'flipped', string> = { good: '', nan: '', flipped: '' };

  before(async () => {
    previousRoot = process.env.WINNOW_STORAGE_ROOT;
    process.env.WINNOW_STORAGE_ROOT = tmp.dir;
    await initComputeBackend();
    const store = openStore(storageRoot);
    for (const name of ['good', 'nan', 'flipped'] as const) {
      const model = buildModel({ name: 'cnn-small', width: 0.25, inputShape: [8, 8, 1], numClasses: 3, seed: 1 });
      if (name === 'nan') model.setWeights(model.getWeights().map((w) => tf.fill(w.shape, NaN)));
      const files = await encodeCheckpoint(model, undefined, {
        epoch: 1,
        seed: 1,
        loss: 1,
        accuracy: 0.5,
        backend: 'test',
        createdBy: name,
      });
      model.dispose();
      const key = artifactPaths.checkpoint(artifactPaths.member('s', 0, ['good', 'nan', 'flipped'].indexOf(name)), 1);
      uris[name] = (await putCheckpoint(store, key, files)).uri;
    }
    // One flipped byte behind the store's back: its recorded sha256 no longer matches.
    const weights = path.join(fileURLToPath(storageRoot), 's/round-0/member-2/ckpt-1/weights.bin');
    const bytes = readFileSync(weights);
    bytes[7] ^= 0xff;
    writeFileSync(weights, bytes);
  });
  after(() => {
    if (previousRoot === undefined) delete process.env.WINNOW_STORAGE_ROOT;
    else process.env.WINNOW_STORAGE_ROOT = previousRoot;
    tmp.remove();
  });

  const shard = (checkpoints: string[], outputKey: string) =>
    scoreShard(
      { storageRoot, dataset, start: 20, count: 30, checkpoints, function: 'entropy', seed: 1, outputKey },
      silent,
    );

  it('scores with intact checkpoints', async () => {
    const result = await shard([uris.good], 's/round-0/scores/shard-00000');
    assert.equal(result.count, 30);
  });

  it('a checkpoint that predicts NaN stops scoring with Diverged, naming the checkpoint and the sample', async () => {
    await assert.rejects(
      shard([uris.good, uris.nan], 's/round-0/scores/shard-00001'),
      typed(
        'Diverged',
        /^shard at 20, ensemble model 2 of 2, checkpoint .*member-1\/ckpt-1\/checkpoint\.json: /,
        /sample 0 \(global 20\), class 0: probability is NaN/,
      ),
    );
    assert.equal(await openStore(storageRoot).exists('s/round-0/scores/shard-00001'), false, 'no scores written');
  });

  it('a checkpoint whose bytes changed fails with CorruptArtifact, naming it', async () => {
    await assert.rejects(
      shard([uris.flipped, uris.good], 's/round-0/scores/shard-00002'),
      typed(
        'CorruptArtifact',
        /^shard at 20, ensemble model 1 of 2, checkpoint .*member-2\/ckpt-1\/checkpoint\.json: artifact .*member-2\/ckpt-1\/weights\.bin is corrupt/,
      ),
    );
    assert.equal(await openStore(storageRoot).exists('s/round-0/scores/shard-00002'), false, 'no scores written');
  });

  it('evaluation refuses both the same way', async () => {
    const good = await evaluateCheckpoints({ storageRoot, dataset, split: 'test', checkpoints: [uris.good] });
    assert.equal(good.samples, 40);
    await assert.rejects(
      evaluateCheckpoints({ storageRoot, dataset, split: 'test', checkpoints: [uris.good, uris.nan] }),
      typed(
        'Diverged',
        /^evaluation on test, model 2 of 2, checkpoint .*member-1\/ckpt-1\/checkpoint\.json: prediction for sample 0, class 0 is NaN/,
      ),
    );
    await assert.rejects(
      evaluateCheckpoints({ storageRoot, dataset, split: 'test', checkpoints: [uris.flipped] }),
      typed(
        'CorruptArtifact',
        /^evaluation on test, model 1 of 1, checkpoint .*member-2\/ckpt-1\/checkpoint\.json: artifact .* is corrupt/,
      ),
    );
  });
});
