/**
 * The round's ensemble accumulators in the artifact store, so a finished
 * round can be acquired again with another function without scoring again:
 * scoreShard keeps each shard's accumulator (keepAccumulator), and acquire
 * records where they are and how it selected in the round's accumulator
 * manifest (writeAccumulatorManifest), which reacquire reads back.
 */
import { z } from 'zod';
import { acquisitionFunctions } from '../../contracts/config';
import { FailureType, TypedTaskError } from '../../contracts/failures';
import { serialiseAccumulator } from './accumulator-codec';
import type { EnsembleAccumulator } from './ensemble-accumulator';
import { parseJsonArtifact } from './binary-format';
import type { ArtifactStore } from '../storage/store';
import { MissingArtifact } from '../storage/store-errors';

export interface KeptAccumulator {
  accumulatorUri: string;
  accumulatorSha256: string;
}

/** Writes one shard's accumulator (a retried scoreShard rewrites the same key). */
export async function keepAccumulator(
  store: ArtifactStore,
  key: string,
  accumulator: EnsembleAccumulator,
): Promise<KeptAccumulator> {
  const stored = await store.put(key, serialiseAccumulator(accumulator));
  return { accumulatorUri: stored.uri, accumulatorSha256: stored.sha256 };
}

export const ACCUMULATOR_MANIFEST_KIND = 'winnow.accumulators';
export const ACCUMULATOR_MANIFEST_VERSION = 1;

export const accumulatorManifestSchema = z.strictObject({
  kind: z.literal(ACCUMULATOR_MANIFEST_KIND),
  version: z.literal(ACCUMULATOR_MANIFEST_VERSION),
  /** The round whose ensemble scored the pool. */
  round: z.number().int().min(0),
  /** The function the round acquired with. */
  function: z.enum(acquisitionFunctions),
  /** Models folded into every accumulator (members x checkpoints). */
  models: z.number().int().min(1),
  poolSize: z
    .number()
    .int()
    .min(1)
    .max(2 ** 32),
  datasetFingerprint: z.string().min(1),
  modelFingerprint: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional(),
  ensembleManifestUri: z.string().min(1),
  /** Seed of the top-k tie-break. */
  seed: z.number().int().min(0),
  /** One per pool shard, in shard order. */
  shards: z.array(z.strictObject({ uri: z.string().min(1), sha256: z.string().regex(/^[0-9a-f]{64}$/) })).min(1),
  /** The selection the round made from them. */
  acquired: z.strictObject({
    subsetUri: z.string().min(1),
    /** The subset it extended; null when it selected from the whole pool (compress). */
    parentSubsetUri: z.string().min(1).nullable(),
    /** Samples it added. */
    k: z.number().int().min(0),
    /** The round of the subset it made (round + 1 for build-up, round for compress). */
    subsetRound: z.number().int().min(0),
  }),
});

export type AccumulatorManifest = z.infer<typeof accumulatorManifestSchema>;

/**
 * Records the round's accumulators beside its acquisition. Returns undefined (and writes nothing) when a shard has
 * no accumulator, as in a round scored before accumulators were kept: such a round cannot be acquired again.
 */
export async function writeAccumulatorManifest(
  store: ArtifactStore,
  key: string,
  shardKeys: readonly string[],
  manifest: Omit<AccumulatorManifest, 'kind' | 'version' | 'shards'>,
): Promise<string | undefined> {
  const shards: AccumulatorManifest['shards'] = [];
  for (const shardKey of shardKeys) {
    try {
      const { uri, sha256 } = await store.stat(shardKey);
      shards.push({ uri, sha256 });
    } catch (err) {
      if (err instanceof MissingArtifact) return undefined;
      throw err;
    }
  }
  const file: AccumulatorManifest = {
    kind: ACCUMULATOR_MANIFEST_KIND,
    version: ACCUMULATOR_MANIFEST_VERSION,
    ...manifest,
    shards,
  };
  const stored = await store.put(key, Buffer.from(JSON.stringify(file, null, 1) + '\n'), {
    contentType: 'application/json',
  });
  return stored.uri;
}

/** Reads and checks a round's accumulator manifest; InvalidConfig when the round has none, CorruptArtifact when it is unreadable. */
export async function readAccumulatorManifest(
  store: ArtifactStore,
  key: string,
  round: number,
): Promise<{ uri: string; manifest: AccumulatorManifest }> {
  const uri = store.uriOf(key);
  let bytes: Buffer;
  try {
    bytes = await store.get(key);
  } catch (err) {
    if (!(err instanceof MissingArtifact)) throw err;
    throw new TypedTaskError(
      FailureType.InvalidConfig,
      `round ${round} has no stored accumulators (${uri} does not exist): rounds scored with the random function, ` +
        'or before accumulators were kept, cannot be acquired again; score the round again instead',
    );
  }
  return { uri, manifest: parseJsonArtifact(bytes.toString('utf8'), accumulatorManifestSchema, uri) };
}
