/**
 * Detections from the detector's maps (domain/ml/detector-predict.ts): per
 * category, the peaks of its probability (a cell at least as likely as its
 * eight neighbours; of equal neighbours the first in row-major order wins),
 * score = that probability, box from the peak cell's offset and size, clipped
 * to the image. Per image the top-K by score above a threshold. No NMS here
 * (peaks already keep one detection per object). Pure.
 */
import type { Detection } from './types';

/** A block of images' maps, all row-major. */
export interface DetectorMaps {
  count: number;
  mapHeight: number;
  mapWidth: number;
  /** Input pixels per cell. */
  stride: number;
  /** numClasses + 1 (index 0 = background). */
  classes: number;
  /** [image][location][class] softmax probabilities: the rows the ensemble accumulator folds. */
  classMaps: Float32Array;
  /** [image][location][4]: dx, dy in [0, 1) of the cell, log(w / stride), log(h / stride). */
  boxMaps: Float32Array;
}

export interface DecodeOptions {
  /** Input image size in pixels (boxes are clipped to it); default the map size times the stride. */
  imageHeight?: number;
  imageWidth?: number;
  /** Peaks below this probability are dropped (default 0.05). */
  scoreThreshold?: number;
  /** Detections kept per image, highest scores first (default 100). */
  topK?: number;
}

/** One list of detections per image, highest score first (ties: category, then location). */
export function decodeDetections(maps: DetectorMaps, options: DecodeOptions = {}): Detection[][] {
  const { count, mapHeight, mapWidth, stride, classes, classMaps, boxMaps } = maps;
  const locations = mapHeight * mapWidth;
  if (classMaps.length !== count * locations * classes || boxMaps.length !== count * locations * 4) {
    throw new Error(
      `decode: ${count} images x ${mapHeight}x${mapWidth} cells need ${count * locations * classes} class and ${count * locations * 4} box values; got ${classMaps.length} and ${boxMaps.length}`,
    );
  }
  const imageHeight = options.imageHeight ?? mapHeight * stride;
  const imageWidth = options.imageWidth ?? mapWidth * stride;
  const threshold = options.scoreThreshold ?? 0.05;
  const topK = options.topK ?? 100;
  const out: Detection[][] = [];
  for (let image = 0; image < count; image++) {
    const base = image * locations;
    const prob = (l: number, k: number): number => classMaps[(base + l) * classes + k];
    const found: (Detection & { at: number })[] = [];
    for (let k = 1; k < classes; k++) {
      for (let row = 0; row < mapHeight; row++) {
        for (let col = 0; col < mapWidth; col++) {
          const l = row * mapWidth + col;
          const p = prob(l, k);
          if (!(p >= threshold) || !isPeak(prob, k, p, row, col, mapHeight, mapWidth)) continue;
          const b = (base + l) * 4;
          const cx = (col + boxMaps[b]) * stride;
          const cy = (row + boxMaps[b + 1]) * stride;
          const w = Math.exp(boxMaps[b + 2]) * stride;
          const h = Math.exp(boxMaps[b + 3]) * stride;
          const x0 = Math.max(0, cx - w / 2);
          const y0 = Math.max(0, cy - h / 2);
          const x1 = Math.min(imageWidth, cx + w / 2);
          const y1 = Math.min(imageHeight, cy + h / 2);
          if (!(x1 > x0 && y1 > y0)) continue;
          found.push({ x: x0, y: y0, w: x1 - x0, h: y1 - y0, category: k - 1, score: p, at: l });
        }
      }
    }
    found.sort((a, b) => b.score - a.score || a.category - b.category || a.at - b.at);
    out.push(found.slice(0, topK).map(({ x, y, w, h, category, score }) => ({ x, y, w, h, category, score })));
  }
  return out;
}

/** Whether p at (row, col) is a 3x3 local maximum: > the neighbours before it in row-major order, >= those after. */
function isPeak(
  prob: (l: number, k: number) => number,
  k: number,
  p: number,
  row: number,
  col: number,
  mapHeight: number,
  mapWidth: number,
): boolean {
  for (let dr = -1; dr <= 1; dr++) {
    const r = row + dr;
    if (r < 0 || r >= mapHeight) continue;
    for (let dc = -1; dc <= 1; dc++) {
      const c = col + dc;
      if ((dr === 0 && dc === 0) || c < 0 || c >= mapWidth) continue;
      const q = prob(r * mapWidth + c, k);
      const before = dr < 0 || (dr === 0 && dc < 0);
      if (before ? q >= p : q > p) return false;
    }
  }
  return true;
}
