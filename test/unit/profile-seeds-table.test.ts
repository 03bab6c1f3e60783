import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seedTables, type SeedRun } from '../../bench/profile-seeds-table';
import { summarise } from '../../workflows/search-plan';
import type { SearchResult } from '../../workflows/subset-search';

/** One seed of a transfer profile: per size, [search model AL, random], [wide model AL, random]. */
function seed(dir: string, rows: [number, [number, number], [number, number]][], full: [number, number]): SeedRun {
  const result = (al: (r: (typeof rows)[number]) => number) =>
    ({
      config: { task: 'classification' },
      evaluations: rows.map((r) => ({
        size: r[0],
        fraction: r[0] / 1000,
        subsetUri: 'x',
        activeLearning: summarise([al(r)]),
        random: summarise([r[1][1]]),
        models: [
          { model: 'cnn-small', activeLearning: summarise([al(r)]), random: summarise([r[1][1]]) },
          { model: 'cnn-small width 2', activeLearning: summarise([r[2][0]]), random: summarise([r[2][1]]) },
        ],
      })),
      full: summarise([full[0]]),
      fullByModel: [summarise([full[0]]), summarise([full[1]])],
    }) as unknown as SearchResult;
  return {
    dir,
    experiments: [
      { name: 'entropy', result: result((r) => r[1][0]) },
      { name: 'mutual-information', result: result((r) => r[1][0] - 0.01) },
    ],
  };
}

describe('profile seeds', () => {
  it('one block per evaluation model: mean ± std over seeds and the margins per seed', () => {
    const text = seedTables([
      seed('transfer', [[100, [0.8, 0.78], [0.85, 0.86]]], [0.9, 0.92]),
      seed('transfer-seed-1', [[100, [0.82, 0.78], [0.87, 0.86]]], [0.9, 0.94]),
    ]);
    assert.match(text, /test accuracy, evaluated with cnn-small \(the first evaluation model\)/);
    assert.match(text, /test accuracy, evaluated with cnn-small width 2 /);
    // entropy on the search model: 80 and 82 -> 81.00 ± 1.41; random 78 and 78.
    assert.match(text, /\| 100 \| 81\.00 ± 1\.41 \| 80\.00 ± 1\.41 \| 78\.00 ± 0\.00 \| 90\.00 ± 0\.00 \|/);
    // the wide model: entropy 85 and 87 against random 86: -1 and +1; full 92 and 94.
    assert.match(text, /\| 100 \| 86\.00 ± 1\.41 \| 86\.00 ± 1\.41 \| 86\.00 ± 0\.00 \| 93\.00 ± 1\.41 \|/);
    assert.match(text, /- entropy, transfer: 100: -1\.00/);
    assert.match(text, /- entropy, transfer-seed-1: 100: \+1\.00/);
  });
});
