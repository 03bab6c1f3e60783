/**
 * PNG/JPEG decoding and fitting to a fixed sample shape. Pure (bytes in,
 * bytes out). Fitting scales the image so it covers the target, then crops
 * the centre; letterboxing (for detection, where boxes must keep their
 * place) scales it to fit inside and pads the bottom and right with 0. Both
 * sample bilinearly (no anti-aliasing: large downscales alias; pre-shrink
 * such images if that matters). Alpha is ignored.
 */
import { decode as decodeJpeg } from 'jpeg-js';
import { PNG } from 'pngjs';

export interface RgbaImage {
  width: number;
  height: number;
  /** width x height x 4 bytes. */
  rgba: Uint8Array;
}

export type ImageFormat = 'png' | 'jpeg';

export function sniffImageFormat(bytes: Uint8Array): ImageFormat | undefined {
  if (bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47)
    return 'png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  return undefined;
}

/** Decodes by content (not file name). Throws a plain Error saying why it could not. */
export function decodeImage(bytes: Uint8Array): RgbaImage {
  const format = sniffImageFormat(bytes);
  if (format === 'png') {
    const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    return { width: png.width, height: png.height, rgba: png.data };
  }
  if (format === 'jpeg') {
    const image = decodeJpeg(bytes, {
      useTArray: true,
      formatAsRGBA: true,
      maxResolutionInMP: 200,
      maxMemoryUsageInMB: 2048,
    });
    return { width: image.width, height: image.height, rgba: image.data };
  }
  throw new Error('neither PNG nor JPEG (unrecognised leading bytes)');
}

/**
 * Writes `image` scaled-to-cover and centre-cropped to height x width x
 * channels (1 = luma, 3 = RGB) into `out` at `offset`.
 */
export function fitImage(
  image: RgbaImage,
  height: number,
  width: number,
  channels: 1 | 3,
  out: Uint8Array,
  offset = 0,
): void {
  if (copiedAsIs(image, height, width, channels, out, offset)) return;
  const { width: sw, height: sh } = image;
  const scale = Math.max(height / sh, width / sw);
  const region = { rows: height, cols: width, stride: width, scale };
  resample(
    image,
    { ...region, cropX: (sw * scale - width) / 2, cropY: (sh * scale - height) / 2 },
    channels,
    out,
    offset,
  );
}

/** The factor letterboxImage scales a sourceWidth x sourceHeight image by: the largest that fits it inside the target. */
export function letterboxScale(sourceWidth: number, sourceHeight: number, height: number, width: number): number {
  return Math.min(height / sourceHeight, width / sourceWidth);
}

/**
 * Writes `image` scaled by letterboxScale (aspect kept) into the top-left of
 * a height x width x channels target at `offset`, the rest of it 0. An image
 * already of the target size is copied as is. Returns the scale, by which the
 * image's boxes scale too.
 */
export function letterboxImage(
  image: RgbaImage,
  height: number,
  width: number,
  channels: 1 | 3,
  out: Uint8Array,
  offset = 0,
): number {
  if (copiedAsIs(image, height, width, channels, out, offset)) return 1;
  const { width: sw, height: sh } = image;
  const scale = letterboxScale(sw, sh, height, width);
  const rows = Math.min(height, Math.max(1, Math.round(sh * scale)));
  const cols = Math.min(width, Math.max(1, Math.round(sw * scale)));
  out.fill(0, offset, offset + height * width * channels);
  resample(image, { rows, cols, stride: width, scale, cropX: 0, cropY: 0 }, channels, out, offset);
  return scale;
}

/** Which target pixels resample fills: rows x cols of a target `stride` pixels wide, source pixel = (target + crop) / scale. */
interface SampleRegion {
  rows: number;
  cols: number;
  stride: number;
  scale: number;
  cropX: number;
  cropY: number;
}

/** Bilinear sampling of `image` into a region of the target (pixel centres aligned, edges clamped). */
function resample(image: RgbaImage, region: SampleRegion, channels: 1 | 3, out: Uint8Array, offset: number): void {
  const { width: sw, height: sh, rgba } = image;
  const { rows, cols, stride, scale, cropX, cropY } = region;
  const sample = new Float64Array(3);
  for (let y = 0; y < rows; y++) {
    const v = Math.min(Math.max((y + 0.5 + cropY) / scale - 0.5, 0), sh - 1);
    const y0 = Math.floor(v);
    const y1 = Math.min(y0 + 1, sh - 1);
    const fy = v - y0;
    for (let x = 0; x < cols; x++) {
      const u = Math.min(Math.max((x + 0.5 + cropX) / scale - 0.5, 0), sw - 1);
      const x0 = Math.floor(u);
      const x1 = Math.min(x0 + 1, sw - 1);
      const fx = u - x0;
      const p00 = (y0 * sw + x0) * 4;
      const p01 = (y0 * sw + x1) * 4;
      const p10 = (y1 * sw + x0) * 4;
      const p11 = (y1 * sw + x1) * 4;
      for (let c = 0; c < 3; c++) {
        const top = rgba[p00 + c] * (1 - fx) + rgba[p01 + c] * fx;
        const bottom = rgba[p10 + c] * (1 - fx) + rgba[p11 + c] * fx;
        sample[c] = top * (1 - fy) + bottom * fy;
      }
      const at = offset + (y * stride + x) * channels;
      if (channels === 3) {
        out[at] = Math.round(sample[0]);
        out[at + 1] = Math.round(sample[1]);
        out[at + 2] = Math.round(sample[2]);
      } else {
        out[at] = Math.round(0.299 * sample[0] + 0.587 * sample[1] + 0.114 * sample[2]);
      }
    }
  }
}

/** Refuses an empty image; copies one already of the target size (and says so), leaving others to be sampled. */
function copiedAsIs(
  image: RgbaImage,
  height: number,
  width: number,
  channels: 1 | 3,
  out: Uint8Array,
  offset: number,
): boolean {
  if (image.width === 0 || image.height === 0) throw new Error('image has no pixels');
  if (image.width !== width || image.height !== height) return false;
  copyPixels(image.rgba, width * height, channels, out, offset);
  return true;
}

/** The common case of fitImage, an image already of the target size: the same bytes the sampler gives, without sampling. */
function copyPixels(rgba: Uint8Array, pixels: number, channels: 1 | 3, out: Uint8Array, offset: number): void {
  for (let p = 0, at = offset; p < pixels; p++) {
    const r = rgba[p * 4];
    const g = rgba[p * 4 + 1];
    const b = rgba[p * 4 + 2];
    if (channels === 3) {
      out[at++] = r;
      out[at++] = g;
      out[at++] = b;
    } else {
      out[at++] = Math.round(0.299 * r + 0.587 * g + 0.114 * b);
    }
  }
}
