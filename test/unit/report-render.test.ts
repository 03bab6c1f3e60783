import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  accuracySpec,
  phaseTimeSpec,
  renderSvg,
  roundLabels,
  scoreHistogramSpec,
  taskPhaseSpec,
} from '../../client/report/charts';
import {
  cutoffsByRound,
  reportDataFromProgress,
  reportDataFromResult,
  scoredRounds,
} from '../../client/report/report-data';
import { escapeHtml, renderReport, type ReportParts } from '../../client/report/render-report';
import { addScores, createHistogram } from '../../client/report/score-histogram';
import type { SearchProgress } from '../../workflows/definitions';
import { accuracies, configOf, resultOf, rounds } from './report-fixtures';

const count = (text: string, pattern: RegExp) => (text.match(pattern) ?? []).length;

async function partsFor(data: ReturnType<typeof reportDataFromResult>): Promise<ReportParts> {
  const histogram = createHistogram({ min: 0, max: Math.log(10) }, 20);
  addScores(histogram, [0.1, 0.5, 1.4, 1.6, 2.2, 2.3]);
  return {
    accuracy: { svg: await renderSvg(accuracySpec(data)!) },
    scores: {
      svg: await renderSvg(scoreHistogramSpec([{ round: 0, histogram, cutoffs: [1.5] }], data.acquisitionFunction)!),
    },
    scoreNotes: [],
    phases: { svg: await renderSvg(phaseTimeSpec(data.rounds)!) },
    lineage: [],
    generatedAt: '2025-01-01T00:00:00.000Z',
  };
}

/** "mean ± std" in percent, from the runs (sample standard deviation). */
function expectedCell(runs: number[]): string {
  const mean = runs.reduce((a, b) => a + b, 0) / runs.length;
  const std = Math.sqrt(runs.reduce((a, b) => a + (b - mean) ** 2, 0) / (runs.length - 1));
  return `${(100 * mean).toFixed(2)} ± ${(100 * std).toFixed(2)}`;
}

