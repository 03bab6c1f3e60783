/**
 * Reads the lineage of every evaluated subset from the store: its manifest,
 * then its parent's, back to round 0, plus the size of the ensemble that
 * scored it. The I/O edge of the report's lineage table.
 */
import { z } from 'zod';
import { parseSubsetManifest, type SubsetLineage } from '../../domain/acquisition/subset-manifest';
import type { ArtifactStore } from '../../domain/storage/store';
import { messageOf } from './collect-score-histograms';

export interface LineageEntry {
  uri: string;
  /** Target size when this subset was evaluated; absent for ancestors. */
  evaluated?: number;
  count?: number;
  poolSize?: number;
  indicesSha256?: string;
  lineage?: SubsetLineage;
  /** Ensemble models (members x checkpoints) behind the acquisition, from the ensemble manifest. */
  checkpoints?: number;
  problem?: string;
}

const ensembleManifestSchema = z.object({ checkpoints: z.array(z.string()) });

/** Manifests read at most, so a corrupt parent cycle cannot loop. */
const MAX_ENTRIES = 10_000;

export async function collectLineage(
  store: ArtifactStore,
  evaluated: readonly { size: number; subsetUri: string }[],
): Promise<LineageEntry[]> {
  const entries = new Map<string, LineageEntry>();
  const ensembleSizes = new Map<string, Promise<number | string>>();
  const queue: string[] = [];
  for (const e of evaluated) {
    if (!entries.has(e.subsetUri)) queue.push(e.subsetUri);
    entries.set(e.subsetUri, { ...(entries.get(e.subsetUri) ?? { uri: e.subsetUri }), evaluated: e.size });
  }
  while (queue.length > 0 && entries.size <= MAX_ENTRIES) {
    const uri = queue.shift()!;
    const entry = entries.get(uri)!;
    try {
      const manifest = parseSubsetManifest((await store.get(uri)).toString('utf8'), uri);
      Object.assign(entry, {
        count: manifest.count,
        poolSize: manifest.poolSize,
        indicesSha256: manifest.indicesSha256,
        lineage: { ...manifest.lineage },
      });
    } catch (err) {
      entry.problem = messageOf(err);
      continue;
    }
    const { parentManifestUri, ensembleManifestUri } = entry.lineage!;
    if (parentManifestUri && !entries.has(parentManifestUri)) {
      entries.set(parentManifestUri, { uri: parentManifestUri });
      queue.push(parentManifestUri);
    }
    if (ensembleManifestUri) {
      if (!ensembleSizes.has(ensembleManifestUri))
        ensembleSizes.set(ensembleManifestUri, readEnsembleSize(store, ensembleManifestUri));
      const size = await ensembleSizes.get(ensembleManifestUri)!;
      if (typeof size === 'number') entry.checkpoints = size;
      else entry.problem = `ensemble manifest ${ensembleManifestUri}: ${size}`;
    }
  }
  return [...entries.values()].sort(
    (a, b) =>
      (a.lineage?.round ?? Infinity) - (b.lineage?.round ?? Infinity) ||
      (a.count ?? 0) - (b.count ?? 0) ||
      a.uri.localeCompare(b.uri),
  );
}

/** The ensemble's model count, or why it could not be read. */
async function readEnsembleSize(store: ArtifactStore, uri: string): Promise<number | string> {
  try {
    const parsed = ensembleManifestSchema.safeParse(JSON.parse((await store.get(uri)).toString('utf8')));
    return parsed.success
      ? parsed.data.checkpoints.length
      : `not an ensemble manifest (${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')})`;
  } catch (err) {
    return messageOf(err);
  }
}
