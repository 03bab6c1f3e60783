import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { categoryColor, drawBoxes } from '../../domain/detection/draw-boxes';

type Typed = Error & { failureType?: string };

/** The image as rows of 'o' (outline in `color`), '.' (unchanged) and '?' (anything else). */
function picture(rgb: Uint8Array, width: number, original: (i: number) => number[], color: number[]): string[] {
  const rows: string[] = [];
  for (let y = 0; y < rgb.length / 3 / width; y++) {
    let row = '';
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const pixel = Array.from(rgb.subarray(3 * i, 3 * i + 3));
      row += pixel.join() === color.join() ? 'o' : pixel.join() === original(i).join() ? '.' : '?';
    }
    rows.push(row);
  }
  return rows;
}

describe('drawing boxes for reports', () => {
  it('outlines a box on a grayscale image, in RGB, leaving the rest as it was', () => {
    const [width, height] = [7, 5];
    const gray = Uint8Array.from({ length: width * height }, (_, i) => i * 7);
    const out = drawBoxes(gray, { height, width, channels: 1 }, [{ x: 1, y: 1, w: 4, h: 3, category: 2 }]);
    assert.equal(out.length, width * height * 3);
    assert.deepEqual(
      picture(out, width, (i) => [gray[i]!, gray[i]!, gray[i]!], categoryColor(2)),
      ['.......', '.oooo..', '.o..o..', '.oooo..', '.......'],
    );
  });

  it('covers the pixels a fractional box overlaps, clips at the border, thickness inward', () => {
    const [width, height] = [8, 7];
    const rgb = new Uint8Array(width * height * 3).fill(10);
    // Columns 1.5 to 6.5 overlap pixels 1..6; rows -3 to 5.2 overlap 0..5 once clipped.
    const boxes = [{ x: 1.5, y: -3, w: 5, h: 8.2, category: 0 }];
    const out = drawBoxes(rgb, { height, width, channels: 3 }, boxes, { thickness: 2 });
    assert.deepEqual(
      picture(out, width, () => [10, 10, 10], categoryColor(0)),
      ['.oooooo.', '.oooooo.', '.oo..oo.', '.oo..oo.', '.oooooo.', '.oooooo.', '........'],
    );
    assert.deepEqual(Array.from(rgb.subarray(0, 3)), [10, 10, 10], 'the input is not changed');
    const outside = drawBoxes(rgb, { height, width, channels: 3 }, [{ x: 10, y: 0, w: 3, h: 3, category: 1 }]);
    assert.deepEqual(outside, rgb);
  });

  it('gives categories distinct, stable colors', () => {
    const colors = Array.from({ length: 20 }, (_, k) => categoryColor(k).join());
    assert.equal(new Set(colors).size, 20);
    assert.deepEqual(categoryColor(3), categoryColor(3));
    for (const c of categoryColor(7)) assert.ok(Number.isInteger(c) && c >= 0 && c <= 255);
  });

  it('rejects a buffer that does not fit the shape', () => {
    assert.throws(
      () => drawBoxes(new Uint8Array(10), { height: 2, width: 2, channels: 3 }, []),
      (e: Typed) => e.failureType === 'InvalidData' && /10 bytes/.test(e.message),
    );
  });
});
