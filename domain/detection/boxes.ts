/**
 * Box arithmetic on COCO [x, y, w, h] boxes. Pure.
 *
 * iou and crowdIou compute exactly what pycocotools' bbIou computes (the
 * same operations in the same order, so the same doubles): the overlap's
 * width is min(right edges) - max(left edges), no overlap when it or the
 * height is <= 0, areas are w * h. coco-map.ts relies on that to match
 * COCOeval bit for bit at the IoU thresholds.
 */
import type { Box } from './types';

/** w * h, as COCO computes a box's area (no clamping: boxes are validated where they come in). */
export function boxArea(box: Box): number {
  return box.w * box.h;
}

/** Area of a ∩ b; 0 when they only touch or do not meet. */
export function intersectionArea(a: Box, b: Box): number {
  const w = Math.min(a.w + a.x, b.w + b.x) - Math.max(a.x, b.x);
  if (w <= 0) return 0;
  const h = Math.min(a.h + a.y, b.h + b.y) - Math.max(a.y, b.y);
  if (h <= 0) return 0;
  return w * h;
}

/** Intersection over union; symmetric; 0 for boxes that do not overlap. */
export function iou(a: Box, b: Box): number {
  const i = intersectionArea(a, b);
  if (i === 0) return 0;
  return i / (a.w * a.h + b.w * b.h - i);
}

/**
 * COCO's overlap of a detection with a crowd region: intersection over the
 * detection's own area, so a small detection inside a large crowd box counts
 * as fully covered.
 */
export function crowdIou(detection: Box, crowd: Box): number {
  const i = intersectionArea(detection, crowd);
  if (i === 0) return 0;
  return i / (detection.w * detection.h);
}

/**
 * The part of `box` inside a width x height image, as a box with the same
 * other fields; a box wholly outside becomes zero-sized at the nearest edge.
 */
export function clipBox<T extends Box>(box: T, width: number, height: number): T {
  const x1 = clamp(box.x, 0, width);
  const y1 = clamp(box.y, 0, height);
  const x2 = clamp(box.x + box.w, 0, width);
  const y2 = clamp(box.y + box.h, 0, height);
  return { ...box, x: x1, y: y1, w: Math.max(0, x2 - x1), h: Math.max(0, y2 - y1) };
}

function clamp(value: number, low: number, high: number): number {
  return value < low ? low : value > high ? high : value;
}
