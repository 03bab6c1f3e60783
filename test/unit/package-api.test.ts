/**
 * The package API: `winnow` resolves by name (the package's exports map, Node's
 * self-reference) to the client entry point with its type declarations, deep
 * imports are refused, and every name the README's "From code" example
 * imports from 'winnow' is exported.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import type * as ClientIndex from '../../client/index';
import { repoRoot } from '../../infra/tools';

type Api = typeof ClientIndex;

describe("the package API ('winnow')", () => {
  it('resolves by name to the client entry point, with types', () => {
    const resolved = require.resolve('winnow');
    assert.equal(resolved, path.join(repoRoot(), 'dist', 'client', 'index.js'));
    assert.ok(existsSync(resolved.replace(/\.js$/, '.d.ts')), 'type declarations are built beside it');
    const api = require('winnow') as Api; // eslint-disable-line @typescript-eslint/no-require-imports -- the point is resolving by name at run time
    for (const fn of [
      api.connectClient,
      api.startSearch,
      api.waitForSearch,
      api.parseSearchConfig,
      api.restartSearch,
    ]) {
      assert.equal(typeof fn, 'function');
    }
    assert.equal(api.TaskQueue.orchestrator, 'winnow-orchestrator');
    assert.ok(api.parseSearchConfig({ dataset: { kind: 'fashion-mnist' }, targets: [10] }).ok);
  });

  it('refuses deep imports into dist/', () => {
    assert.throws(() => require.resolve('winnow/dist/client/connection'), { code: 'ERR_PACKAGE_PATH_NOT_EXPORTED' });
  });

  it("exports every name the README's example imports", () => {
    const readme = readFileSync(path.join(repoRoot(), 'README.md'), 'utf8');
    const imports = [...readme.matchAll(/import \{([^}]+)\} from 'winnow';/g)].flatMap((m) =>
      m[1].split(',').map((name) => name.replace(/^\s*type\s+/, '').trim()),
    );
    assert.ok(imports.length >= 5, `the README imports ${imports.length} names from 'winnow'`);
    const api = require('winnow') as Record<string, unknown>; // eslint-disable-line @typescript-eslint/no-require-imports -- as above
    const typeOnly = new Set(['SearchConfigInput', 'SearchResult', 'SearchProgress', 'LayersModelFile']);
    for (const name of imports) {
      assert.ok(name in api || typeOnly.has(name), `'winnow' exports ${name}`);
    }
  });
});
