/**
 * `winnow export ID --gallery DIR`: each scored round's most and least
 * uncertain candidates as PNG files, with gallery.json naming every file's
 * sample, label and score. The same picks as the report's gallery
 * (collect-chosen.ts); classification searches whose training set opens here.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { isDetectionSpec } from '../../contracts/detection-data-spec';
import type { SearchConfig } from '../../contracts/config';
import { openDataset } from '../../domain/data';
import type { ArtifactStore } from '../../domain/storage/store';
import { collectChosenSamples, type GalleryTile } from './collect-chosen';

export interface GalleryFile {
  round: number;
  side: 'most' | 'least';
  rank: number;
  file: string;
  index: number;
  label: string;
  score: number;
}

export async function writeGallery(input: {
  store: ArtifactStore;
  searchId: string;
  config: SearchConfig;
  evaluations: readonly { size: number; subsetUri: string }[];
  rounds: readonly number[];
  dir: string;
  perSide?: number;
}): Promise<GalleryFile[]> {
  const spec = input.config.dataset;
  if (isDetectionSpec(spec))
    throw new Error('the gallery is for classification searches (a detection report draws boxes instead)');
  if (input.rounds.length === 0) throw new Error('no round has been scored yet, so there is no gallery');
  const dataset = await openDataset(spec);
  const chosen = await collectChosenSamples({ ...input, dataset, bins: 1 });
  const files: GalleryFile[] = [];
  const write = async (round: number, side: GalleryFile['side'], tiles: GalleryTile[]) => {
    for (const [rank, tile] of tiles.entries()) {
      const file = path.join(`round-${round}`, `${side}-${String(rank + 1).padStart(2, '0')}-sample-${tile.index}.png`);
      await mkdir(path.join(input.dir, path.dirname(file)), { recursive: true });
      await writeFile(
        path.join(input.dir, file),
        Buffer.from(tile.dataUri.slice(tile.dataUri.indexOf(',') + 1), 'base64'),
      );
      files.push({ round, side, rank: rank + 1, file, index: tile.index, label: tile.label, score: tile.score });
    }
  };
  for (const r of chosen.rounds) {
    if (r.problem) throw new Error(r.problem);
    await write(r.round, 'most', r.most);
    await write(r.round, 'least', r.least);
  }
  await writeFile(
    path.join(input.dir, 'gallery.json'),
    `${JSON.stringify({ searchId: input.searchId, files }, null, 1)}\n`,
  );
  return files;
}
