import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { boxArea, clipBox, crowdIou, intersectionArea, iou } from '../../domain/detection/boxes';

const box = (x: number, y: number, w: number, h: number) => ({ x, y, w, h });

describe('box arithmetic (COCO [x, y, w, h])', () => {
  it('area is w * h', () => {
    assert.equal(boxArea(box(3, 4, 5, 6)), 30);
    assert.equal(boxArea(box(3, 4, 0, 6)), 0);
  });

  it('IoU of identical, disjoint, touching, nested and shifted boxes', () => {
    assert.equal(iou(box(1, 2, 10, 20), box(1, 2, 10, 20)), 1);
    assert.equal(iou(box(0, 0, 10, 10), box(20, 20, 5, 5)), 0);
    assert.equal(iou(box(0, 0, 10, 10), box(10, 0, 10, 10)), 0, 'sharing an edge is no overlap');
    assert.equal(iou(box(0, 0, 10, 10), box(0, 0, 10, 5)), 0.5);
    // Half a box's width apart: intersection 50, union 150.
    assert.equal(iou(box(0, 0, 10, 10), box(5, 0, 10, 10)), 1 / 3);
    assert.equal(iou(box(21, 20, 10, 10), box(20, 20, 10, 10)), 90 / 110);
    assert.equal(iou(box(0, 0, 0, 0), box(0, 0, 0, 0)), 0, 'empty boxes overlap nothing (no 0/0)');
  });

  it('IoU is symmetric and in [0, 1]', () => {
    const boxes = [box(0, 0, 10, 10), box(3.5, 2.25, 7, 9), box(-4, 1, 30, 2), box(9, 9, 1, 1)];
    for (const a of boxes) {
      for (const b of boxes) {
        assert.equal(iou(a, b), iou(b, a));
        assert.ok(iou(a, b) >= 0 && iou(a, b) <= 1);
        assert.equal(intersectionArea(a, b), intersectionArea(b, a));
      }
    }
  });

  it('crowd overlap is intersection over the detection area', () => {
    const crowd = box(0, 0, 100, 100);
    assert.equal(crowdIou(box(10, 10, 20, 20), crowd), 1, 'inside the region');
    assert.equal(crowdIou(box(90, 0, 20, 10), crowd), 0.5, 'half inside');
    assert.equal(crowdIou(box(200, 200, 5, 5), crowd), 0);
    assert.notEqual(crowdIou(box(0, 0, 100, 50), box(0, 0, 100, 100)), iou(box(0, 0, 100, 50), box(0, 0, 100, 100)));
  });

  it('clips to the image, keeping the other fields', () => {
    assert.deepEqual(clipBox({ ...box(-5, 10, 20, 100), category: 3 }, 64, 48), { ...box(0, 10, 15, 38), category: 3 });
    assert.deepEqual(clipBox(box(1, 2, 3, 4), 64, 48), box(1, 2, 3, 4));
    assert.deepEqual(
      clipBox(box(70, 60, 10, 10), 64, 48),
      box(64, 48, 0, 0),
      'wholly outside: zero-sized at the corner',
    );
  });
});
