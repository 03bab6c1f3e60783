import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildConfig, ConfigFlagError } from '../../client/cli/config-flags';
import { bar, formatDuration, progressLines } from '../../client/cli/progress-view';
import { formatFromPath, formatSubset } from '../../client/cli/subset-export';
import type { SearchProgress } from '../../workflows/definitions';

describe('CLI config flags', () => {
  it('applies flags over the file, parses --set values as JSON when they are JSON', () => {
    const file = { dataset: { kind: 'mnist' }, targets: [10], training: { epochs: 2, batchSize: 64 } };
    const config = buildConfig(file, {
      dataset: 'fashion-mnist',
      targets: '100, 200',
      step: '50',
      set: ['training.epochs=5', 'training.optimizer=sgd-momentum', 'evaluation.randomBaseline=false'],
    });
    assert.deepEqual(config, {
      dataset: { kind: 'fashion-mnist' },
      targets: [100, 200],
      acquisition: { step: 50 },
      training: { epochs: 5, batchSize: 64, optimizer: 'sgd-momentum' },
      evaluation: { randomBaseline: false },
    });
    assert.deepEqual(file.training, { epochs: 2, batchSize: 64 }, 'the file object is left unchanged');
  });

  it('names the flag that is wrong', () => {
    assert.throws(() => buildConfig(undefined, { targets: '10,abc' }), /--targets abc: expected an integer/);
    assert.throws(() => buildConfig(undefined, { set: ['epochs'] }), /--set epochs: expected path=value/);
    assert.throws(() => buildConfig(undefined, { set: ['__proto__.x=1'] }), ConfigFlagError);
    assert.throws(() => buildConfig({ seed: 3 }, { set: ['seed.x=1'] }), /"seed" in seed\.x is not an object/);
    assert.throws(() => buildConfig([1, 2], {}), /one JSON object/);
  });
});

describe('CLI progress view', () => {
  it('draws proportional bars and readable durations', () => {
    assert.equal(bar(0, 4, 8), '[........]');
    assert.equal(bar(2, 4, 8), '[####....]');
    assert.equal(bar(9, 4, 8), '[########]');
    assert.equal(bar(0, 0, 4), '[    ]');
    assert.equal(formatDuration(59), '59 s');
    assert.equal(formatDuration(61), '1 min 01 s');
    assert.equal(formatDuration(3 * 3600 + 5 * 60), '3 h 05 min');
  });

  it('shows phase, counts and ETA of a search', () => {
    const p: SearchProgress = {
      searchId: 's',
      phase: 'scoring',
      round: 2,
      subsetSize: 300,
      poolSize: 1000,
      targets: [400, 500],
      membersTrained: 4,
      members: 4,
      shardsScored: 1,
      shards: 4,
      rounds: [],
      evaluations: [],
      paused: false,
      stopping: true,
      etaSeconds: 125,
      updatedAt: '',
    };
    const text = progressLines(p).join('\n');
    assert.match(text, /round 2 {2}scoring \(stopping after this round\)/);
    assert.match(text, /subset {4}300 of 1000 {2}targets 400, 500/);
    assert.match(text, /shards {4}\[#{6}\.{18}\] 1\/4 scored/);
    assert.match(text, /ETA {7}2 min 05 s/);
  });
});

describe('CLI subset export', () => {
  const subset = {
    searchId: 's',
    size: 3,
    poolSize: 10,
    manifestUri: 'file:///m.json',
    indices: new Uint32Array([7, 1, 4]),
    lineage: { round: 1 },
  };
  it('writes JSON with lineage, CSV with a header, and a plain index list', () => {
    assert.deepEqual(JSON.parse(formatSubset(subset, 'json')), {
      searchId: 's',
      size: 3,
      poolSize: 10,
      manifestUri: 'file:///m.json',
      lineage: { round: 1 },
      indices: [7, 1, 4],
    });
    assert.equal(formatSubset(subset, 'csv'), 'index\n7\n1\n4\n');
    assert.equal(formatSubset(subset, 'indices'), '7\n1\n4\n');
    assert.equal(formatFromPath('a/b.csv'), 'csv');
    assert.equal(formatFromPath('b.txt'), 'indices');
    assert.equal(formatFromPath('b.bin'), undefined);
  });
});
