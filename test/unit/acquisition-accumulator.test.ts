import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  createAccumulator,
  foldMember,
  mergeAccumulators,
  mergeInto,
} from '../../domain/acquisition/ensemble-accumulator';
import { parseAccumulator, serialiseAccumulator } from '../../domain/acquisition/accumulator-codec';
import { scoreAccumulator } from '../../domain/acquisition/acquisition-scores';

type Typed = Error & { failureType?: string };
const failsWith = (type: string, pattern: RegExp) => (e: Typed) => {
  assert.equal(e.failureType, type, e.message);
  assert.match(e.message, pattern);
  return true;
};

function sampleAccumulator() {
  const acc = createAccumulator({ samples: 3, classes: 2, globalStart: 10 });
  foldMember(acc, Float32Array.from([0.9, 0.1, 0.5, 0.5, 0, 1]));
  foldMember(acc, Float32Array.from([0.2, 0.8, 0.5, 0.5, 1, 0]));
  return acc;
}

describe('ensemble accumulator', () => {
  it('keeps sums of probabilities, member entropies, votes and the member count', () => {
    const acc = sampleAccumulator();
    assert.equal(acc.memberCount, 2);
    const expectedSums = [1.1, 0.9, 1, 1, 1, 1];
    acc.probabilitySums.forEach((v, i) => assert.ok(Math.abs(v - expectedSums[i]!) < 1e-6, `sum ${i}: ${v}`));
    const h = (p: number[]) => -p.reduce((t, x) => t + (x > 0 ? x * Math.log(x) : 0), 0);
    const expectedEntropies = [h([0.9, 0.1]) + h([0.2, 0.8]), 2 * Math.LN2, 0];
    acc.entropySums.forEach((v, i) => assert.ok(Math.abs(v - expectedEntropies[i]!) < 1e-6, `entropy ${i}: ${v}`));
    assert.deepEqual(Array.from(acc.votes), [1, 1, 2, 0, 1, 1]);
  });

  it('rejects NaN and Infinity as Diverged, naming member, sample and class', () => {
    const acc = createAccumulator({ samples: 4, classes: 3, globalStart: 100 });
    const probs = new Float32Array(12).fill(1 / 3);
    probs[2 * 3 + 1] = Number.NaN;
    assert.throws(
      () => foldMember(acc, probs, { member: 7 }),
      failsWith('Diverged', /member 7, sample 2 \(global 102\), class 1: probability is NaN/),
    );
    assert.ok(acc.poisoned, 'a half-folded accumulator is marked unusable');
    assert.throws(() => foldMember(acc, new Float32Array(12).fill(1 / 3)), /unusable/);
    const inf = new Float32Array(12).fill(1 / 3);
    inf[0] = Infinity;
    assert.throws(
      () => foldMember(createAccumulator({ samples: 4, classes: 3 }), inf),
      failsWith('Diverged', /member 0, sample 0 \(global 0\), class 0: probability is Infinity/),
    );
  });

  it('rejects negative, all-zero and wrongly sized input as InvalidData', () => {
    const neg = Float32Array.from([0.5, 0.5, 1.2, -0.2]);
    assert.throws(
      () => foldMember(createAccumulator({ samples: 2, classes: 2 }), neg),
      failsWith('InvalidData', /sample 1 .* class 1: probability -0\.2\d* is negative/),
    );
    assert.throws(
      () => foldMember(createAccumulator({ samples: 2, classes: 2 }), Float32Array.from([0.5, 0.5, 0, 0])),
      failsWith('InvalidData', /sample 1 .*all 2 probabilities are zero/),
    );
    assert.throws(
      () => foldMember(createAccumulator({ samples: 2, classes: 2 }), new Float32Array(3)),
      failsWith('InvalidData', /expected 4 probabilities/),
    );
  });

  it('accepts negative zero as zero', () => {
    const acc = createAccumulator({ samples: 1, classes: 2 });
    foldMember(acc, Float32Array.from([-0, 1]));
    assert.equal(scoreAccumulator(acc, 'entropy')[0], 0);
  });

  it('names the location of a bad value in detection maps', () => {
    const acc = createAccumulator({ samples: 2, locations: 3, classes: 2, globalStart: 5 });
    const probs = new Float32Array(12).fill(0.5);
    probs[(1 * 3 + 2) * 2] = Number.NaN;
    assert.throws(
      () => foldMember(acc, probs, { member: 3 }),
      failsWith('Diverged', /member 3, sample 1 \(global 6\), location 2, class 0/),
    );
  });

  it('merges accumulators of the same shard and refuses other shards', () => {
    const a = createAccumulator({ samples: 3, classes: 2, globalStart: 10 });
    foldMember(a, Float32Array.from([0.9, 0.1, 0.5, 0.5, 0, 1]));
    const b = createAccumulator({ samples: 3, classes: 2, globalStart: 10 });
    foldMember(b, Float32Array.from([0.2, 0.8, 0.5, 0.5, 1, 0]));
    const merged = mergeAccumulators([a, b]);
    const whole = sampleAccumulator();
    assert.equal(merged.memberCount, 2);
    assert.deepEqual(merged.votes, whole.votes);
    assert.deepEqual(merged.probabilitySums, whole.probabilitySums);
    assert.equal(a.memberCount, 1, 'mergeAccumulators leaves its inputs alone');
    const other = createAccumulator({ samples: 3, classes: 2, globalStart: 11 });
    assert.throws(() => mergeInto(a, other), failsWith('InvalidData', /different shards/));
  });

  it('widens votes to 32 bits past 65535 members', () => {
    const a = createAccumulator({ samples: 1, classes: 2 });
    a.votes[0] = 65535;
    a.memberCount = 65535;
    a.probabilitySums[0] = 65535;
    foldMember(a, Float32Array.from([1, 0]));
    assert.ok(a.votes instanceof Uint32Array);
    assert.equal(a.votes[0], 65536);
    assert.equal(a.memberCount, 65536);
    const round = parseAccumulator(serialiseAccumulator(a));
    assert.ok(round.votes instanceof Uint32Array);
    assert.equal(round.votes[0], 65536);
  });
});

