/**
 * The subset manifest: which pool indices a round's subset holds and where
 * they came from. Immutable once written. Indices are stored as base64 of
 * their little-endian uint32 bytes (2.7 MB of JSON for 500k indices); the
 * sha256 is over those same bytes. Pure (zod + hashing in memory).
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { FailureType, TypedTaskError } from '../../contracts/failures';
import { acquisitionFunctions } from '../../contracts/config';
import { assertLittleEndianHost, bytesOf, corruptArtifact, parseJsonArtifact } from './binary-format';

export const SUBSET_MANIFEST_KIND = 'winnow.subset';
export const SUBSET_MANIFEST_VERSION = 1;

export const subsetLineageSchema = z.strictObject({
  /** Fingerprint of the pool the indices refer to. */
  datasetFingerprint: z.string().min(1),
  acquisitionFunction: z.enum(acquisitionFunctions),
  /** The ensemble that scored the pool; null when none did (random). */
  ensembleManifestUri: z.string().min(1).nullable(),
  seed: z.number().int().min(0),
  /** The subset this one extends; null for round 0. */
  parentManifestUri: z.string().min(1).nullable(),
  round: z.number().int().min(0),
  /** sha256 of the model file (model.json and weights) whose ensemble scored the pool; absent for built-in models. */
  modelFingerprint: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional(),
  /** Set when the subset was selected again from a finished round's stored accumulators: that round's accumulator manifest. */
  reacquiredFrom: z.string().min(1).optional(),
});

export const subsetManifestFileSchema = z.strictObject({
  kind: z.literal(SUBSET_MANIFEST_KIND),
  version: z.literal(SUBSET_MANIFEST_VERSION),
  count: z.number().int().min(0),
  poolSize: z
    .number()
    .int()
    .min(1)
    .max(2 ** 32),
  lineage: subsetLineageSchema,
  indicesEncoding: z.literal('uint32le-base64'),
  indicesSha256: z.string().regex(/^[0-9a-f]{64}$/),
  indices: z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64'),
});

export type SubsetLineage = z.infer<typeof subsetLineageSchema>;
export type SubsetManifestFile = z.infer<typeof subsetManifestFileSchema>;

export interface SubsetManifest {
  readonly count: number;
  readonly poolSize: number;
  /** Ascending, distinct. Typed arrays cannot be frozen: treat as read-only. */
  readonly indices: Uint32Array;
  readonly indicesSha256: string;
  readonly lineage: Readonly<SubsetLineage>;
}

export function indicesSha256(indices: Uint32Array): string {
  assertLittleEndianHost();
  return createHash('sha256').update(bytesOf(indices)).digest('hex');
}

/** Index position of the first value that is not strictly above its predecessor, or -1. */
function firstUnsorted(indices: Uint32Array): number {
  for (let i = 1; i < indices.length; i++) if (indices[i]! <= indices[i - 1]!) return i;
  return -1;
}

/** Builds a frozen manifest; `indices` in any order, distinct, each below poolSize. */
export function createSubsetManifest(input: {
  indices: ArrayLike<number>;
  poolSize: number;
  lineage: SubsetLineage;
}): SubsetManifest {
  const lineage = subsetLineageSchema.safeParse(input.lineage);
  if (!lineage.success) {
    throw new TypedTaskError(
      FailureType.InvalidData,
      `subset lineage: ${lineage.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  if (!Number.isSafeInteger(input.poolSize) || input.poolSize < 1 || input.poolSize > 2 ** 32) {
    throw new TypedTaskError(
      FailureType.InvalidData,
      `poolSize must be an integer in [1, 2^32], got ${input.poolSize}`,
    );
  }
  for (let i = 0; i < input.indices.length; i++) {
    const v = input.indices[i]!;
    if (!Number.isInteger(v) || v < 0 || v >= input.poolSize) {
      throw new TypedTaskError(
        FailureType.InvalidData,
        `subset index at position ${i} is ${v}, outside the pool [0, ${input.poolSize})`,
      );
    }
  }
  const indices = Uint32Array.from(input.indices).sort();
  const dup = firstUnsorted(indices);
  if (dup >= 0)
    throw new TypedTaskError(FailureType.InvalidData, `subset index ${indices[dup]} appears more than once`);
  return Object.freeze({
    count: indices.length,
    poolSize: input.poolSize,
    indices,
    indicesSha256: indicesSha256(indices),
    lineage: Object.freeze({ ...lineage.data }),
  });
}

export function serialiseSubsetManifest(manifest: SubsetManifest): string {
  assertLittleEndianHost();
  const file: SubsetManifestFile = {
    kind: SUBSET_MANIFEST_KIND,
    version: SUBSET_MANIFEST_VERSION,
    count: manifest.count,
    poolSize: manifest.poolSize,
    lineage: { ...manifest.lineage },
    indicesEncoding: 'uint32le-base64',
    indicesSha256: manifest.indicesSha256,
    indices: Buffer.from(manifest.indices.buffer, manifest.indices.byteOffset, manifest.indices.byteLength).toString(
      'base64',
    ),
  };
  return JSON.stringify(file, null, 1) + '\n';
}

/** Parses and verifies a manifest; throws CorruptArtifact naming `source` and every problem found. */
export function parseSubsetManifest(text: string, source = 'subset manifest'): SubsetManifest {
  assertLittleEndianHost();
  const file = parseJsonArtifact(text, subsetManifestFileSchema, source);
  const bytes = Buffer.from(file.indices, 'base64');
  if (bytes.length !== file.count * 4) {
    throw corruptArtifact(
      source,
      `indices decode to ${bytes.length} bytes, count ${file.count} needs ${file.count * 4}`,
    );
  }
  const indices = new Uint32Array(file.count);
  bytesOf(indices).set(bytes);
  const sha = indicesSha256(indices);
  if (sha !== file.indicesSha256)
    throw corruptArtifact(source, `indices sha256 is ${sha}, manifest says ${file.indicesSha256}`);
  const bad = firstUnsorted(indices);
  if (bad >= 0)
    throw corruptArtifact(
      source,
      `indices are not strictly ascending at position ${bad} (${indices[bad - 1]}, ${indices[bad]})`,
    );
  if (file.count > 0 && indices[file.count - 1]! >= file.poolSize) {
    throw corruptArtifact(source, `index ${indices[file.count - 1]} is outside the pool [0, ${file.poolSize})`);
  }
  return Object.freeze({
    count: file.count,
    poolSize: file.poolSize,
    indices,
    indicesSha256: sha,
    lineage: Object.freeze({ ...file.lineage }),
  });
}

/** Sorted union of a parent subset and newly acquired indices (either in any order), without duplicates. */
export function mergeSubsetIndices(parent: ArrayLike<number>, added: ArrayLike<number>): Uint32Array {
  const a = Uint32Array.from(parent).sort();
  const b = Uint32Array.from(added).sort();
  const out = new Uint32Array(a.length + b.length);
  let i = 0;
  let j = 0;
  let n = 0;
  let last = -1;
  while (i < a.length || j < b.length) {
    const v = j >= b.length || (i < a.length && a[i]! <= b[j]!) ? a[i++]! : b[j++]!;
    if (v !== last) out[n++] = v;
    last = v;
  }
  return out.slice(0, n);
}
