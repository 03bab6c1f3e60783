import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import {
  createSubsetManifest,
  mergeSubsetIndices,
  parseSubsetManifest,
  serialiseSubsetManifest,
  type SubsetLineage,
} from '../../domain/acquisition/subset-manifest';
import { readSubsetManifestFile, writeSubsetManifestFile } from '../../domain/acquisition/acquisition-files';

type Typed = Error & { failureType?: string };

const lineage: SubsetLineage = {
  datasetFingerprint: 'sha256:abc',
  acquisitionFunction: 'mutual-information',
  ensembleManifestUri: 'file:///s/round-1/ensemble.json',
  seed: 7,
  parentManifestUri: 'file:///s/round-0/subset.json',
  round: 1,
};

describe('subset manifest', () => {
  it('sorts the indices, checksums their uint32 little-endian bytes and freezes the object', () => {
    const m = createSubsetManifest({ indices: [9, 2, 5], poolSize: 10, lineage });
    assert.deepEqual(Array.from(m.indices), [2, 5, 9]);
    assert.equal(m.count, 3);
    const bytes = Buffer.from([2, 0, 0, 0, 5, 0, 0, 0, 9, 0, 0, 0]);
    assert.equal(m.indicesSha256, createHash('sha256').update(bytes).digest('hex'));
    assert.ok(Object.isFrozen(m) && Object.isFrozen(m.lineage));
    assert.throws(() => {
      (m as { count: number }).count = 4;
    }, TypeError);
  });

  it('round-trips 600,000 indices through JSON', () => {
    const indices = Uint32Array.from({ length: 600_000 }, (_, i) => i * 2 + (i % 2));
    const m = createSubsetManifest({ indices, poolSize: 1_300_000, lineage });
    const text = serialiseSubsetManifest(m);
    assert.ok(text.length < 4 * 1024 * 1024, `${text.length} characters`);
    const back = parseSubsetManifest(text);
    assert.deepEqual(back.indices, indices);
    assert.deepEqual(back.lineage, lineage);
    assert.equal(back.indicesSha256, m.indicesSha256);
  });

  it('rejects duplicates, indices outside the pool and bad lineage', () => {
    assert.throws(
      () => createSubsetManifest({ indices: [1, 4, 1], poolSize: 10, lineage }),
      (e: Typed) => e.failureType === 'InvalidData' && /index 1 appears more than once/.test(e.message),
    );
    assert.throws(
      () => createSubsetManifest({ indices: [10], poolSize: 10, lineage }),
      (e: Typed) => e.failureType === 'InvalidData' && /outside the pool/.test(e.message),
    );
    assert.throws(
      () =>
        createSubsetManifest({
          indices: [1],
          poolSize: 10,
          lineage: { ...lineage, acquisitionFunction: 'vibes' as never, round: -1 },
        }),
      (e: Typed) => /acquisitionFunction/.test(e.message) && /round/.test(e.message),
    );
  });

  it('names what is wrong with a damaged manifest', () => {
    const text = serialiseSubsetManifest(createSubsetManifest({ indices: [1, 3, 8], poolSize: 10, lineage }));
    const file = JSON.parse(text);
    const parse = (value: unknown) => () =>
      parseSubsetManifest(typeof value === 'string' ? value : JSON.stringify(value), 'round-1/subset.json');
    const corrupt = (pattern: RegExp) => (e: Typed) =>
      e.failureType === 'CorruptArtifact' && e.message.startsWith('round-1/subset.json') && pattern.test(e.message);
    assert.throws(parse(text.slice(0, 40)), corrupt(/not JSON/));
    assert.throws(parse({ ...file, count: 4 }), corrupt(/decode to 12 bytes, count 4 needs 16/));
    assert.throws(parse({ ...file, indicesSha256: '0'.repeat(64) }), corrupt(/sha256/));
    assert.throws(parse({ ...file, version: 2 }), corrupt(/version/));
    assert.throws(parse({ ...file, lineage: { ...file.lineage, seed: 'x' } }), corrupt(/lineage\.seed/));
    const unsorted = Buffer.from(Uint32Array.from([3, 1, 8]).buffer);
    const unsortedFile = {
      ...file,
      indices: unsorted.toString('base64'),
      indicesSha256: createHash('sha256').update(unsorted).digest('hex'),
    };
    assert.throws(parse(unsortedFile), corrupt(/not strictly ascending at position 1/));
  });

  it('is written once: the same content again is fine, other content is refused', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'winnow-subset-'));
    try {
      const file = path.join(dir, 'round-1', 'subset.json');
      const m = createSubsetManifest({ indices: [1, 2], poolSize: 5, lineage });
      await writeSubsetManifestFile(file, m);
      await writeSubsetManifestFile(file, m);
      assert.deepEqual((await readSubsetManifestFile(file)).indices, m.indices);
      const other = createSubsetManifest({ indices: [1, 3], poolSize: 5, lineage });
      await assert.rejects(writeSubsetManifestFile(file, other), /immutable/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('merging a parent subset with new indices', () => {
  it('is the sorted union without duplicates', () => {
    assert.deepEqual(Array.from(mergeSubsetIndices([1, 5, 9], [7, 2, 5])), [1, 2, 5, 7, 9]);
    assert.deepEqual(Array.from(mergeSubsetIndices([], [])), []);
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 1000 })), fc.array(fc.nat({ max: 1000 })), (a, b) => {
        const expected = [...new Set([...a, ...b])].sort((x, y) => x - y);
        assert.deepEqual(Array.from(mergeSubsetIndices(a, b)), expected);
      }),
    );
  });
});