describe('report rendering', () => {
  it('draws one SVG per plot, with the AL, random and full-set series and axis titles', async () => {
    const data = reportDataFromResult(resultOf('file:///tmp/store'));
    const html = renderReport(data, await partsFor(data));
    assert.equal(count(html, /<svg[\s>]/g), 3);
    assert.equal(count(html, /<\/svg>/g), 3);
    const [accuracy, scores, phases] = html.split('<svg').slice(1);
    for (const label of ['AL (entropy)', 'random subset', 'full set', 'subset size (samples)', 'test accuracy (%)'])
      assert.ok(accuracy!.includes(label), label);
    for (const label of ['acquisition score (entropy)', 'round 0 (6 scores)', 'cutoff 1.50', 'samples'])
      assert.ok(scores!.includes(label), label);
    for (const label of ['train', 'score', 'acquire', 'evaluate', 'seconds', 'round'])
      assert.ok(phases!.includes(label), label);
    assert.ok(!html.includes('<script'), 'no scripts');
    assert.ok(!/(href|src)="https?:/.test(html), 'no external resources');
  });

  it('plots compute-task seconds per phase for rounds that report them, and leaves the section out otherwise', async () => {
    const data = reportDataFromResult(resultOf('file:///tmp/store'));
    assert.equal(taskPhaseSpec(data.rounds), undefined, 'fixture rounds carry no task phases');
    assert.ok(!renderReport(data, await partsFor(data)).includes('Compute task time per phase'));

    const timed = [
      {
        ...rounds[0]!,
        taskSeconds: { train: { processStart: 0.7, backendInit: 0.4, compute: 9 }, score: { compute: 4 } },
      },
      rounds[1]!,
    ];
    const spec = taskPhaseSpec(timed)!;
    const values = (spec.data as { values: { bar: string; phase: string; seconds: number }[] }).values;
    assert.deepEqual([...new Set(values.map((v) => v.bar))], ['0 train', '0 score'], 'one bar per reported step');
    assert.equal(values.find((v) => v.bar === '0 train' && v.phase === 'compute')?.seconds, 9);
    assert.equal(values.find((v) => v.bar === '0 score' && v.phase === 'write')?.seconds, 0);
    const svg = await renderSvg(spec);
    for (const label of ['processStart', 'backendInit', 'compute', 'task seconds', '0 train', '0 score'])
      assert.ok(svg.includes(label), label);
    const html = renderReport(data, { ...(await partsFor(data)), taskPhases: { svg } });
    assert.ok(html.includes('<h2>Compute task time per phase</h2>'));
    assert.equal(count(html, /<svg[\s>]/g), 4);
  });

  it('shows the evaluation table with the accuracies worked out from the runs', async () => {
    const data = reportDataFromResult(resultOf('file:///tmp/store'));
    const html = renderReport(data, await partsFor(data));
    const table = html.slice(
      html.indexOf('<table class="evaluations">'),
      html.indexOf('</table>', html.indexOf('<table class="evaluations">')),
    );
    const rows = table.split('<tr>').slice(2);
    assert.equal(rows.length, 2);
    const cells = (row: string) => [...row.matchAll(/<td[^>]*>([^<]*)<\/td>/g)].map((m) => m[1]);
    const [r600, r900] = rows.map(cells);
    assert.deepEqual(r600!.slice(0, 5), [
      '600',
      '50.0%',
      expectedCell(accuracies.al600!.runs),
      expectedCell(accuracies.random600!.runs),
      expectedCell(accuracies.full!.runs),
    ]);
    assert.equal(r900![2], expectedCell(accuracies.al900!.runs));
    assert.equal(r600![5], `+${(100 * (0.82 - 0.79)).toFixed(2)}`);
  });

  it('escapes hostile strings from the config, the search id and the URIs', async () => {
    const hostile = '"><script>alert(1)</script><img src=x onerror=alert(2)>';
    const config = { ...configOf(), dataset: { kind: 'synthetic' as const, size: 1200, uri: hostile } };
    const result = resultOf('file:///tmp/store', { searchId: `id-${hostile}`, config });
    result.evaluations[0]!.subsetUri = `file:///tmp/${hostile}`;
    const data = reportDataFromResult(result);
    const html = renderReport(data, {
      ...(await partsFor(data)),
      scoreNotes: [`note ${hostile}`],
      lineage: [{ uri: `gs://b/${hostile}`, problem: `problem ${hostile}` }],
    });
    assert.ok(!/<script/i.test(html), 'no script tag survives');
    assert.ok(!/<img/i.test(html), 'no img tag survives');
    assert.ok(html.includes(escapeHtml(hostile)));
    assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });

  it('says what is missing instead of plotting when nothing is evaluated or timed yet', () => {
    const data = reportDataFromResult(resultOf('file:///tmp/store', { evaluations: [], rounds: [], full: undefined }));
    assert.equal(accuracySpec(data), undefined);
    assert.equal(phaseTimeSpec(data.rounds), undefined);
    assert.equal(scoreHistogramSpec([], 'entropy'), undefined);
    const html = renderReport(data, {
      accuracy: { missing: 'No subset has been evaluated yet.' },
      scores: { missing: 'No round has been scored yet.' },
      scoreNotes: [],
      phases: { missing: 'No round has finished yet.' },
      lineage: { missing: 'Lineage not available: the store did not answer' },
      generatedAt: '2025-01-01T00:00:00.000Z',
    });
    assert.equal(count(html, /<svg/g), 0);
    for (const text of [
      'No subset has been evaluated yet.',
      'No round has been scored yet.',
      'No round has finished yet.',
      'the store did not answer',
    ])
      assert.ok(html.includes(text), text);
  });

  it('omits the random series and error bars when the config has neither', async () => {
    const result = resultOf('file:///tmp/store');
    const single = (mean: number) => ({ mean, std: 0, runs: [mean] });
    result.evaluations = result.evaluations.map((e) => ({
      ...e,
      activeLearning: single(e.activeLearning.mean),
      random: undefined,
    }));
    const svg = await renderSvg(accuracySpec({ ...reportDataFromResult(result), full: single(0.9) })!);
    assert.ok(svg.includes('AL (entropy)') && svg.includes('full set'));
    assert.ok(!svg.includes('random subset'));
  });

  it('builds the same report data from the progress of a running search', () => {
    const result = resultOf('file:///tmp/store');
    const progress: SearchProgress = {
      searchId: result.searchId,
      phase: 'scoring',
      round: 2,
      subsetSize: 900,
      poolSize: 1200,
      targets: [600, 900, 1100],
      membersTrained: 2,
      members: 2,
      shardsScored: 1,
      shards: 3,
      rounds: result.rounds,
      evaluations: result.evaluations,
      full: result.full,
      paused: false,
      stopping: false,
      etaSeconds: 120,
      updatedAt: '2025-01-01T00:00:00.000Z',
    };
    const data = reportDataFromProgress(progress, result.config, 'file:///tmp/store');
    assert.equal(data.status.state, 'running');
    assert.deepEqual(data.targets, [600, 900, 1100]);
    assert.equal(data.storageRoot, 'file:///tmp/store');
    assert.deepEqual(scoredRounds(data), [0, 1, 2]);
    assert.deepEqual(scoredRounds(reportDataFromResult(result)), [0, 1]);
    const html = renderReport(data, {
      accuracy: { missing: 'x' },
      scores: { missing: 'x' },
      scoreNotes: [],
      phases: { missing: 'x' },
      lineage: [],
      generatedAt: 'now',
    });
    assert.ok(html.includes('still running: round 2, scoring'));
    assert.ok(html.includes('about 2 min left'));
  });

  it('groups cutoffs by round and labels repeated rounds (compress) by their size', () => {
    const compress = [
      { ...rounds[0]!, round: 0, subsetSize: 300, cutoffScore: 1.9 },
      { ...rounds[0]!, round: 0, subsetSize: 600, cutoffScore: 1.1 },
      { ...rounds[1]!, cutoffScore: null },
    ];
    assert.deepEqual([...cutoffsByRound(compress)], [[0, [1.9, 1.1]]]);
    assert.deepEqual(roundLabels(compress), ['0 → 300', '0 → 600', '1']);
  });
});

describe('report rendering: detection', () => {
  it('names mAP, adds the mAP@.5 table and the box previews (or why one is missing)', async () => {
    const detectionConfig = configOf({
      task: 'detection',
      dataset: { format: 'scenes', seed: 2, train: 1200, test: 100, size: 64 },
    });
    const base = resultOf('file:///tmp/store');
    const map50 = { mean: 0.31, std: 0, runs: [0.31] };
    const result = {
      ...base,
      config: detectionConfig,
      fullMap50: { mean: 0.42, std: 0, runs: [0.42] },
      evaluations: base.evaluations.map((e, i) => ({
        ...e,
        detection: { map50: { activeLearning: i === 0 ? map50 : { mean: 0.35, std: 0, runs: [0.35] } }, previews: {} },
      })),
    };
    const data = reportDataFromResult(result);
    const parts = {
      ...(await partsFor(data)),
      previews: [
        {
          caption: 'AL subset of 900, test image 7: 2 boxes drawn, 3 objects',
          image: { dataUri: 'data:image/png;base64,iVBORw0KGgo=' },
        },
        {
          caption: 'random subset of 900, test image 7',
          image: { missing: 'file:///tmp/store/x/0.png could not be read: gone' },
        },
      ],
    };
    const html = renderReport(data, parts);
    assert.match(html, /<h2>mAP@\[\.5:\.95\] vs\. subset size<\/h2>/);
    assert.match(html, /<dd>generated scenes \(seed 2, 1200 train \/ 100 test, 64x64\)<\/dd>/);
    assert.match(html, /per class-map cell, max over cells/);
    const table = html.slice(
      html.indexOf('<table class="map50">'),
      html.indexOf('</table>', html.indexOf('<table class="map50">')),
    );
    assert.match(table, /<td>600<\/td><td>31\.00<\/td><td>–<\/td><td>42\.00<\/td>/);
    assert.match(table, /<td>900<\/td><td>35\.00<\/td>/);
    assert.equal(count(html, /<img src="data:image\/png;base64,iVBORw0KGgo="/g), 1);
    assert.ok(html.includes('could not be read: gone'));
    const [accuracy] = html.split('<svg').slice(1);
    assert.ok(accuracy!.includes('mAP@[.5:.95] (%)'), 'the plot names the metric');
  });
});
