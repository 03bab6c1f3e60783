import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { keyOfRef, keyProblem, parseGsRoot, prefixOfRef } from '../../domain/storage/keys';

const segmentChars = 'abcXYZ019._=+@,~-/'.split('');
const keyLike = fc
  .array(fc.constantFrom(...segmentChars, '..', '.', ' ', '\\'), { minLength: 1, maxLength: 30 })
  .map((parts) => parts.join(''));

describe('artifact keys', () => {
  it('every accepted key stays inside the root once joined to it', () => {
    fc.assert(
      fc.property(keyLike, (key) => {
        if (keyProblem(key) !== undefined) return;
        const root = '/srv/root';
        const rel = path.posix.relative(root, path.posix.join(root, key));
        assert.ok(!rel.startsWith('..') && rel !== '' && !path.posix.isAbsolute(rel), `${key} -> ${rel}`);
        assert.equal(rel, key, 'joining does not rewrite an accepted key');
      }),
      { numRuns: 2000 },
    );
  });

  it('a key survives the trip to a URI and back', () => {
    fc.assert(
      fc.property(keyLike, fc.constantFrom('file:///srv/root', 'gs://bucket/pre'), (key, root) => {
        if (keyProblem(key) !== undefined) return;
        assert.equal(keyOfRef(`${root}/${key}`, root), key);
        assert.equal(keyOfRef(key, root), key);
      }),
    );
  });

  it('names the problem with a key', () => {
    const cases: [string, RegExp][] = [
      ['', /empty/],
      ['/a', /absolute/],
      ['a/../b', /"\.\." segment/],
      ['a//b', /empty segment/],
      ['a/', /empty segment/],
      ['a/.git', /starts with "\."/],
      ['a b', /segment "a b"/],
      ['a\\b', /segment/],
      ['x.sha256', /reserved/],
      ['a'.repeat(1025), /1025 characters/],
    ];
    for (const [key, problem] of cases) assert.match(keyProblem(key) ?? 'accepted', problem, JSON.stringify(key));
    for (const key of [
      's1/round-0/subset.json',
      'a',
      'search_1/round-12/member-3/ckpt-2/weights.bin',
      'a.b.c/x=1,y=2',
    ]) {
      assert.equal(keyProblem(key), undefined, key);
    }
  });

  it('turns URI prefixes into key prefixes only inside the root', () => {
    assert.equal(prefixOfRef('gs://b/p', 'gs://b/p'), '');
    assert.equal(prefixOfRef('gs://b/p/s1/ro', 'gs://b/p'), 's1/ro');
    assert.equal(prefixOfRef('s1/', 'gs://b/p'), 's1/');
    assert.throws(() => prefixOfRef('gs://b/px', 'gs://b/p'), /outside the store root/);
    assert.throws(() => keyOfRef('gs://b/p', 'gs://b/p'), /outside the store root/);
  });

  it('parses gs:// roots and refuses bad bucket names', () => {
    assert.deepEqual(parseGsRoot('gs://my-bucket'), { bucket: 'my-bucket', prefix: '' });
    assert.deepEqual(parseGsRoot('gs://my-bucket/team/winnow/'), { bucket: 'my-bucket', prefix: 'team/winnow' });
    for (const bad of ['gs://', 'gs://B', 'gs://ab', 'gs://Upper', 's3://bucket']) {
      assert.throws(
        () => parseGsRoot(bad),
        (err: Error & { failureType?: string }) => err.failureType === 'InvalidConfig',
        bad,
      );
    }
    assert.throws(
      () => parseGsRoot('gs://bucket/a/../b'),
      (err: Error & { failureType?: string }) => err.failureType === 'ForbiddenPath',
    );
  });
});
