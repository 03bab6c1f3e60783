/** The detector's training targets (domain/detection/targets.ts) on hand-made objects, values exact. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeTargets } from '../../domain/detection/targets';
import type { GroundTruthObject } from '../../domain/detection/types';

const shape: [number, number, number] = [32, 32, 3];
const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < 1e-6, `${what}: ${a} vs ${b}`);
/** Location of (row, col) on the 8x8 map of a 32x32 input at stride 4. */
const at = (row: number, col: number) => row * 8 + col;

describe('detector targets', () => {
  it('puts class, offset and log size at the centre cell', () => {
    // Centre (14, 12): column 3.5 -> cell 3, dx 0.5; row 3.0 -> cell 3, dy 0. Size 8x12 = 2x3 cells.
    const object: GroundTruthObject = { x: 10, y: 6, w: 8, h: 12, category: 2 };
    const t = encodeTargets([[], [object]], shape, { stride: 4 });
    assert.equal(t.mapHeight, 8);
    assert.equal(t.mapWidth, 8);
    assert.equal(t.positives, 1);
    assert.equal(t.centerCount, 1);
    assert.equal(t.classes.length, 2 * 64);
    assert.ok(
      t.classes.subarray(0, 64).every((c) => c === 0),
      'image 0 is all background',
    );
    const l = 64 + at(3, 3);
    assert.equal(t.classes[l], 3, 'category 2 -> class 3');
    assert.equal(
      t.classes.reduce((n, c) => n + (c > 0 ? 1 : 0), 0),
      1,
    );
    assert.equal(t.centers[l], 1);
    assert.equal(
      t.centers.reduce((a, b) => a + b),
      1,
    );
    assert.deepEqual(Array.from(t.boxes.subarray(l * 4, l * 4 + 4)), [
      0.5,
      0,
      Math.fround(Math.log(2)),
      Math.fround(Math.log(3)),
    ]);
    assert.equal(
      t.boxes.reduce((a, b) => a + Math.abs(b)),
      Math.fround(0.5) + Math.fround(Math.log(2)) + Math.fround(Math.log(3)),
    );
    assert.equal(t.classWeights[l], 1);
    // Background near the centre counts less: (1 - exp(-d^2 / (2 sigma^2)))^4, sigma = max(0.5, 8 / 4 / 6) = 0.5.
    const reduced = (d2: number) => (1 - Math.exp(-d2 / 0.5)) ** 4;
    close(t.classWeights[64 + at(3, 2)], reduced(1 + 0.25), 'left neighbour (cell centre 2.5, 3.5)');
    close(t.classWeights[64 + at(3, 4)], reduced(1 + 0.25), 'right neighbour');
    close(t.classWeights[64 + at(2, 3)], reduced(0 + 0.25), 'upper neighbour, half a cell away');
    close(t.classWeights[64 + at(7, 7)], reduced(16 + 20.25), 'far corner');
    assert.ok(
      t.classWeights.subarray(0, 64).every((w) => w === 1),
      'an empty image weighs every cell 1',
    );
    const uniform = encodeTargets([[object]], shape, { stride: 4, negatives: 'uniform' });
    assert.ok(uniform.classWeights.every((w) => w === 1));
  });

  it('marks the centre region as positives with radius, the box at the centre only', () => {
    const t = encodeTargets([[{ x: 10, y: 6, w: 8, h: 12, category: 0 }]], shape, { stride: 4, radius: 1 });
    assert.equal(t.positives, 9);
    assert.equal(t.centerCount, 1);
    for (let r = 0; r < 8; r++)
      for (let c = 0; c < 8; c++) {
        const inside = Math.abs(r - 3) <= 1 && Math.abs(c - 3) <= 1;
        assert.equal(t.classes[at(r, c)], inside ? 1 : 0, `cell ${r}, ${c}`);
        if (inside) assert.equal(t.classWeights[at(r, c)], 1);
      }
    assert.equal(t.centers[at(3, 3)], 1);
    // Clipped at the map's edge: a centre in the corner cell has 4 cells within radius 1.
    const corner = encodeTargets([[{ x: 0, y: 0, w: 4, h: 4, category: 1 }]], shape, { stride: 4, radius: 1 });
    assert.equal(corner.positives, 4);
  });

  it('gives overlapping cells to the smaller object', () => {
    // Both centres fall in cell (3, 3); the large one's region (radius 1) covers the small one's too.
    const large: GroundTruthObject = { x: 2, y: 2, w: 24, h: 24, category: 0 };
    const small: GroundTruthObject = { x: 12, y: 12, w: 4, h: 4, category: 1 };
    for (const order of [
      [large, small],
      [small, large],
    ]) {
      const t = encodeTargets([order], shape, { stride: 4, radius: 1 });
      assert.equal(t.classes[at(3, 3)], 2, 'centre cell: the small object');
      assert.equal(t.classes[at(2, 2)], 2, 'inside both regions: the small object');
      assert.equal(t.centerCount, 1, 'one centre cell');
      assert.equal(t.positives, 9);
      assert.deepEqual(Array.from(t.boxes.subarray(at(3, 3) * 4, at(3, 3) * 4 + 4)), [0.5, 0.5, 0, 0]);
    }
    // Apart, each keeps its own.
    const t = encodeTargets([[large, { ...small, x: 26, y: 26 }]], shape, { stride: 4 });
    assert.equal(t.centerCount, 2);
    assert.equal(t.classes[at(3, 3)], 1);
    assert.equal(t.classes[at(7, 7)], 2);
  });

  it('puts a centre on the far border in the last cell, ignores empty boxes and weighs crowd regions 0', () => {
    const border = encodeTargets([[{ x: 24, y: 28, w: 16, h: 8, category: 0 }]], shape, { stride: 4 });
    const l = at(7, 7);
    assert.equal(border.classes[l], 1);
    assert.deepEqual(Array.from(border.boxes.subarray(l * 4, l * 4 + 2)), [1, 1]);
    const empty = encodeTargets([[{ x: 4, y: 4, w: 0, h: 8, category: 0 }]], shape, { stride: 4 });
    assert.equal(empty.positives + empty.centerCount, 0);
    // Crowd box over pixels 0..12 x 0..12: cells whose centres (2, 6, 10) lie inside it weigh 0, but a positive stays 1.
    const crowd = encodeTargets(
      [
        [
          { x: 0, y: 0, w: 12, h: 12, category: 0, crowd: true },
          { x: 4, y: 4, w: 4, h: 4, category: 1 },
        ],
      ],
      shape,
      { stride: 4, negatives: 'uniform' },
    );
    assert.equal(crowd.positives, 1);
    assert.equal(crowd.classes[at(1, 1)], 2);
    assert.equal(crowd.classWeights[at(1, 1)], 1);
    for (const cell of [at(0, 0), at(2, 2), at(0, 2)]) assert.equal(crowd.classWeights[cell], 0);
    assert.equal(crowd.classWeights[at(3, 3)], 1);
  });

  it('rejects a stride that does not divide the input', () => {
    assert.throws(
      () => encodeTargets([[]], [30, 32, 3], { stride: 4 }),
      /stride 4 must be a positive integer dividing the input 30x32/,
    );
    assert.throws(() => encodeTargets([[]], shape, { stride: 4, radius: -1 }), /radius must be an integer >= 0/);
  });
});
