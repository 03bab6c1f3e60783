/**
 * An immutable artifact damaged on disk is healed by writing its recorded
 * content again. A storage root that cannot be written fails at once with a clear,
 * non-retryable error naming the artifact and the root, and leaves nothing
 * behind. Root ignores file modes, so when the tests run as root the
 * read-only case runs in a child process as the unprivileged user `nobody`.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, describe, it } from 'node:test';
import { openStore } from '../../domain/storage/open-store';
import { repoRoot } from '../../infra/tools';
import { tempDir } from './data-helpers';

function unusable(...patterns: RegExp[]): (err: unknown) => boolean {
  return (err: unknown) => {
    const e = err as Error & { failureType?: string };
    assert.equal(
      e.failureType,
      'InvalidConfig',
      `expected InvalidConfig, got ${e.failureType ?? e.name}: ${e.message}`,
    );
    for (const pattern of patterns) assert.match(e.message, pattern);
    return true;
  };
}

const NOBODY = 65534;

describe('immutable artifacts damaged in storage', () => {
  const tmp = tempDir('damaged');
  after(() => tmp.remove());

  it('rewriting the recorded content repairs a damaged copy; other content is still a conflict', async () => {
    const store = openStore(tmp.dir);
    const body = Buffer.from(JSON.stringify({ indices: [1, 2, 3] }));
    await store.put('s/round-1/subset.json', body, { createOnly: true });
    const file = path.join(tmp.dir, 's', 'round-1', 'subset.json');
    writeFileSync(file, Buffer.from(JSON.stringify({ indices: [1, 2, 4] })));
    await assert.rejects(
      store.get('s/round-1/subset.json'),
      (err: Error & { failureType?: string }) => err.failureType === 'CorruptArtifact',
    );

    await assert.rejects(
      store.put('s/round-1/subset.json', Buffer.from('{"indices":[9]}'), { createOnly: true }),
      (err: Error & { failureType?: string }) => err.failureType === 'ArtifactConflict',
    );
    const again = await store.put('s/round-1/subset.json', body, { createOnly: true });
    assert.equal(again.sha256, createHash('sha256').update(body).digest('hex'));
    assert.deepEqual(await store.get('s/round-1/subset.json'), body, 'repaired');
    assert.deepEqual(
      readdirSync(path.dirname(file)).sort(),
      ['subset.json', 'subset.json.sha256'],
      'no temp file left',
    );
  });
});

describe('unwritable storage roots', () => {
  const tmp = tempDir('unwritable');
  after(() => tmp.remove());

  it('a root that is a regular file', async () => {
    const file = path.join(tmp.dir, 'not-a-folder');
    writeFileSync(file, 'x');
    const store = openStore(file);
    await assert.rejects(
      store.put('s/search.json', Buffer.from('{}')),
      unusable(
        new RegExp(
          `cannot write artifact ${pathToFileURL(file).href}/s/search\\.json: a path component under the root is a regular file`,
        ),
        /WINNOW_STORAGE_ROOT/,
      ),
    );
  });

  it('a root below a regular file', async () => {
    const file = path.join(tmp.dir, 'plain-file');
    writeFileSync(file, 'x');
    await assert.rejects(
      openStore(path.join(file, 'artifacts')).put('s/x', Buffer.from('1')),
      unusable(/is not writable by this worker/, /ENOTDIR/),
    );
  });

  it('a read-only folder, written by an unprivileged process', async () => {
    const root = path.join(tmp.dir, 'read-only');
    mkdirSync(root);
    chmodSync(root, 0o555);
    const script = `
      const { openStore } = require(${JSON.stringify(path.join(repoRoot(), 'dist', 'domain', 'storage', 'open-store.js'))});
      openStore(${JSON.stringify(root)}).put('s/round-0/subset.json', Buffer.from('{}')).then(
        () => { console.log(JSON.stringify({ ok: true })); },
        (e) => { console.log(JSON.stringify({ failureType: e.failureType, message: e.message })); });`;
    const asRoot = process.getuid?.() === 0;
    // The temp folder must be reachable for nobody; mkdtemp makes it 0700.
    if (asRoot) chmodSync(tmp.dir, 0o755);
    const run = spawnSync(process.execPath, ['-e', script], {
      encoding: 'utf8',
      ...(asRoot ? { uid: NOBODY, gid: NOBODY } : {}),
    });
    assert.equal(run.status, 0, run.stderr);
    const outcome = JSON.parse(run.stdout.trim()) as { ok?: boolean; failureType?: string; message?: string };
    assert.equal(outcome.ok, undefined, 'the write must fail');
    assert.equal(outcome.failureType, 'InvalidConfig', outcome.message);
    assert.match(
      outcome.message ?? '',
      /cannot write artifact .*\/read-only\/s\/round-0\/subset\.json: permission denied \(EACCES/,
    );
    assert.match(outcome.message ?? '', /not writable by this worker \(uid \d+\)/);
    assert.deepEqual(readdirSync(root), [], 'nothing left behind');
  });
});
