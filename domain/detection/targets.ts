/**
 * Training targets of the detector (domain/ml/detector-model.ts) for a batch
 * of images' objects, on its map of cells (stride input pixels each). Pure.
 *
 * - Class: the cell holding an object's centre, and the cells within
 *   `radius` of it (Chebyshev distance), get the object's category + 1; the
 *   rest are background (0). Where objects overlap, the smaller one (by box
 *   area) wins.
 * - Class weight per cell: 1 at positives; background cells near an
 *   object's centre count less, (1 - g)^4 with g a Gaussian of the distance
 *   from the centre in cells (CenterNet's penalty reduction), so the cell next
 *   to a centre that lies near a cell border is not punished for agreeing;
 *   cells whose centre lies inside a crowd box count 0.
 * - Box, at centre cells only: dx, dy (the centre's position in its cell, in
 *   [0, 1)), log(w / stride), log(h / stride); `centers` marks those cells.
 */
import type { GroundTruthObject } from './types';

export interface TargetOptions {
  /** Input pixels per map cell. */
  stride: number;
  /** Cells around the centre cell that are positives too (default 0: the centre cell only). */
  radius?: number;
  /** Penalty reduction of background cells near centres (default 'gaussian'). */
  negatives?: 'gaussian' | 'uniform';
}

export interface DetectionTargets {
  count: number;
  mapHeight: number;
  mapWidth: number;
  /** [image][location] (row-major cells): 0 background, k + 1 category k. */
  classes: Int32Array;
  /** [image][location]: the weight of each location's class loss. */
  classWeights: Float32Array;
  /** [image][location][4]: dx, dy, log(w / stride), log(h / stride) at centre cells, else 0. */
  boxes: Float32Array;
  /** [image][location]: 1 at centre cells, else 0. */
  centers: Float32Array;
  /** Locations with a category (class positives). */
  positives: number;
  /** Centre cells (box positives). */
  centerCount: number;
}

/** Width of the Gaussian that lowers background weights near a centre, in cells (CenterNet's diameter / 6). */
function sigma(object: GroundTruthObject, stride: number): number {
  return Math.max(0.5, Math.min(object.w, object.h) / stride / 6);
}

/** `shape` is the input [height, width, channels]; both sides must be multiples of the stride. */
export function encodeTargets(
  objects: readonly (readonly GroundTruthObject[])[],
  shape: readonly [number, number, number],
  options: TargetOptions,
): DetectionTargets {
  const { stride } = options;
  const radius = options.radius ?? 0;
  const [h, w] = shape;
  if (!Number.isInteger(stride) || stride < 1 || h % stride !== 0 || w % stride !== 0) {
    throw new Error(`targets: stride ${stride} must be a positive integer dividing the input ${h}x${w}`);
  }
  if (!Number.isInteger(radius) || radius < 0)
    throw new Error(`targets: radius must be an integer >= 0 (got ${radius})`);
  const mapHeight = h / stride;
  const mapWidth = w / stride;
  const locations = mapHeight * mapWidth;
  const count = objects.length;
  const classes = new Int32Array(count * locations);
  const classWeights = new Float32Array(count * locations).fill(1);
  const boxes = new Float32Array(count * locations * 4);
  const centers = new Float32Array(count * locations);
  // Area of the object owning a location's class / centre, so the smaller one wins.
  const classArea = new Float64Array(locations);
  const centerArea = new Float64Array(locations);
  let positives = 0;
  let centerCount = 0;
  for (let image = 0; image < count; image++) {
    const base = image * locations;
    classArea.fill(Infinity);
    centerArea.fill(Infinity);
    const valid = objects[image].filter((o) => o.w > 0 && o.h > 0);
    for (const o of valid) {
      if (!o.crowd) continue;
      for (let row = 0; row < mapHeight; row++) {
        const y = (row + 0.5) * stride;
        if (y < o.y || y > o.y + o.h) continue;
        for (let col = 0; col < mapWidth; col++) {
          const x = (col + 0.5) * stride;
          if (x >= o.x && x <= o.x + o.w) classWeights[base + row * mapWidth + col] = 0;
        }
      }
    }
    for (const o of valid) {
      if (o.crowd) continue;
      const area = o.w * o.h;
      // Centre in cell units; a centre on the far border belongs to the last cell.
      const cx = (o.x + o.w / 2) / stride;
      const cy = (o.y + o.h / 2) / stride;
      if (cx < 0 || cy < 0 || cx > mapWidth || cy > mapHeight) continue;
      const col = Math.min(mapWidth - 1, Math.floor(cx));
      const row = Math.min(mapHeight - 1, Math.floor(cy));
      const center = base + row * mapWidth + col;
      if (area < centerArea[center - base]) {
        if (centerArea[center - base] === Infinity) centerCount++;
        centerArea[center - base] = area;
        centers[center] = 1;
        boxes.set([cx - col, cy - row, Math.log(o.w / stride), Math.log(o.h / stride)], center * 4);
      }
      const s = sigma(o, stride);
      for (let r = 0; r < mapHeight; r++) {
        for (let c = 0; c < mapWidth; c++) {
          const l = r * mapWidth + c;
          if (Math.max(Math.abs(r - row), Math.abs(c - col)) <= radius) {
            if (area < classArea[l]) {
              if (classArea[l] === Infinity) positives++;
              classArea[l] = area;
              classes[base + l] = o.category + 1;
              classWeights[base + l] = 1;
            }
          } else if (options.negatives !== 'uniform' && classes[base + l] === 0) {
            const d2 = (c + 0.5 - cx) ** 2 + (r + 0.5 - cy) ** 2;
            const g = Math.exp(-d2 / (2 * s * s));
            classWeights[base + l] = Math.min(classWeights[base + l], (1 - g) ** 4);
          }
        }
      }
    }
  }
  return { count, mapHeight, mapWidth, classes, classWeights, boxes, centers, positives, centerCount };
}