describe('accumulator serialisation', () => {
  it('round-trips exactly', () => {
    const acc = sampleAccumulator();
    const back = parseAccumulator(serialiseAccumulator(acc));
    assert.equal(back.samples, 3);
    assert.equal(back.classes, 2);
    assert.equal(back.locations, 1);
    assert.equal(back.globalStart, 10);
    assert.equal(back.memberCount, 2);
    assert.deepEqual(back.probabilitySums, acc.probabilitySums);
    assert.deepEqual(back.entropySums, acc.entropySums);
    assert.deepEqual(back.votes, acc.votes);
  });

  it('names what is wrong with a damaged artifact', () => {
    const good = serialiseAccumulator(sampleAccumulator());
    const damaged = (edit: (b: Uint8Array) => Uint8Array) => edit(good.slice());
    const parse = (b: Uint8Array) => () => parseAccumulator(b, 'round-1/acc-3');
    assert.throws(
      parse(damaged((b) => ((b[0] = 0x58), b))),
      failsWith('CorruptArtifact', /round-1\/acc-3: bad magic "XNAC"/),
    );
    assert.throws(parse(damaged((b) => ((b[4] = 9), b))), failsWith('CorruptArtifact', /unsupported version 9/));
    assert.throws(
      parse(damaged((b) => b.subarray(0, b.length - 1))),
      failsWith('CorruptArtifact', /size \d+ bytes does not match/),
    );
    assert.throws(
      parse(damaged((b) => b.subarray(0, 20))),
      failsWith('CorruptArtifact', /shorter than the 64-byte header/),
    );
    assert.throws(parse(damaged((b) => ((b[100] ^= 1), b))), failsWith('CorruptArtifact', /sha256 mismatch/));
    assert.throws(
      parse(damaged((b) => ((b[20] ^= 1), b))),
      failsWith('CorruptArtifact', /sha256 mismatch/),
      'the member count is covered by the checksum',
    );
  });
});
