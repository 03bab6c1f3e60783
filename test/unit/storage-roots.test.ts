import assert from 'node:assert/strict';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';
import { defaultStorageRoot, normaliseRoot, resolveStorageRoot } from '../../domain/storage/roots';

const allowed = pathToFileURL('/srv/winnow').href;

describe('storage roots', () => {
  it('defaults to the worker root and accepts roots inside it', () => {
    assert.equal(resolveStorageRoot(undefined, allowed), allowed);
    assert.equal(resolveStorageRoot('/srv/winnow/team-a', allowed), `${allowed}/team-a`);
    assert.equal(resolveStorageRoot(`${allowed}/team-a/`, allowed), `${allowed}/team-a`);
  });

  it('refuses roots that escape, with the ForbiddenPath type', () => {
    for (const bad of ['/srv/winnow/../etc', '/srv', '/srv/winnow-other', `${allowed}/../../tmp`]) {
      assert.throws(
        () => resolveStorageRoot(bad, allowed),
        (err: Error & { failureType?: string }) =>
          err.failureType === 'ForbiddenPath' && /outside the worker's storage root/.test(err.message),
        bad,
      );
    }
  });

  it('refuses schemes the worker does not serve', () => {
    assert.throws(
      () => resolveStorageRoot('gs://bucket/x', allowed),
      (err: Error & { failureType?: string }) =>
        err.failureType === 'InvalidConfig' && /only file:\/\/ roots inside it/.test(err.message),
    );
    assert.throws(() => resolveStorageRoot('/srv/winnow/a', 'gs://bucket/winnow'), /only gs:\/\/ roots inside it/);
  });

  it('accepts gs:// roots inside a gs:// worker root and refuses the rest', () => {
    const gsRoot = 'gs://bucket/winnow';
    assert.equal(resolveStorageRoot('gs://bucket/winnow/team-a/', gsRoot), 'gs://bucket/winnow/team-a');
    assert.equal(resolveStorageRoot('gs://bucket/winnow', gsRoot), gsRoot);
    for (const bad of [
      'gs://bucket/winnow-other',
      'gs://other/winnow',
      'gs://bucket/winnow/../x',
      'gs://bucket/winnow/./x',
      'gs://bucket',
    ]) {
      assert.throws(
        () => resolveStorageRoot(bad, gsRoot),
        (err: Error & { failureType?: string }) => err.failureType === 'ForbiddenPath',
        bad,
      );
    }
  });

  it('reads WINNOW_STORAGE_ROOT and normalises paths', () => {
    assert.equal(defaultStorageRoot({ WINNOW_STORAGE_ROOT: '/data/w/' }), pathToFileURL('/data/w').href);
    assert.equal(defaultStorageRoot({}), pathToFileURL(path.resolve('state/artifacts')).href);
    assert.equal(normaliseRoot('gs://b/p/'), 'gs://b/p');
  });
});
