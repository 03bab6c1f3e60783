/**
 * Writes small, learnable image folders in the ImageFolder layout (one
 * sub-folder per class, PNG files): class k is a bright bar at a position of its
 * own over seeded noise, so a small CNN tells the classes apart.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PNG } from 'pngjs';
import { mulberry32 } from '../../contracts/seeded-hash';

export interface ImageFolderSpec {
  classes: string[];
  perClass: number;
  /** Square side in pixels. */
  side: number;
  grey?: boolean;
  seed?: number;
}

/** One class's image: a bar in row band k (of `classes`) on noise. */
export function classImage(k: number, classes: number, side: number, grey: boolean, random: () => number): Buffer {
  const png = new PNG({ width: side, height: side });
  const band = Math.floor((k * side) / classes);
  const bandEnd = Math.max(band + 1, Math.floor(((k + 1) * side) / classes));
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const base = y >= band && y < bandEnd ? 200 : 30;
      const v = Math.min(255, Math.round(base + random() * 50));
      const rgb = grey ? [v, v, v] : [v, Math.round(v * 0.8), 255 - v];
      png.data.set([...rgb, 255], (y * side + x) * 4);
    }
  }
  return PNG.sync.write(png, grey ? { colorType: 0 } : {});
}

/** Writes `<root>/<class>/<i>.png` for every class; returns the root. */
export function writeClassFolders(root: string, spec: ImageFolderSpec): string {
  const random = mulberry32(spec.seed ?? 1);
  spec.classes.forEach((name, k) => {
    mkdirSync(path.join(root, name), { recursive: true });
    for (let i = 0; i < spec.perClass; i++) {
      writeFileSync(
        path.join(root, name, `${String(i).padStart(4, '0')}.png`),
        classImage(k, spec.classes.length, spec.side, spec.grey ?? true, random),
      );
    }
  });
  return root;
}
