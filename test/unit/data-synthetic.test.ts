import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createSyntheticDataset, type SyntheticSpecInput } from '../../domain/data/synthetic';
import type { SampleBatch } from '../../domain/data/dataset';

/** Plain softmax regression trained by SGD: a stand-in for "a small model learns this set". */
function trainSoftmax(
  train: SampleBatch,
  dims: number,
  classes: number,
  epochs: number,
): (x: Float32Array, at: number) => number {
  const w = new Float64Array(dims * classes);
  const b = new Float64Array(classes);
  const logits = new Float64Array(classes);
  const lr = 0.02;
  const score = (x: Float32Array, at: number) => {
    for (let c = 0; c < classes; c++) {
      let s = b[c];
      for (let d = 0; d < dims; d++) s += w[c * dims + d] * x[at + d];
      logits[c] = s;
    }
  };
  for (let epoch = 0; epoch < epochs; epoch++) {
    for (let i = 0; i < train.count; i++) {
      score(train.images, i * dims);
      const max = Math.max(...logits);
      let sum = 0;
      for (let c = 0; c < classes; c++) sum += logits[c] = Math.exp(logits[c] - max);
      for (let c = 0; c < classes; c++) {
        const grad = logits[c] / sum - (c === train.labels[i] ? 1 : 0);
        b[c] -= lr * grad;
        for (let d = 0; d < dims; d++) w[c * dims + d] -= lr * grad * train.images[i * dims + d];
      }
    }
  }
  return (x, at) => {
    score(x, at);
    return logits.indexOf(Math.max(...logits));
  };
}

async function accuracyAfterTraining(spec: SyntheticSpecInput): Promise<number> {
  const ds = createSyntheticDataset(spec);
  const [h, w, c] = ds.info.shape;
  const dims = h * w * c;
  const predict = trainSoftmax(await ds.readRange('train', 0, ds.info.samples.train), dims, ds.info.numClasses, 5);
  const test = await ds.readRange('test', 0, ds.info.samples.test);
  let correct = 0;
  for (let i = 0; i < test.count; i++) if (predict(test.images, i * dims) === test.labels[i]) correct++;
  return correct / test.count;
}

