import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { iou } from '../../domain/detection/boxes';
import { nonMaxSuppression } from '../../domain/detection/nms';
import type { Detection } from '../../domain/detection/types';

type Typed = Error & { failureType?: string };

const det = (x: number, y: number, w: number, h: number, score: number, category = 0): Detection => ({
  x,
  y,
  w,
  h,
  score,
  category,
});

/** Reference: the textbook quadratic greedy NMS over a stably sorted copy. */
function reference(detections: Detection[], threshold: number, max: number): Detection[] {
  const sorted = detections.map((d, i) => ({ d, i })).sort((a, b) => b.d.score - a.d.score || a.i - b.i);
  const kept: Detection[] = [];
  for (const { d } of sorted) {
    if (kept.length === max) break;
    if (!kept.some((k) => k.category === d.category && iou(k, d) > threshold)) kept.push(d);
  }
  return kept;
}

describe('non-maximum suppression', () => {
  it('drops a lower-scored box overlapping a kept one of its category', () => {
    const a = det(0, 0, 10, 10, 0.9);
    const b = det(1, 0, 10, 10, 0.8); // IoU 90/110 with a
    const c = det(50, 50, 10, 10, 0.7);
    assert.deepEqual(nonMaxSuppression([c, b, a], { iouThreshold: 0.5 }), [a, c]);
    assert.deepEqual(nonMaxSuppression([c, b, a], { iouThreshold: 0.85 }), [a, b, c]);
  });

  it('never suppresses across categories', () => {
    const a = det(0, 0, 10, 10, 0.9, 0);
    const b = det(0, 0, 10, 10, 0.8, 1);
    assert.deepEqual(nonMaxSuppression([a, b], { iouThreshold: 0.1 }), [a, b]);
  });

  it('keeps an overlap equal to the threshold (suppression is IoU > threshold)', () => {
    const a = det(0, 0, 10, 10, 0.9);
    const b = det(0, 0, 10, 5, 0.8); // IoU exactly .5
    assert.equal(nonMaxSuppression([a, b], { iouThreshold: 0.5 }).length, 2);
  });

  it('breaks score ties by input order, so identical boxes keep the first', () => {
    const first = det(0, 0, 10, 10, 0.5);
    const second = det(0, 0, 10, 10, 0.5);
    const kept = nonMaxSuppression([first, second], { iouThreshold: 0.5 });
    assert.equal(kept.length, 1);
    assert.equal(kept[0], first);
  });

  it('stops at maxDetections and drops scores under scoreThreshold', () => {
    const boxes = [0, 1, 2, 3, 4].map((i) => det(20 * i, 0, 10, 10, 0.1 + 0.2 * i));
    const kept = nonMaxSuppression(boxes, { iouThreshold: 0.5, maxDetections: 2 });
    assert.deepEqual(kept, [boxes[4], boxes[3]]);
    assert.deepEqual(nonMaxSuppression(boxes, { iouThreshold: 0.5, scoreThreshold: 0.5 }), [
      boxes[4],
      boxes[3],
      boxes[2],
    ]);
    assert.deepEqual(nonMaxSuppression(boxes, { iouThreshold: 0.5, maxDetections: 0 }), []);
  });

  it('matches the quadratic reference on random crowded scenes', () => {
    const detectionArb = fc.record({
      x: fc.integer({ min: 0, max: 40 }),
      y: fc.integer({ min: 0, max: 40 }),
      w: fc.integer({ min: 1, max: 20 }),
      h: fc.integer({ min: 1, max: 20 }),
      score: fc.constantFrom(0.1, 0.3, 0.5, 0.5, 0.9),
      category: fc.integer({ min: 0, max: 2 }),
    });
    fc.assert(
      fc.property(
        fc.array(detectionArb, { maxLength: 60 }),
        fc.constantFrom(0, 0.3, 0.5, 0.7),
        fc.integer({ min: 1, max: 70 }),
        (detections, threshold, max) => {
          const kept = nonMaxSuppression(detections, { iouThreshold: threshold, maxDetections: max });
          assert.deepEqual(kept, reference(detections, threshold, max));
        },
      ),
      { seed: 19, numRuns: 300 },
    );
  });

  it('rejects bad options and NaN scores', () => {
    const invalid = (fn: () => unknown, type: string) => assert.throws(fn, (e: Typed) => e.failureType === type);
    invalid(() => nonMaxSuppression([], { iouThreshold: 1.5 }), 'InvalidConfig');
    invalid(() => nonMaxSuppression([], { iouThreshold: 0.5, maxDetections: 2.5 }), 'InvalidConfig');
    invalid(() => nonMaxSuppression([det(0, 0, 1, 1, NaN)], { iouThreshold: 0.5 }), 'InvalidData');
  });
});
