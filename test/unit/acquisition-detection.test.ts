import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createAccumulator, foldMember } from '../../domain/acquisition/ensemble-accumulator';
import { scoreAccumulator } from '../../domain/acquisition/acquisition-scores';
import { reduceLocationScores, sigmoidMapsToBinaryDistributions } from '../../domain/acquisition/location-reduction';

const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < 2e-6, `${what}: ${a} vs ${b}`);

describe('detection-style per-location outputs', () => {
  it('reduces per-location scores by mean, max or sum', () => {
    const perLocation = Float32Array.from([0.1, 0.5, 0.3, 2, 0, 1]);
    assert.deepEqual(Array.from(reduceLocationScores(perLocation, 2, 3, 'max')), [0.5, 2]);
    const mean = reduceLocationScores(perLocation, 2, 3, 'mean');
    close(mean[0]!, 0.3, 'mean of sample 0');
    close(mean[1]!, 1, 'mean of sample 1');
    const sum = reduceLocationScores(perLocation, 2, 3, 'sum');
    close(sum[0]!, 0.9, 'sum of sample 0');
    close(sum[1]!, 3, 'sum of sample 1');
    assert.throws(() => reduceLocationScores(perLocation, 2, 4, 'max'), /expected 2 samples x 4 locations/);
  });

  it('scores each location of a map like a classification row, then reduces', () => {
    // 2 samples x 2 locations x 2 classes, 2 members.
    // sample 0: location 0 agreed certain, location 1 opposite one-hots -> entropies 0 and ln 2.
    // sample 1: both locations uniform in both members -> ln 2 each.
    const acc = createAccumulator({ samples: 2, locations: 2, classes: 2, globalStart: 4 });
    foldMember(acc, Float32Array.from([1, 0, 1, 0, 0.5, 0.5, 0.5, 0.5]));
    foldMember(acc, Float32Array.from([1, 0, 0, 1, 0.5, 0.5, 0.5, 0.5]));
    const meanH = scoreAccumulator(acc, 'entropy', { reduction: 'mean' });
    const maxH = scoreAccumulator(acc, 'entropy', { reduction: 'max' });
    close(meanH[0]!, Math.LN2 / 2, 'mean entropy, sample 0');
    close(maxH[0]!, Math.LN2, 'max entropy, sample 0');
    close(meanH[1]!, Math.LN2, 'mean entropy, sample 1');
    const mi = scoreAccumulator(acc, 'mutual-information', { reduction: 'max' });
    close(mi[0]!, Math.LN2, 'MI of the disagreeing location');
    close(mi[1]!, 0, 'MI of agreeing uniform members');
    assert.equal(
      scoreAccumulator(acc, 'random', { seed: 1 }).length,
      2,
      'one random score per sample, not per location',
    );
  });

  it('turns per-class sigmoid maps into two-class rows', () => {
    const rows = sigmoidMapsToBinaryDistributions(Float32Array.from([0.25, 1]));
    assert.deepEqual(Array.from(rows), [0.25, 0.75, 1, 0]);
    const acc = createAccumulator({ samples: 1, locations: 2, classes: 2 });
    foldMember(acc, rows);
    const h = scoreAccumulator(acc, 'entropy', { reduction: 'max' })[0]!;
    close(h, -(0.25 * Math.log(0.25) + 0.75 * Math.log(0.75)), 'binary entropy of the uncertain class');
  });
});
