/**
 * Tiny generated detection scenes for the detector tests: noise with one to
 * three filled shapes (category 0 square, 1 disc, 2 triangle) of random
 * bright colours, so only the shape tells the category. Seeded.
 */
import { mulberry32 } from '../../contracts/seeded-hash';
import type { Box, GroundTruthObject } from '../../domain/detection/types';

export interface Scenes {
  count: number;
  shape: [number, number, number];
  images: Float32Array;
  objects: GroundTruthObject[][];
}

export function iou(a: Box, b: Box): number {
  const w = Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h;
  return inter / (a.w * a.h + b.w * b.h - inter);
}

/** Whether pixel centre (px, py) lies in the shape of `category` filling box o. */
function inside(category: number, o: Box, px: number, py: number): boolean {
  const u = (px - o.x) / o.w;
  const v = (py - o.y) / o.h;
  if (u < 0 || u > 1 || v < 0 || v > 1) return false;
  if (category === 0) return true;
  if (category === 1) return (u - 0.5) ** 2 + (v - 0.5) ** 2 <= 0.25;
  // Apex at the top centre, base along the bottom.
  return Math.abs(u - 0.5) <= v / 2;
}

export function makeScenes(count: number, size: number, seed: number, minSide = 8, maxSide = 16): Scenes {
  const rand = mulberry32(seed);
  const shape: [number, number, number] = [size, size, 3];
  const images = new Float32Array(count * size * size * 3);
  const objects: GroundTruthObject[][] = [];
  for (let i = 0; i < count; i++) {
    const base = i * size * size * 3;
    for (let p = 0; p < size * size * 3; p++) images[base + p] = rand() * 0.35;
    const wanted = 1 + Math.floor(rand() * 3);
    const list: GroundTruthObject[] = [];
    for (let attempt = 0; attempt < 50 && list.length < wanted; attempt++) {
      const side = minSide + Math.floor(rand() * (maxSide - minSide + 1));
      const aspect = 0.8 + rand() * 0.4;
      const w = side;
      const h = Math.max(minSide, Math.min(maxSide, Math.round(side * aspect)));
      const o = { x: Math.floor(rand() * (size - w)), y: Math.floor(rand() * (size - h)), w, h };
      if (list.some((other) => iou(other, o) > 0 || Math.abs(other.x - o.x) + Math.abs(other.y - o.y) < 8)) continue;
      list.push({ ...o, category: Math.floor(rand() * 3) });
    }
    for (const o of list) {
      const colour = [0.6 + rand() * 0.4, 0.6 + rand() * 0.4, 0.6 + rand() * 0.4];
      for (let y = o.y; y < o.y + o.h; y++) {
        for (let x = o.x; x < o.x + o.w; x++) {
          if (!inside(o.category, o, x + 0.5, y + 0.5)) continue;
          for (let k = 0; k < 3; k++) images[base + (y * size + x) * 3 + k] = colour[k];
        }
      }
    }
    objects.push(list);
  }
  return { count, shape, images, objects };
}
