/**
 * The report's "what was chosen" pieces against a folder store written like a
 * two-round build-up: class mix counted from the manifests and the labels,
 * gallery extremes, and candidates split into acquired and not acquired,
 * each checked against a count made here from the fixture's own rules.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, promises as fs, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, describe, it } from 'node:test';
import { collectChosenSamples } from '../../client/report/collect-chosen';
import { collectExtremes } from '../../client/report/score-extremes';
import { writeReport } from '../../client/report/write-report';
import { openDataset } from '../../domain/data';
import { openStore } from '../../domain/storage/open-store';
import { CLASSES, POOL, configOf, populateStore, resultOf, scoreOf, subsetIndices } from './report-fixtures';

const scratch = mkdtempSync(path.join(os.tmpdir(), 'winnow-report-chosen-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

describe('score extremes', () => {
  it('keeps the highest and lowest finite scores, lower index first on ties, skipping excluded samples', () => {
    const c = collectExtremes(2);
    c.add([0.5, 0.9, NaN, 0.1], 10);
    c.add([0.9, 0.05, 0.7], 20, new Set([21]));
    const { most, least } = c.result();
    assert.deepEqual(most, [
      { index: 11, score: 0.9 },
      { index: 20, score: 0.9 },
    ]);
    assert.deepEqual(least, [
      { index: 13, score: 0.1 },
      { index: 10, score: 0.5 },
    ]);
    assert.throws(() => collectExtremes(0), /positive integer/);
  });
});

describe('what was chosen', () => {
  it('counts class mix, picks the extremes and splits the candidates as counted independently', async () => {
    const root = pathToFileURL(path.join(scratch, 'store')).href;
    const store = openStore(root);
    await populateStore(store);
    const dataset = await openDataset(configOf().dataset as Parameters<typeof openDataset>[0]);
    const labels = await dataset.readLabels('train');
    const result = resultOf(root);
    const chosen = await collectChosenSamples({
      store,
      searchId: 'report-fixture',
      dataset,
      evaluations: result.evaluations,
      rounds: [0, 1],
      range: { min: 0, max: Math.log(CLASSES) },
      bins: 20,
      perSide: 5,
    });
    assert.equal(chosen.problem, undefined);
    const count = (indices: number[]) => {
      const counts = new Array<number>(CLASSES).fill(0);
      for (const i of indices) counts[labels[i]!]!++;
      return counts;
    };
    assert.deepEqual(
      chosen.classMix.map((b) => b.subset),
      ['start (300)', 'AL 600', 'AL 900', 'pool'],
    );
    assert.deepEqual(chosen.classMix[1]!.counts, count(subsetIndices(1)));
    assert.equal(
      chosen.classMix[3]!.counts.reduce((a, b) => a + b, 0),
      POOL,
    );
    for (const round of [0, 1]) {
      const inSubset = new Set(subsetIndices(round));
      const next = new Set(subsetIndices(round + 1));
      const candidates = Array.from({ length: POOL }, (_, i) => i).filter((i) => !inSubset.has(i));
      const byScore = [...candidates].sort((a, b) => scoreOf(round, b) - scoreOf(round, a) || a - b);
      const r = chosen.rounds[round]!;
      assert.deepEqual(
        r.most.map((t) => t.index),
        byScore.slice(0, 5),
        `round ${round}: most uncertain`,
      );
      assert.deepEqual(
        r.least.map((t) => t.index),
        [...candidates].sort((a, b) => scoreOf(round, a) - scoreOf(round, b) || a - b).slice(0, 5),
        `round ${round}: least uncertain`,
      );
      assert.ok(r.most.every((t) => t.dataUri.startsWith('data:image/png;base64,')));
      const acquired = candidates.filter((i) => next.has(i)).length;
      assert.equal(
        r.acquired!.counts.reduce((a, b) => a + b, 0),
        acquired,
      );
      assert.equal(
        r.left!.counts.reduce((a, b) => a + b, 0),
        candidates.length - acquired,
      );
    }
  });

  it('puts the class mix, the galleries and the acquired-vs-left plot into the report', async () => {
    const root = pathToFileURL(path.join(scratch, 'report-store')).href;
    await populateStore(openStore(root));
    const html = await fs.readFile(
      await writeReport({ result: resultOf(root), outputPath: path.join(scratch, 'r.html'), numClasses: CLASSES }),
      'utf8',
    );
    assert.ok(html.includes('<h2>What was chosen</h2>'));
    const mix = html.slice(html.indexOf('figure-class-mix') - 40);
    assert.ok(html.includes('share of the subset') && html.includes('start (300)'), mix.slice(0, 200));
    assert.equal((html.match(/<div class="gallery" data-round="/g) ?? []).length, 2);
    assert.equal((html.match(/<figure class="tile"><img src="data:image\/png;base64,/g) ?? []).length, 2 * 2 * 8);
    assert.ok(html.includes('acquired this round') && html.includes('not acquired'));
  });
});
