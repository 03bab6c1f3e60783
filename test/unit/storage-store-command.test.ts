import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { openStore } from '../../domain/storage/open-store';
import { cleanSearches, listArtifacts, runStoreCommand, storeRootFor } from '../../client/store-command';

const dir = mkdtempSync(path.join(os.tmpdir(), 'winnow-store-cmd-'));
const root = pathToFileURL(dir).href;
after(() => rmSync(dir, { recursive: true, force: true }));

async function run(argv: string[]): Promise<{ code: number; lines: string[] }> {
  const lines: string[] = [];
  const code = await runStoreCommand(argv, (line) => lines.push(line));
  return { code, lines };
}

describe('winnow store command', () => {
  before(async () => {
    const store = openStore(root);
    for (const key of ['demo-1/search.json', 'demo-1/round-0/subset.json', 'demo-2/search.json', 'keep/search.json']) {
      await store.put(key, Buffer.from(key.padEnd(100, '.')));
    }
  });

  it('chooses the store root', () => {
    assert.equal(storeRootFor('x', { root: '/srv/w/' }), pathToFileURL('/srv/w').href);
    assert.equal(storeRootFor('gs://bkt/a/b'), 'gs://bkt');
    assert.equal(storeRootFor('demo', { env: { WINNOW_STORAGE_ROOT: '/data/w' } }), pathToFileURL('/data/w').href);
  });

  it('lists by URI prefix or key prefix', async () => {
    const byUri = await listArtifacts(`${root}/demo-1/`, { root });
    assert.deepEqual(
      byUri.objects.map((o) => o.key),
      ['demo-1/round-0/subset.json', 'demo-1/search.json'],
    );
    assert.equal(byUri.bytes, 200);
    const { code, lines } = await run(['list', 'demo', '--root', dir]);
    assert.equal(code, 0);
    assert.equal(lines.length, 4);
    assert.match(lines[0], new RegExp(`^ +100  ${root}/demo-1/round-0/subset.json$`));
    assert.equal(lines[3], `3 objects, 300 B under ${root}/demo`);
  });

  it('clean reports without --yes and deletes only the matching searches with it', async () => {
    const dry = await run(['clean', 'demo-', '--root', root]);
    assert.equal(dry.code, 0);
    assert.deepEqual(dry.lines, [
      'searches: demo-1, demo-2',
      `would delete 3 objects (300 B) of 2 searches under ${root}; rerun with --yes to delete them`,
    ]);
    assert.equal((await listArtifacts('', { root })).objects.length, 4, 'nothing deleted');

    const done = await cleanSearches('demo-', true, { root });
    assert.deepEqual(done, { root, searchIds: ['demo-1', 'demo-2'], objects: 3, bytes: 300, deleted: true });
    assert.deepEqual(
      (await listArtifacts('', { root })).objects.map((o) => o.key),
      ['keep/search.json'],
    );
  });

  it('refuses paths as search-id prefixes and reports usage errors', async () => {
    for (const bad of ['../x', 'demo/round-0', '', 'gs://b/x']) {
      await assert.rejects(() => cleanSearches(bad, true, { root }), /give the start of a search id/, bad);
    }
    assert.equal((await run(['remove', 'x'])).code, 2);
    assert.equal((await run(['list'])).code, 2);
    assert.equal((await run(['list', 'a', '--bogus'])).code, 2);
    const outside = await run(['list', 'file:///etc/']);
    assert.equal(outside.code, 1);
    assert.match(outside.lines.join('\n'), /outside the store root[^]*--root/);
  });

  it('runs as a script', async () => {
    const script = path.resolve(__dirname, '../../client/store-command.js');
    const { stdout } = await promisify(execFile)(process.execPath, [script, 'list', `${root}/keep/`], {
      env: { ...process.env, WINNOW_STORAGE_ROOT: dir },
    });
    assert.match(stdout, /keep\/search\.json\n1 objects, 100 B under /);
  });
});
