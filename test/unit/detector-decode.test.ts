/** Decoding detections from hand-made detector maps (domain/detection/decode.ts). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeDetections, type DetectorMaps } from '../../domain/detection/decode';

const mapSize = 6;
const classes = 3; // background + 2 categories
const stride = 4;

/** Maps of `count` images, all background (probability 0.96 background, 0.02 each category). */
function backgroundMaps(count: number): DetectorMaps {
  const locations = mapSize * mapSize;
  const classMaps = new Float32Array(count * locations * classes);
  for (let i = 0; i < count * locations; i++) classMaps.set([0.96, 0.02, 0.02], i * classes);
  return {
    count,
    mapHeight: mapSize,
    mapWidth: mapSize,
    stride,
    classes,
    classMaps,
    boxMaps: new Float32Array(count * locations * 4),
  };
}

/** Sets image i's cell (row, col): probability p for `category` (the rest to background), and its box values. */
function put(
  maps: DetectorMaps,
  i: number,
  row: number,
  col: number,
  category: number,
  p: number,
  box: number[],
): void {
  const l = i * mapSize * mapSize + row * mapSize + col;
  const probs = [1 - p, 0, 0];
  probs[category + 1] = p;
  maps.classMaps.set(probs, l * classes);
  maps.boxMaps.set(box, l * 4);
}

describe('decodeDetections', () => {
  it('decodes peaks to boxes in input pixels, best first, per image', () => {
    const maps = backgroundMaps(2);
    // Image 0: category 1 at cell (2, 3), centre ((3 + 0.25) * 4, (2 + 0.5) * 4) = (13, 10), size 8 x 12.
    put(maps, 0, 2, 3, 1, 0.8, [0.25, 0.5, Math.log(2), Math.log(3)]);
    // A weaker neighbour of the same category is no peak; of the other category it is one.
    put(maps, 0, 2, 4, 1, 0.6, [0, 0, 0, 0]);
    put(maps, 0, 4, 0, 0, 0.3, [0.5, 0.5, 0, 0]);
    // Image 1: one detection, category 0 at cell (5, 5), its box clipped to the 24x24 image.
    put(maps, 1, 5, 5, 0, 0.7, [0.75, 0.75, Math.log(4), Math.log(2)]);
    const [first, second] = decodeDetections(maps);
    assert.equal(first.length, 2);
    const [a, b] = first;
    assert.equal(a.category, 1);
    assert.equal(a.score, Math.fround(0.8));
    for (const [key, want] of Object.entries({ x: 9, y: 4, w: 8, h: 12 }))
      assert.ok(Math.abs(a[key as 'x'] - want) < 1e-5, `${key}: ${a[key as 'x']} vs ${want}`);
    assert.deepEqual(
      { ...b, score: Math.fround(b.score) },
      { x: 0, y: 16, w: 4, h: 4, category: 0, score: Math.fround(0.3) },
    );
    // Centre (23, 23), 16 x 8 -> x 15..31, y 19..27, clipped to 15..24, 19..24.
    assert.equal(second.length, 1);
    assert.deepEqual(Object.fromEntries(Object.entries(second[0]).map(([k, v]) => [k, Math.round(v * 1e4) / 1e4])), {
      x: 15,
      y: 19,
      w: 9,
      h: 5,
      category: 0,
      score: 0.7,
    });
  });

  it('drops peaks under the score threshold, keeps the top K, and keeps one of equal neighbours', () => {
    const maps = backgroundMaps(1);
    // The categories' 0.02 everywhere is a plateau: at a threshold of 0.02 its first cell is a peak per
    // category; at the default (0.05), nothing is.
    assert.equal(decodeDetections(maps)[0].length, 0);
    const plateau = decodeDetections(maps, { scoreThreshold: Math.fround(0.02) })[0];
    assert.deepEqual(
      plateau.map((d) => [d.category, d.x, d.y]),
      [
        [0, 0, 0],
        [1, 0, 0],
      ],
    );
    put(maps, 0, 1, 1, 0, 0.5, [0.5, 0.5, 0, 0]);
    put(maps, 0, 1, 2, 0, 0.5, [0.5, 0.5, 0, 0]);
    put(maps, 0, 4, 4, 1, 0.9, [0.5, 0.5, 0, 0]);
    put(maps, 0, 4, 1, 1, 0.2, [0.5, 0.5, 0, 0]);
    const all = decodeDetections(maps, { scoreThreshold: 0.1 })[0];
    assert.deepEqual(
      all.map((d) => [d.category, d.x, d.y, Math.fround(d.score)]),
      [
        [1, 16, 16, Math.fround(0.9)],
        [0, 4, 4, Math.fround(0.5)],
        [1, 4, 16, Math.fround(0.2)],
      ],
      'the first of two equal neighbours (1, 1) and (1, 2) is the peak',
    );
    assert.deepEqual(
      decodeDetections(maps, { scoreThreshold: 0.1, topK: 2 })[0].map((d) => Math.fround(d.score)),
      [Math.fround(0.9), Math.fround(0.5)],
    );
  });

  it('rejects maps whose sizes disagree', () => {
    const maps = backgroundMaps(2);
    assert.throws(
      () => decodeDetections({ ...maps, count: 3 }),
      /3 images x 6x6 cells need 324 class and 432 box values; got 216 and 288/,
    );
  });
});
