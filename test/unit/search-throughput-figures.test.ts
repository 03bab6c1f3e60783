import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseSearchConfig, type SearchConfig } from '../../contracts/config';
import {
  computeFloorSeconds,
  issue20DemoConfig,
  rateOf,
  searchThroughput,
} from '../../bench/search-throughput-figures';
import { searchWork } from '../../bench/reproduce-plan';
import type { RoundSummary } from '../../workflows/search-plan';

function config(overrides: Record<string, unknown> = {}): SearchConfig {
  const parsed = parseSearchConfig({ ...issue20DemoConfig, ...overrides });
  if (!parsed.ok) throw new Error(parsed.problems.join('; '));
  return parsed.config;
}

const round = (r: number, subsetSize: number, added: number, train: number, score: number, evaluate: number) =>
  ({
    round: r,
    subsetSize,
    added,
    cutoffScore: 0.5,
    meanTrainLoss: 0.4,
    seconds: { train, score, acquire: 1, evaluate },
  }) as RoundSummary;

describe('search throughput figures', () => {
  const rounds = [round(0, 4000, 2000, 4, 20, 30), round(1, 6000, 2000, 6, 22, 10)];

  it('counts member images on the subset each round started with, and pool x checkpoints scored', () => {
    const t = searchThroughput(config(), 60_000, rounds);
    // 2 members x 3 epochs on 2,000, then on 4,000.
    assert.equal(t.train.images, 2 * 3 * 2000 + 2 * 3 * 4000);
    assert.equal(t.train.seconds, 10);
    // 60,000 x (2 members x 2 checkpoints), twice.
    assert.equal(t.score.images, 2 * 60_000 * 4);
    assert.equal(t.score.seconds, 42);
    assert.equal(rateOf(t.train), 3600);
  });

  it('stretches epochs to minSteps as the search does', () => {
    // Batches of 128: 2,000 samples are 16 steps an epoch, and 469 steps need 30 epochs.
    const t = searchThroughput(config({ training: { epochs: 3, minSteps: 469 } }), 60_000, [rounds[0]!]);
    assert.equal(t.train.images, 2 * 30 * 2000);
  });

  it('prices the whole search at the ceiling rates, one task at a time', () => {
    const work = searchWork(config(), 60_000, 10_000);
    // Members on 2,000 and 4,000; AL and random models at 4,000 and 6,000; the full set once; 3 epochs each.
    const trained = 2 * 3 * (2000 + 4000) + 2 * 3 * (4000 + 6000) + 3 * 60_000;
    // The pool with 4 checkpoints in 2 rounds, and 5 evaluation models on the 10,000 test images.
    const predicted = 2 * 60_000 * 4 + 5 * 10_000;
    assert.equal(work.trainSampleEpochs, trained);
    assert.equal(work.predictions, predicted);
    const floor = computeFloorSeconds(work, { train: 1000, infer: 10_000 });
    assert.ok(Math.abs(floor - (trained / 1000 + predicted / 10_000)) < 1e-9);
  });

  it('refuses what it cannot count', () => {
    assert.throws(() => searchThroughput(config(), 60_000, []), /finished no round/);
    assert.throws(
      () => searchThroughput(config({ scheme: 'compress', targets: [4000] }), 60_000, rounds),
      /compress searches are not measured/,
    );
  });
});
