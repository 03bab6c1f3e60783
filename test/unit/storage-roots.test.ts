import assert from 'node:assert/strict';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';
import { defaultStorageRoot, normaliseRoot, resolveStorageRoot } from '../../activities/storage/roots';

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
        (err: Error & { failureType?: string }) => err.failureType === 'ForbiddenPath' && /outside the worker's storage root/.test(err.message),
        bad,
      );
    }
  });

  it('refuses schemes the worker does not serve', () => {
    assert.throws(() => resolveStorageRoot('gs://bucket/x', allowed), /only file:\/\/ roots/);
  });

  it('reads WINNOW_STORAGE_ROOT and normalises paths', () => {
    assert.equal(defaultStorageRoot({ WINNOW_STORAGE_ROOT: '/data/w/' }), pathToFileURL('/data/w').href);
    assert.equal(defaultStorageRoot({}), pathToFileURL(path.resolve('state/artifacts')).href);
    assert.equal(normaliseRoot('gs://b/p/'), 'gs://b/p');
  });
});
