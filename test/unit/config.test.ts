import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatConfigProblems, parseSearchConfig } from '../../contracts/config';
import { deriveSearchId } from '../../contracts/search-id';

function problemsOf(input: unknown): string[] {
  const result = parseSearchConfig(input);
  assert.equal(result.ok, false, 'expected the config to be rejected');
  return result.ok ? [] : result.problems;
}

describe('search config', () => {
  it('fills sensible defaults from just a dataset and targets', () => {
    const result = parseSearchConfig({ dataset: { kind: 'fashion-mnist' }, targets: [6000, 15000] });
    assert.ok(result.ok);
    assert.equal(result.config.model, 'cnn-small');
    assert.equal(result.config.scheme, 'build-up');
    assert.equal(result.config.acquisition.function, 'entropy');
    assert.deepEqual(result.config.ensemble, { members: 4, checkpointEpochs: [2, 3] });
    assert.equal(result.config.seed, 0);
  });

  it('TFRecord settings: accepted for kind tfrecord, each bad field named', () => {
    const good = parseSearchConfig({
      dataset: { kind: 'tfrecord', uri: 'gs://b/imagenet', tfrecord: { labelOffset: 1, classes: 1000 } },
      targets: [10],
    });
    assert.ok(good.ok);
    assert.ok('kind' in good.config.dataset);
    assert.deepEqual(good.config.dataset.tfrecord, { labelOffset: 1, classes: 1000 });
    const problems = problemsOf({
      dataset: { kind: 'tfrecord', tfrecord: { labelOffset: -1, classes: 1, imageFeature: '', compressed: true } },
      targets: [10],
    });
    const fields = problems.map((p) => p.split(':')[0]).sort();
    assert.deepEqual(fields, [
      'dataset.tfrecord.classes',
      'dataset.tfrecord.compressed',
      'dataset.tfrecord.imageFeature',
      'dataset.tfrecord.labelOffset',
    ]);
  });

  it('names each bad field by its path', () => {
    const problems = problemsOf({
      dataset: { kind: 'imagenet-22k' },
      targets: [0],
      acquisition: { function: 'vibes' },
      ensemble: { members: 2.5 },
    });
    const fields = problems.map((p) => p.split(':')[0]).sort();
    assert.deepEqual(fields, ['acquisition.function', 'dataset.kind', 'ensemble.members', 'targets.0']);
    assert.match(
      problems.find((p) => p.startsWith('dataset.kind'))!,
      /fashion-mnist/,
      'lists the allowed kinds',
    );
  });

  it('rejects unknown keys at every level', () => {
    const problems = problemsOf({ dataset: { kind: 'mnist', colour: 1 }, targets: [10], epochz: 3 });
    assert.ok(problems.includes('dataset.colour: unknown field'), problems.join('\n'));
    assert.ok(problems.includes('epochz: unknown field'), problems.join('\n'));
  });

  it('checks relations between fields', () => {
    const problems = problemsOf({
      dataset: { kind: 'mnist' },
      targets: [500, 400],
      initialSize: 600,
      ensemble: { checkpointEpochs: [2, 2] },
    });
    assert.ok(
      problems.some((p) => p.startsWith('targets.1: targets must be strictly ascending')),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) => p.startsWith('initialSize: must be smaller than the first target (500)')),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) => p.startsWith('ensemble.checkpointEpochs: epochs must be distinct')),
      problems.join('\n'),
    );
  });

  it('reports a non-object input at the top level', () => {
    assert.match(problemsOf(null)[0], /^\(config\): /);
  });

  it('formats the failure message with a count', () => {
    assert.equal(formatConfigProblems(['a: x', 'b: y']), 'invalid search config (2 problems): a: x; b: y');
    assert.equal(formatConfigProblems(['a: x']), 'invalid search config (1 problem): a: x');
  });
});

describe('deriveSearchId', () => {
  it('makes workflow ids safe for artifact paths', () => {
    assert.equal(deriveSearchId('My Search/2026 #1'), 'my-search-2026-1');
    assert.equal(deriveSearchId('../../etc'), 'etc');
    assert.equal(deriveSearchId('///'), 'search');
  });
});

describe('search config: task', () => {
  const scenes = { format: 'scenes', train: 100 } as const;

  it('fills detection defaults: a detector, smaller shards, classification untouched', () => {
    const detection = parseSearchConfig({ task: 'detection', dataset: scenes, targets: [50] });
    assert.ok(detection.ok);
    assert.equal(detection.config.model, 'detector-s4');
    assert.equal(detection.config.shardSize, 1000);
    const classification = parseSearchConfig({ dataset: { kind: 'mnist' }, targets: [50] });
    assert.ok(classification.ok);
    assert.equal(classification.config.task, 'classification');
    assert.equal(classification.config.model, 'cnn-small');
    assert.equal(classification.config.shardSize, 10_000);
  });

  it('refuses a classifier, crop-flip and kept accumulators for detection, naming each field', () => {
    const problems = problemsOf({
      task: 'detection',
      dataset: scenes,
      targets: [50],
      model: 'cnn-small',
      training: { augmentation: 'crop-flip' },
      acquisition: { keepAccumulators: true },
      evaluation: { models: ['detector-s8', 'resnet18-cifar'] },
    });
    const fields = problems.map((p) => p.split(':')[0]).sort();
    assert.deepEqual(
      fields,
      ['acquisition.keepAccumulators', 'evaluation.models.1', 'model', 'training.augmentation'],
      problems.join('\n'),
    );
    assert.ok(problems.some((p) => /model: task detection trains a detector \(detector-s4, detector-s8\)/.test(p)));
  });

  it('refuses detection data, a detector, a reduction or flip without task detection', () => {
    assert.deepEqual(problemsOf({ dataset: scenes, targets: [50] }), [
      'dataset: a detection data set (format scenes) needs task "detection"',
    ]);
    const problems = problemsOf({
      dataset: { kind: 'mnist' },
      targets: [50],
      model: 'detector-s4',
      acquisition: { reduction: 'sum' },
      training: { augmentation: 'flip' },
    });
    assert.deepEqual(
      problems.map((p) => p.split(':')[0]).sort(),
      ['acquisition.reduction', 'model', 'training.augmentation'],
      problems.join('\n'),
    );
    assert.match(
      problemsOf({ task: 'detection', dataset: { kind: 'mnist' }, targets: [50] })[0],
      /classification set \(kind mnist\)/,
    );
  });

  it('describes a bad classification spec by its own fields even when the detection branch has fewer problems', () => {
    const problems = problemsOf({ dataset: { kind: 'nope', size: -3 }, targets: [10] });
    assert.deepEqual(
      problems.map((p) => p.split(':')[0]),
      ['dataset.kind', 'dataset.size'],
      problems.join('\n'),
    );
  });

  it('describes a bad detection spec by its own fields, and relation checks still run', () => {
    const problems = problemsOf({
      task: 'detection',
      dataset: { format: 'coco', dir: '/data/coco' },
      targets: [50, 40],
    });
    assert.ok(
      problems.includes('dataset.shape: Invalid input: expected tuple, received undefined'),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) => p.startsWith('targets.1: targets must be strictly ascending')),
      problems.join('\n'),
    );
  });
});
