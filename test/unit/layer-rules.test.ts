/**
 * The layer rules of .dependency-cruiser.cjs (docs/architecture.md, "Layers")
 * on small trees written by the test: each forbidden import fails
 * `depcruise` naming its rule, and the allowed ones pass, so a rule that
 * stopped matching would fail here rather than let a wrong import through.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { repoRoot } from '../../infra/tools';

const root = repoRoot();
const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** Writes the files into a fresh tree and runs depcruise with the project's config; returns its exit code and output. */
function cruise(files: Record<string, string>): { code: number | null; out: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'winnow-layers-'));
  dirs.push(dir);
  symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'));
  writeFileSync(
    path.join(dir, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { module: 'commonjs', strict: true } }),
  );
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), text);
  }
  const folders = [...new Set(Object.keys(files).map((f) => f.split('/')[0]))];
  const bin = path.join(root, 'node_modules', '.bin', 'depcruise');
  const run = spawnSync(bin, ['--config', path.join(root, '.dependency-cruiser.cjs'), ...folders], {
    cwd: dir,
    encoding: 'utf8',
  });
  return { code: run.status, out: `${run.stdout}${run.stderr}` };
}

const activities = {
  'activities/index.ts': 'export const gpuActivities = { probe: () => 1 };\nexport type Gpu = typeof gpuActivities;\n',
};

describe('layer rules', () => {
  it('allow what the layers may import', () => {
    const { code, out } = cruise({
      ...activities,
      'workflows/round.ts':
        "import type { Gpu } from '../activities';\nimport { queue } from '../contracts/task-queues';\nexport type R = Gpu;\nexport const q = queue;\n",
      'contracts/task-queues.ts': "export const queue = 'winnow-gpu';\n",
      'kernels/fold.ts': "import { repoRoot } from '../infra/tools';\nexport const r = repoRoot;\n",
      'infra/tools.ts': 'export const repoRoot = (): string => "/";\n',
    });
    assert.equal(code, 0, out);
  });

  const refused: [string, Record<string, string>, RegExp][] = [
    [
      'a value import of activities into workflows',
      {
        ...activities,
        'workflows/round.ts': "import { gpuActivities } from '../activities';\nexport const g = gpuActivities;\n",
      },
      /workflows-import-activities-as-types-only: workflows\/round\.ts → activities\/index\.ts/,
    ],
    [
      'workflows importing the domain library',
      {
        'workflows/round.ts': "import { s } from '../domain/storage/store';\nexport const x = s;\n",
        'domain/storage/store.ts': 'export const s = 1;\n',
      },
      /workflows-imports-only-below: workflows\/round\.ts → domain\/storage\/store\.ts/,
    ],
    [
      'activities importing workflow code',
      {
        ...activities,
        'activities/acquire.ts': "import { paths } from '../workflows/paths';\nexport const p = paths;\n",
        'workflows/paths.ts': 'export const paths = 1;\n',
      },
      /activities-imports-only-below: activities\/acquire\.ts → workflows\/paths\.ts/,
    ],
    [
      'the Temporal SDK in the domain library',
      { 'domain/store.ts': "import { Context } from '@temporalio/activity';\nexport const c = Context;\n" },
      /no-temporal-below-activities: domain\/store\.ts → \S*node_modules\/@temporalio\/activity/,
    ],
    [
      'the domain library importing compute',
      {
        'domain/train.ts': "import { run } from '../compute/run';\nexport const r = run;\n",
        'compute/run.ts': 'export const run = 1;\n',
      },
      /domain-imports-only-below: domain\/train\.ts → compute\/run\.ts/,
    ],
    [
      'kernels importing the domain library',
      {
        'kernels/fold.ts': "import { d } from '../domain/data';\nexport const x = d;\n",
        'domain/data.ts': 'export const d = 1;\n',
      },
      /kernels-imports-only-below: kernels\/fold\.ts → domain\/data\.ts/,
    ],
    [
      'Node I/O in contracts',
      { 'contracts/config.ts': "import { readFileSync } from 'node:fs';\nexport const r = readFileSync;\n" },
      /contracts-pure: contracts\/config\.ts → (node:)?fs/,
    ],
    [
      'an import cycle',
      {
        'domain/a.ts': "import { b } from './b';\nexport const a = (): number => b();\n",
        'domain/b.ts': "import { a } from './a';\nexport const b = (): number => a.length;\n",
      },
      /no-circular: domain\/a\.ts → /,
    ],
  ];
  for (const [what, files, rule] of refused) {
    it(`refuse ${what}`, () => {
      const { code, out } = cruise(files);
      assert.notEqual(code, 0, `depcruise passed ${what}:\n${out}`);
      assert.match(out, rule);
    });
  }
});
