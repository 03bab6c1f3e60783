import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, promises as fs, readdirSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { after, describe, it } from 'node:test';
import { openStore } from '../../domain/storage/open-store';
import { describeStoreBehaviour } from '../helpers/store-behaviour';

const scratch = mkdtempSync(path.join(os.tmpdir(), 'winnow-file-store-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

describeStoreBehaviour('file://', async () => {
  const dir = path.join(scratch, 'behaviour', 'root');
  const store = openStore(pathToFileURL(dir).href);
  return {
    store,
    corrupt: (key, bytes) => fs.writeFile(path.join(dir, key), bytes),
    dropRecord: (key) => fs.rm(path.join(dir, `${key}.sha256`)),
  };
});

function allFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath ?? (e as { path: string }).path, e.name)))
    .sort();
}

describe('file:// store specifics', () => {
  it('keeps objects as plain files with a sha256sum-format record beside them', async () => {
    const dir = path.join(scratch, 'plain');
    const store = openStore(dir);
    assert.equal(store.root, pathToFileURL(dir).href, 'a plain path is taken as a file:// root');
    const body = Buffer.from('weights');
    await store.put('s/round-0/m', body);
    assert.deepEqual(allFiles(dir), ['s/round-0/m', 's/round-0/m.sha256']);
    const digest = createHash('sha256').update(body).digest('hex');
    assert.equal(await fs.readFile(path.join(dir, 's/round-0/m.sha256'), 'utf8'), `${digest}  m\n`);
  });

  it('leaves the previous object intact and no temp file when a streamed write fails midway', async () => {
    const dir = path.join(scratch, 'failing');
    const store = openStore(dir);
    await store.put('s/obj', Buffer.from('old'));
    const failing = new Readable({
      read() {
        this.push(Buffer.alloc(65536, 1));
        this.destroy(new Error('source broke'));
      },
    });
    await assert.rejects(() => store.put('s/obj', failing), /source broke/);
    assert.equal((await store.get('s/obj')).toString(), 'old');
    assert.deepEqual(allFiles(dir), ['s/obj', 's/obj.sha256']);
  });

  it('refuses symbolic links that lead out of the root, for reads, writes and listings', async () => {
    const dir = path.join(scratch, 'links', 'root');
    const outside = path.join(scratch, 'links', 'outside');
    await fs.mkdir(dir, { recursive: true });
    await fs.mkdir(outside, { recursive: true });
    await fs.writeFile(path.join(outside, 'secret'), 'do not read');
    symlinkSync(outside, path.join(dir, 'escape'));
    symlinkSync(path.join(outside, 'secret'), path.join(dir, 'secret-link'));
    const store = openStore(dir);
    const forbidden = (err: Error & { failureType?: string }) =>
      err.failureType === 'ForbiddenPath' && /outside the store root/.test(err.message);
    await assert.rejects(() => store.put('escape/new', Buffer.from('x')), forbidden);
    await assert.rejects(() => store.get('escape/secret'), forbidden);
    await assert.rejects(() => store.get('secret-link'), forbidden);
    await assert.rejects(() => store.list('escape/'), forbidden);
    assert.deepEqual(readdirSync(outside), ['secret'], 'nothing was written outside');
    await store.put('inside', Buffer.from('ok'));
    assert.deepEqual(
      (await store.list()).map((o) => o.key),
      ['inside'],
      'links are not followed by a listing',
    );
    assert.equal(await store.deletePrefix('s'), 0);
    assert.deepEqual(readdirSync(outside), ['secret']);
  });

  it('deletes leftover temp files and emptied folders with their prefix', async () => {
    const dir = path.join(scratch, 'cleanup');
    const store = openStore(dir);
    await store.put('old-search/round-0/a', Buffer.from('a'));
    await fs.writeFile(path.join(dir, 'old-search/round-0/b.tmp-0123456789ab'), 'half');
    await store.put('keep/x', Buffer.from('x'));
    assert.deepEqual(
      (await store.list()).map((o) => o.key),
      ['keep/x', 'old-search/round-0/a'],
      'temp files are not listed',
    );
    assert.equal(await store.deletePrefix('old-search'), 1);
    assert.deepEqual(allFiles(dir), ['keep/x', 'keep/x.sha256']);
    assert.deepEqual(readdirSync(dir), ['keep']);
  });

  it('lets concurrent create-only writers of the same content all succeed', async () => {
    const store = openStore(path.join(scratch, 'race'));
    const body = Buffer.from('{"subset":[1,2,3]}');
    const results = await Promise.all(
      Array.from({ length: 8 }, () => store.put('s/round-1/subset.json', body, { createOnly: true })),
    );
    assert.equal(new Set(results.map((r) => r.sha256)).size, 1);
    assert.deepEqual(await store.get('s/round-1/subset.json'), body);
  });
});
