import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { demoConfig } from '../../client/demo-config';
import { parseSearchConfig } from '../../contracts/config';
import { demoSeedsTable, mergeConfig, seedMargins, type SeedOutcome } from '../../bench/demo-seeds-table';
import { summarise } from '../../workflows/search-plan';
import type { SearchResult } from '../../workflows/subset-search';

function seed(n: number, rows: [number, number[], number[]][]): SeedOutcome {
  const result = {
    evaluations: rows.map(([size, al, random]) => ({
      size,
      fraction: size / 60000,
      subsetUri: `file:///s/${n}/${size}.json`,
      activeLearning: summarise(al),
      random: summarise(random),
    })),
    full: summarise([0.9]),
    rounds: [{ seconds: { train: 10, score: 5, acquire: 1, evaluate: 20 } }],
  } as unknown as SearchResult;
  return { seed: n, workflowId: `w${n}`, how: 'reused', result };
}

describe('demo-seeds margins', () => {
  it('takes AL mean minus random mean per size, in points', () => {
    const [m] = seedMargins([
      seed(0, [
        [4000, [0.8, 0.82], [0.79, 0.79]],
        [6000, [0.84], [0.85]],
      ]),
    ]);
    assert.equal(m.sizes.length, 2);
    assert.ok(Math.abs(m.sizes[0].margin - 2) < 1e-9, `got ${m.sizes[0].margin}`);
    assert.ok(Math.abs(m.sizes[1].margin + 1) < 1e-9);
    assert.equal(m.searchSeconds, 36);
    assert.equal(m.how, 'reused');
    assert.ok(Math.abs(m.full! - 90) < 1e-9);
  });

  it('counts a seed only when AL is above random at every size, and says whether 4 of 5 hold', () => {
    const up: [number, number[], number[]][] = [
      [4000, [0.81], [0.8]],
      [6000, [0.83], [0.82]],
    ];
    const mixed: [number, number[], number[]][] = [
      [4000, [0.81], [0.8]],
      [6000, [0.8], [0.82]],
    ];
    const four = demoSeedsTable(seedMargins([seed(0, up), seed(1, up), seed(2, mixed), seed(3, up), seed(4, up)]));
    assert.match(four, /in 4 of 5 seeds .*: met/);
    const three = demoSeedsTable(seedMargins([seed(0, up), seed(1, mixed), seed(2, mixed), seed(3, up), seed(4, up)]));
    assert.match(three, /in 3 of 5 seeds .*: not met/);
    assert.match(three, /80\.00 \/ 82\.00 \/ -2\.00/);
  });

  it('shows a failed seed and does not count it', () => {
    const table = demoSeedsTable(
      seedMargins([{ seed: 0, workflowId: 'w0', error: 'timed out' }, seed(1, [[4000, [0.9], [0.8]]])]),
    );
    assert.match(table, /failed: timed out/);
    assert.match(table, /in 1 of 2 seeds/);
  });
});

describe('demo-seeds override', () => {
  it('merges objects field by field and replaces arrays', () => {
    const merged = mergeConfig(demoConfig, { training: { minSteps: 400 }, targets: [5000] });
    assert.equal((merged.training as { minSteps: number }).minSteps, 400);
    assert.equal((merged.training as { epochs: number }).epochs, (demoConfig.training as { epochs: number }).epochs);
    assert.deepEqual(merged.targets, [5000]);
    assert.deepEqual(merged.dataset, demoConfig.dataset);
  });

  it('refuses what is not an object, and the merged config is checked by the schema', () => {
    assert.throws(() => mergeConfig(demoConfig, [1]), /JSON object/);
    const bad = parseSearchConfig(mergeConfig(demoConfig, { training: { epochs: 0 } }));
    assert.equal(bad.ok, false);
    assert.ok(!bad.ok && bad.problems.some((p) => p.startsWith('training.epochs')));
  });

  it('the demo config itself is valid', () => {
    assert.equal(parseSearchConfig(demoConfig).ok, true);
  });
});
