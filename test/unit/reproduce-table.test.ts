import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderSvg } from '../../client/report/charts';
import { profileOf, parsedConfig, type Experiment } from '../../bench/reproduce-plan';
import {
  accuracyPlotSpec,
  buildResultTable,
  classCounts,
  formatBalanceTable,
  formatGain,
  formatMarkdownTable,
  formatSummary,
  RANDOM_SERIES,
  type ExperimentOutcome,
} from '../../bench/reproduce-table';
import { summarise, type EvaluationRow } from '../../workflows/search-plan';
import type { SearchResult } from '../../workflows/subset-search';

const experiments = profileOf('quick').experiments;
const byName = (name: string): Experiment => experiments.find((e) => e.name === name)!;

function outcome(name: string, rows: [number, number[], number[]?][], full?: number[]): ExperimentOutcome {
  const experiment = byName(name);
  const evaluations: EvaluationRow[] = rows.map(([size, al, random]) => ({
    size,
    fraction: size / 4000,
    subsetUri: `file:///s/${name}/${size}.json`,
    activeLearning: summarise(al),
    random: random ? summarise(random) : undefined,
  }));
  const result: SearchResult = {
    searchId: name,
    config: parsedConfig(experiment),
    storageRoot: 'file:///s',
    poolSize: 4000,
    numClasses: 10,
    subsets: {},
    evaluations,
    full: full ? summarise(full) : undefined,
    rounds: [],
    computeBackend: 'tfjs-node',
  };
  return { experiment, workflowId: `wf-${name}`, how: 'started', result };
}

describe('reproduce: results table', () => {
  const outcomes = [
    outcome(
      'entropy',
      [
        [1000, [0.8, 0.82, 0.84], [0.78, 0.79, 0.8]],
        [400, [0.7, 0.72, 0.74], [0.7, 0.7, 0.7]],
      ],
      [0.85, 0.86, 0.87],
    ),
    outcome('compress', [
      [400, [0.6, 0.6, 0.6]],
      [1000, [0.81, 0.81, 0.81]],
    ]),
    { experiment: byName('mutual-information'), workflowId: 'wf-mi', error: 'failed' },
    outcome('finetune', [[400, [0.9, 0.9, 0.9]]]),
    outcome('random-acquisition', [[400, [0.75, 0.75, 0.75]]]),
  ];

  it('has a row per size in ascending order, baselines from the search that trained them, a column per main experiment', () => {
    const table = buildResultTable(outcomes);
    assert.deepEqual(
      table.rows.map((r) => r.size),
      [400, 1000],
    );
    assert.deepEqual(
      table.columns.map((c) => c.name),
      ['entropy', 'compress', 'mutual-information', 'random-acquisition'],
    );
    assert.ok(Math.abs(table.rows[0].random!.mean - 0.7) < 1e-12);
    assert.ok(Math.abs(table.rows[1].methods.compress!.mean - 0.81) < 1e-12);
    assert.equal(table.rows[0].methods['mutual-information'], undefined);
    assert.ok(Math.abs(table.full!.mean - 0.86) < 1e-12);
    // Ablations stay out of the main table.
    assert.ok(!('finetune' in table.rows[0].methods));
  });

  it('formats mean ± sample std in percent, marks the best uncertainty-chosen subset, and its gain over random', () => {
    assert.equal(formatSummary(summarise([0.8, 0.82, 0.84])), '82.00 ± 2.00');
    assert.equal(formatSummary(summarise([0.5])), '50.00');
    assert.equal(formatSummary(undefined), '–');
    assert.equal(formatGain(summarise([0.82]), summarise([0.79])), '+3.00');
    assert.equal(formatGain(summarise([0.6]), summarise([0.7])), '−10.00');
    const md = formatMarkdownTable(buildResultTable(outcomes)).split('\n');
    assert.equal(
      md[0],
      '| subset | build-up, entropy | compress, entropy | build-up, mutual information | build-up, random acquisition | random subset | full set | best AL − random |',
    );
    // Random acquisition scores higher at 400 but is not an active-learning subset.
    assert.equal(
      md[2],
      '| 400 (10%) | **72.00 ± 2.00** | 60.00 ± 0.00 | – | 75.00 ± 0.00 | 70.00 ± 0.00 | 86.00 ± 1.00 | +2.00 |',
    );
    assert.equal(
      md[3],
      '| 1000 (25%) | **82.00 ± 2.00** | 81.00 ± 0.00 | – | – | 79.00 ± 1.00 | 86.00 ± 1.00 | +3.00 |',
    );
  });

  it('puts the entropy search and the ablations side by side', () => {
    const table = buildResultTable(
      outcomes.filter((o) => ['entropy', 'finetune'].includes(o.experiment.name)),
      'all',
    );
    assert.deepEqual(
      table.columns.map((c) => c.name),
      ['entropy', 'finetune'],
    );
    assert.ok(Math.abs(table.rows[0].methods.finetune!.mean - 0.9) < 1e-12);
  });

  it('plots a line per method plus random subsets and the full set', async () => {
    const spec = accuracyPlotSpec(buildResultTable(outcomes), 'test');
    assert.ok(spec);
    const svg = await renderSvg(spec);
    assert.match(svg, /^<svg/);
    for (const label of ['build-up, entropy', 'compress, entropy', 'random subset', 'full set'])
      assert.ok(svg.includes(label), label);
    assert.equal(accuracyPlotSpec(buildResultTable([]), 'empty'), undefined);
  });

  it('counts classes of a subset and shows the smallest and largest count per subset', () => {
    const labels = [0, 1, 2, 2, 1, 0, 2];
    assert.deepEqual(classCounts([2, 3, 6, 0], labels, 4), [1, 0, 3, 0]);
    const md = formatBalanceTable(
      { 1000: { entropy: [5, 9, 7] }, 400: { entropy: [1, 2, 3], [RANDOM_SERIES]: [4, 4, 4] } },
      [byName('entropy'), byName('compress')],
    ).split('\n');
    assert.equal(md[0], '| subset | build-up, entropy | compress, entropy | random subset |');
    assert.equal(md[2], '| 400 | 1–3 | – | 4–4 |');
    assert.equal(md[3], '| 1000 | 5–9 | – | – |');
  });
});
