/**
 * Standard augmentation for 32x32 colour sets, applied in place to a batch
 * buffer [B, H, W, C]: random crop with zero padding, then a horizontal flip
 * with probability 1/2. Pure and seeded.
 */
import { mulberry32 } from '../../contracts/seeded-hash';

export function cropAndFlip(
  batch: Float32Array,
  count: number,
  shape: readonly [number, number, number],
  padding: number,
  seed: number,
): void {
  const [h, w, c] = shape;
  const rand = mulberry32(seed);
  const sample = h * w * c;
  const scratch = new Float32Array(sample);
  for (let b = 0; b < count; b++) {
    const dy = Math.floor(rand() * (2 * padding + 1)) - padding;
    const dx = Math.floor(rand() * (2 * padding + 1)) - padding;
    const flip = rand() < 0.5;
    const base = b * sample;
    scratch.set(batch.subarray(base, base + sample));
    for (let y = 0; y < h; y++) {
      const sy = y + dy;
      for (let x = 0; x < w; x++) {
        const sx0 = x + dx;
        const sx = flip ? w - 1 - sx0 : sx0;
        const out = base + (y * w + x) * c;
        if (sy < 0 || sy >= h || sx < 0 || sx >= w) {
          for (let k = 0; k < c; k++) batch[out + k] = 0;
        } else {
          const src = (sy * w + sx) * c;
          for (let k = 0; k < c; k++) batch[out + k] = scratch[src + k];
        }
      }
    }
  }
}