describe('synthetic datasets', () => {
  it('is deterministic from its spec and differs between seeds', async () => {
    const a = await createSyntheticDataset({ seed: 7, trainSize: 300 }).readRangeBytes('train', 0, 300);
    const b = await createSyntheticDataset({ seed: 7, trainSize: 300 }).readRangeBytes('train', 0, 300);
    const c = await createSyntheticDataset({ seed: 8, trainSize: 300 }).readRangeBytes('train', 0, 300);
    assert.deepEqual(a, b);
    assert.notDeepEqual(a.pixels, c.pixels);
  });

  it('generates each sample independently of what else is read', async () => {
    const ds = createSyntheticDataset({
      seed: 3,
      height: 5,
      width: 6,
      channels: 3,
      trainSize: 500,
      duplicateFraction: 0.2,
    });
    const all = await ds.readRangeBytes('train', 0, 500);
    const picked = await ds.readIndicesBytes('train', [499, 17, 17, 250]);
    const size = 5 * 6 * 3;
    [499, 17, 17, 250].forEach((index, k) => {
      assert.deepEqual(
        picked.pixels.subarray(k * size, (k + 1) * size),
        all.pixels.subarray(index * size, (index + 1) * size),
      );
      assert.equal(picked.labels[k], all.labels[index]);
    });
    assert.deepEqual(ds.info.shape, [5, 6, 3]);
  });

  it('corrupts exactly the requested fractions, disjointly, with ground truth', async () => {
    const n = 1000;
    const ds = createSyntheticDataset({
      seed: 11,
      trainSize: n,
      testSize: 200,
      duplicateFraction: 0.1,
      mislabelFraction: 0.05,
    });
    const { duplicateOf, mislabeled, cleanLabels } = ds.groundTruth;
    const labels = await ds.readLabels('train');
    const pixels = (await ds.readRangeBytes('train', 0, n)).pixels;
    const size = 64;
    let duplicates = 0;
    let flipped = 0;
    for (let i = 0; i < n; i++) {
      assert.ok(labels[i] >= 0 && labels[i] < 10);
      if (duplicateOf[i] >= 0) {
        duplicates++;
        const source = duplicateOf[i];
        assert.notEqual(source, i);
        assert.equal(duplicateOf[source], -1, 'a duplicate copies an original');
        assert.equal(mislabeled[source], 0, 'a duplicate copies a correctly labelled original');
        assert.equal(mislabeled[i], 0, 'duplicates and mislabels are disjoint');
        assert.deepEqual(
          pixels.subarray(i * size, (i + 1) * size),
          pixels.subarray(source * size, (source + 1) * size),
        );
        assert.equal(labels[i], labels[source]);
      }
      if (mislabeled[i]) {
        flipped++;
        assert.notEqual(labels[i], cleanLabels[i]);
      } else {
        assert.equal(labels[i], cleanLabels[i]);
      }
    }
    assert.equal(duplicates, 100);
    assert.equal(flipped, 50);
    // Originals are distinct images: noise makes accidental copies impossible.
    const originals = new Set<string>();
    for (let i = 0; i < n; i++)
      if (duplicateOf[i] < 0) originals.add(Buffer.from(pixels.subarray(i * size, (i + 1) * size)).toString('hex'));
    assert.equal(originals.size, n - 100);
    // Every class occurs in roughly its share.
    const perClass = new Array(10).fill(0);
    for (const label of cleanLabels) perClass[label]++;
    assert.ok(
      perClass.every((count) => count > 60 && count < 140),
      perClass.join(','),
    );
  });

  it('is learnable by a linear model; wrong labels cost accuracy but leave it learnable', async () => {
    const clean = await accuracyAfterTraining({ seed: 1, trainSize: 1500, testSize: 500 });
    const harmed = await accuracyAfterTraining({ seed: 1, trainSize: 1500, testSize: 500, mislabelFraction: 0.2 });
    assert.ok(clean >= 0.9, `clean accuracy ${clean}`);
    assert.ok(harmed >= 0.6 && harmed < clean, `accuracy with 20% wrong labels ${harmed} (clean ${clean})`);
  });

  it('is not trivial at high noise (accuracy falls)', async () => {
    const noisy = await accuracyAfterTraining({ seed: 1, trainSize: 400, testSize: 500, noise: 2.5 });
    assert.ok(noisy < 0.9, `accuracy ${noisy}`);
  });

  it('fingerprints the full spec', async () => {
    const base: SyntheticSpecInput = { seed: 5, trainSize: 100 };
    const fp = (spec: SyntheticSpecInput) => createSyntheticDataset(spec).fingerprint();
    const reference = await fp(base);
    assert.match(reference, /^[0-9a-f]{64}$/);
    assert.equal(await fp({ ...base }), reference);
    assert.equal(await fp({ ...base, noise: 0.3 }), reference, 'an explicit default is the same set');
    const variants: SyntheticSpecInput[] = [
      { seed: 6 },
      { height: 9 },
      { width: 9 },
      { channels: 3 },
      { numClasses: 3 },
      { trainSize: 101 },
      { testSize: 7 },
      { noise: 0.35 },
      { duplicateFraction: 0.1 },
      { mislabelFraction: 0.1 },
    ];
    const seen = new Set([reference]);
    for (const variant of variants) seen.add(await fp({ ...base, ...variant }));
    assert.equal(seen.size, variants.length + 1);
  });

  it('opens a clean pool of billions without holding anything per sample (scale bench pools of 10M)', async () => {
    // Before: every open planned labels and corruption for the whole split, 20 bytes a sample (20 GB here).
    const huge = createSyntheticDataset({ seed: 2, trainSize: 1_000_000_000, height: 4, width: 4, numClasses: 4 });
    const small = createSyntheticDataset({ seed: 2, trainSize: 1000, height: 4, width: 4, numClasses: 4 });
    assert.deepEqual(await huge.readRangeBytes('train', 0, 1000), await small.readRangeBytes('train', 0, 1000));
    const last = await huge.readIndicesBytes('train', [999_999_999, 0]);
    assert.equal(last.count, 2);
    assert.ok(last.labels[0] >= 0 && last.labels[0] < 4);
    assert.deepEqual(await small.readLabels('train'), (await small.readRangeBytes('train', 0, 1000)).labels);
  });

  it('rejects impossible specs', () => {
    assert.throws(() => createSyntheticDataset({ duplicateFraction: 0.6, mislabelFraction: 0.5 }), /at most 0.95/);
    assert.throws(() => createSyntheticDataset({ numClasses: 1 }));
  });
});
