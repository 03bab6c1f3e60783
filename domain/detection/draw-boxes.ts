/**
 * Box outlines drawn into an image, for reports. Pure: pixels in, new pixels
 * out. Labels are the report's job (SVG/HTML over the image), in the same
 * categoryColor.
 */
import { FailureType, TypedTaskError } from '../../contracts/failures';
import type { Box } from './types';

/** Height x width x channels of an 8-bit image stored row-major, channels last (HWC). */
export interface ImageShape {
  height: number;
  width: number;
  /** 1 (grayscale) or 3 (RGB). */
  channels: number;
}

export interface LabeledBox extends Box {
  category: number;
}

export interface DrawBoxesOptions {
  /** Outline width in pixels, drawn inside the box (default 1). */
  thickness?: number;
}

/**
 * A category's color, [r, g, b] in 0..255: hues a golden angle apart, so
 * neighbouring categories differ clearly; the same for a category every time.
 */
export function categoryColor(category: number): [number, number, number] {
  const hue = (((category * 0.6180339887498949) % 1) + 1) % 1;
  return hsvToRgb(hue, 0.85, 0.95);
}

/**
 * An RGB copy of `pixels` (grayscale is repeated into the three channels)
 * with each box's outline in its category's color, later boxes over earlier
 * ones. A box covers the pixels it overlaps (columns floor(x) to
 * ceil(x + w) - 1, at least one); a box reaching past the image is drawn as
 * its part inside (outlined along the border), one wholly outside not at all.
 */
export function drawBoxes(
  pixels: Uint8Array,
  shape: ImageShape,
  boxes: readonly LabeledBox[],
  options: DrawBoxesOptions = {},
): Uint8Array {
  const { height, width, channels } = shape;
  if (!(channels === 1 || channels === 3) || !Number.isInteger(height) || !Number.isInteger(width)) {
    throw new TypedTaskError(
      FailureType.InvalidData,
      `drawBoxes needs an integer height and width and 1 or 3 channels, got ${height}x${width}x${channels}`,
    );
  }
  if (pixels.length !== height * width * channels) {
    throw new TypedTaskError(
      FailureType.InvalidData,
      `drawBoxes: ${pixels.length} bytes do not make a ${height}x${width}x${channels} image`,
    );
  }
  const thickness = options.thickness ?? 1;
  if (!Number.isInteger(thickness) || thickness < 1) {
    throw new TypedTaskError(
      FailureType.InvalidConfig,
      `drawBoxes thickness must be an integer >= 1, got ${thickness}`,
    );
  }

  const out = new Uint8Array(height * width * 3);
  if (channels === 3) {
    out.set(pixels);
  } else {
    for (let i = 0; i < height * width; i++) out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = pixels[i]!;
  }
  for (const box of boxes) {
    if (![box.x, box.y, box.w, box.h].every(Number.isFinite)) continue;
    const [left, right] = pixelSpan(box.x, box.w);
    const [top, bottom] = pixelSpan(box.y, box.h);
    const x1 = Math.max(left, 0);
    const x2 = Math.min(right, width - 1);
    const y1 = Math.max(top, 0);
    const y2 = Math.min(bottom, height - 1);
    if (x1 > x2 || y1 > y2) continue;
    const color = categoryColor(box.category);
    const paint = (y: number, from: number, to: number) => {
      for (let x = from; x <= to; x++) out.set(color, 3 * (y * width + x));
    };
    for (let y = y1; y <= y2; y++) {
      if (y - y1 < thickness || y2 - y < thickness) {
        paint(y, x1, x2);
      } else {
        paint(y, x1, Math.min(x1 + thickness - 1, x2));
        paint(y, Math.max(x2 - thickness + 1, x1), x2);
      }
    }
  }
  return out;
}

/** First and last pixel index a span [start, start + size] overlaps; one pixel at least. */
function pixelSpan(start: number, size: number): [number, number] {
  const first = Math.floor(start);
  return [first, Math.max(first, Math.ceil(start + size) - 1)];
}

function hsvToRgb(h: number, s: number, v: number): [number, number, number] {
  const channel = (n: number) => {
    const k = (n + h * 6) % 6;
    return Math.round(255 * (v - v * s * Math.max(0, Math.min(k, 4 - k, 1))));
  };
  return [channel(5), channel(3), channel(1)];
}
