import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createAccumulator, foldMember, type EnsembleAccumulator } from '../../domain/acquisition/ensemble-accumulator';
import { scoreAccumulator, randomScores, type AcquisitionFunction } from '../../domain/acquisition/acquisition-scores';
import { acquisitionFunctions } from '../../contracts/config';

/** Accumulator for one sample from a list of members' rows. */
function ensembleOf(members: number[][], globalStart = 0): EnsembleAccumulator {
  const acc = createAccumulator({ samples: 1, classes: members[0]!.length, globalStart });
  for (const row of members) foldMember(acc, Float32Array.from(row));
  return acc;
}

function scoresOf(members: number[][]): Record<AcquisitionFunction, number> {
  const acc = ensembleOf(members);
  const out = {} as Record<AcquisitionFunction, number>;
  for (const fn of acquisitionFunctions) out[fn] = scoreAccumulator(acc, fn, { seed: 1 })[0]!;
  return out;
}

function close(actual: number, expected: number, what: string, tolerance = 2e-6): void {
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual} vs expected ${expected}`);
}

/** -(sum p ln p), written out by hand for the cases below. */
const xlogx = (p: number) => (p === 0 ? 0 : p * Math.log(p));

describe('acquisition scores, hand-computed', () => {
  it('all members agree on a soft prediction: no disagreement, entropy of the prediction', () => {
    const s = scoresOf([
      [0.7, 0.3],
      [0.7, 0.3],
      [0.7, 0.3],
    ]);
    close(s.entropy, -(xlogx(0.7) + xlogx(0.3)), 'entropy'); // 0.6109
    close(s['mutual-information'], 0, 'MI');
    close(s['variation-ratios'], 0, 'VR');
    close(s.margin, 1 - (0.7 - 0.3), 'margin');
    close(s['least-confidence'], 0.3, 'least confidence');
  });

  it('maximally disagreeing one-hot members: MI = H = ln C, VR = 1 - 1/K', () => {
    const s = scoresOf([
      [1, 0, 0],
      [0, 1, 0],
      [0, 0, 1],
    ]);
    close(s.entropy, Math.log(3), 'entropy');
    close(s['mutual-information'], Math.log(3), 'MI');
    close(s['variation-ratios'], 1 - 1 / 3, 'VR');
    close(s.margin, 1, 'margin');
    close(s['least-confidence'], 1 - 1 / 3, 'least confidence');
  });

  it('two members, opposite one-hot votes', () => {
    const s = scoresOf([
      [1, 0],
      [0, 1],
    ]);
    close(s.entropy, Math.LN2, 'entropy');
    close(s['mutual-information'], Math.LN2, 'MI');
    close(s['variation-ratios'], 0.5, 'VR');
    close(s.margin, 1, 'margin');
    close(s['least-confidence'], 0.5, 'least confidence');
  });

  it('one-hot predictions all agreeing: every score is 0', () => {
    const s = scoresOf([
      [0, 1, 0, 0],
      [0, 1, 0, 0],
    ]);
    for (const fn of acquisitionFunctions.filter((f) => f !== 'random')) close(s[fn], 0, fn);
  });

  it('uniform predictions: H = ln C, MI = 0, VR = 0 (every member votes the first class)', () => {
    const s = scoresOf([
      [0.25, 0.25, 0.25, 0.25],
      [0.25, 0.25, 0.25, 0.25],
    ]);
    close(s.entropy, Math.log(4), 'entropy');
    close(s['mutual-information'], 0, 'MI');
    close(s['variation-ratios'], 0, 'VR');
    close(s.margin, 1, 'margin');
    close(s['least-confidence'], 0.75, 'least confidence');
  });

  it('a confident and an unsure member', () => {
    const s = scoresOf([
      [0.9, 0.1],
      [0.5, 0.5],
    ]);
    const h = -(xlogx(0.7) + xlogx(0.3));
    const memberMean = (-(xlogx(0.9) + xlogx(0.1)) + Math.LN2) / 2;
    close(s.entropy, h, 'entropy');
    close(s['mutual-information'], h - memberMean, 'MI'); // 0.1017
    close(s['variation-ratios'], 0, 'VR');
    close(s.margin, 0.6, 'margin');
    close(s['least-confidence'], 0.3, 'least confidence');
  });

  it('three members, votes 2:1, soft rows', () => {
    const s = scoresOf([
      [0.6, 0.3, 0.1],
      [0.5, 0.4, 0.1],
      [0.2, 0.7, 0.1],
    ]);
    const pbar = [1.3 / 3, 1.4 / 3, 0.3 / 3];
    const h = -pbar.reduce((t, p) => t + xlogx(p), 0);
    const members = [
      [0.6, 0.3, 0.1],
      [0.5, 0.4, 0.1],
      [0.2, 0.7, 0.1],
    ].map((r) => -r.reduce((t, p) => t + xlogx(p), 0));
    close(s.entropy, h, 'entropy');
    close(s['mutual-information'], h - (members[0]! + members[1]! + members[2]!) / 3, 'MI');
    close(s['variation-ratios'], 1 - 2 / 3, 'VR');
    close(s.margin, 1 - (1.4 / 3 - 1.3 / 3), 'margin');
    close(s['least-confidence'], 1 - 1.4 / 3, 'least confidence');
  });

  it('renormalises rows that do not sum to 1', () => {
    const scaled = scoresOf([
      [1.4, 0.6],
      [1.4, 0.6],
    ]);
    close(scaled.entropy, -(xlogx(0.7) + xlogx(0.3)), 'entropy of a row scaled by 2');
    close(scaled['mutual-information'], 0, 'MI of identical scaled rows');
    close(scaled['least-confidence'], 0.3, 'least confidence of a scaled row');
    const mixed = scoresOf([
      [9, 1],
      [0.5, 0.5],
    ]);
    const plain = scoresOf([
      [0.9, 0.1],
      [0.5, 0.5],
    ]);
    for (const fn of acquisitionFunctions) close(mixed[fn], plain[fn], fn);
  });

  it('random scores are in [0, 1), seeded, and depend only on the global index', () => {
    const whole = randomScores(0, 1000, 42);
    const again = randomScores(0, 1000, 42);
    assert.deepEqual(whole, again);
    const a = randomScores(0, 300, 42);
    const b = randomScores(300, 700, 42);
    assert.deepEqual(Array.from(whole), [...a, ...b]);
    const other = randomScores(0, 1000, 43);
    assert.ok(
      whole.some((v, i) => v !== other[i]),
      'another seed gives other scores',
    );
    assert.ok(whole.every((v) => v >= 0 && v < 1));
    const mean = whole.reduce((t, v) => t + v, 0) / whole.length;
    assert.ok(Math.abs(mean - 0.5) < 0.05, `mean ${mean}`);
    const acc = createAccumulator({ samples: 700, classes: 2, globalStart: 300 });
    assert.deepEqual(scoreAccumulator(acc, 'random', { seed: 42 }), b, 'accumulator shards use their global start');
  });

  it('refuses to score without members, and random without a seed', () => {
    const acc = createAccumulator({ samples: 2, classes: 3 });
    assert.throws(
      () => scoreAccumulator(acc, 'entropy'),
      (e: Error & { failureType?: string }) => e.failureType === 'InvalidData' && /no ensemble member/.test(e.message),
    );
    assert.throws(
      () => scoreAccumulator(acc, 'random'),
      (e: Error & { failureType?: string }) => e.failureType === 'InvalidConfig',
    );
  });
});
