import assert from 'node:assert/strict';
import { mkdtempSync, promises as fs, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, describe, it } from 'node:test';
import { openStore } from '../../domain/storage/open-store';
import { collectLineage } from '../../client/report/collect-lineage';
import { collectScoreHistograms } from '../../client/report/collect-score-histograms';
import { writeReport } from '../../client/report/write-report';
import { artifactPaths } from '../../contracts/artifact-paths';
import type { SearchProgress } from '../../workflows/definitions';
import { CLASSES, POOL, populateStore, resultOf, scoreOf, subsetIndices } from './report-fixtures';

const scratch = mkdtempSync(path.join(os.tmpdir(), 'winnow-report-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

async function freshStore(name: string, scoredRounds?: number[]) {
  const root = pathToFileURL(path.join(scratch, name, 'store')).href;
  const store = openStore(root);
  await populateStore(store, { scoredRounds });
  return { root, store };
}

/** Expected counts, binned here by comparing each score with the bin edges. */
function expectedCounts(round: number, min: number, max: number, bins: number): number[] {
  const inSubset = new Set(subsetIndices(round));
  const counts = new Array<number>(bins).fill(0);
  for (let i = 0; i < POOL; i++) {
    if (inSubset.has(i)) continue;
    const v = scoreOf(round, i);
    let b = 0;
    while (b < bins - 1 && v >= min + ((max - min) * (b + 1)) / bins) b++;
    counts[b]!++;
  }
  return counts;
}

describe('writeReport against a folder store', () => {
  it('writes a self-contained report with all three plots, the score histograms from the shards and the lineage', async () => {
    const { root } = await freshStore('full');
    const outputPath = path.join(scratch, 'full', 'out', 'nested', 'report.html');
    const written = await writeReport({
      result: resultOf(root),
      outputPath,
      numClasses: CLASSES,
      now: new Date('2025-02-03T04:05:06Z'),
    });
    assert.equal(written, path.resolve(outputPath));
    const html = await fs.readFile(written, 'utf8');
    assert.ok(html.startsWith('<!DOCTYPE html>'));
    assert.equal((html.match(/<svg[\s>]/g) ?? []).length, 5, 'accuracy, scores, class mix, acquired vs not, phases');
    assert.ok(!html.includes('class="missing"'), 'nothing reported missing');
    // Candidates per round: the pool minus the round's subset (300, then 600 samples).
    assert.ok(html.includes(`round 0 (${POOL - 300} scores)`));
    assert.ok(html.includes(`round 1 (${POOL - 600} scores)`));
    assert.ok(html.includes('cutoff 1.50') && html.includes('cutoff 1.20'));
    assert.ok(html.includes('[0, 2.303]'), 'bins over [0, ln 10]');
    assert.ok(html.includes('2025-02-03T04:05:06.000Z'));
    const lineage = html.slice(html.indexOf('<table class="lineage">'));
    const rows = lineage.slice(0, lineage.indexOf('</table>')).split('<tr>').slice(2);
    assert.equal(rows.length, 3, 'both evaluated subsets and their round-0 ancestor');
    assert.ok(rows[0]!.includes('<td>0</td>') && rows[0]!.includes('random') && rows[0]!.includes('none (start)'));
    assert.ok(html.includes(`relative to the storage root ${root}`));
    assert.ok(
      rows[2]!.includes(`<td class="uri">${artifactPaths.subset('report-fixture', 1)}</td>`),
      'round 2 names its parent',
    );
    assert.ok(rows[2]!.includes('<td>4</td>'), 'ensemble of 4 checkpoints');
  });

  it('bins each round exactly as counted independently, with the range fixed or observed', async () => {
    const { store } = await freshStore('bins');
    const fixed = await collectScoreHistograms({
      store,
      searchId: 'report-fixture',
      rounds: [0, 1],
      acquisitionFunction: 'entropy',
      numClasses: CLASSES,
      bins: 12,
      excludeSubset: true,
    });
    assert.equal(fixed.rangeSource, 'function');
    for (const r of [0, 1]) {
      assert.deepEqual(fixed.rounds[r]!.histogram!.counts, expectedCounts(r, 0, Math.log(CLASSES), 12), `round ${r}`);
      assert.equal(fixed.rounds[r]!.shards, 3);
    }
    const observed = await collectScoreHistograms({
      store,
      searchId: 'report-fixture',
      rounds: [0, 1],
      acquisitionFunction: 'entropy',
      bins: 7,
      excludeSubset: true,
    });
    assert.equal(observed.rangeSource, 'observed');
    let min = Infinity;
    let max = -Infinity;
    for (const r of [0, 1]) {
      const inSubset = new Set(subsetIndices(r));
      for (let i = 0; i < POOL; i++)
        if (!inSubset.has(i)) [min, max] = [Math.min(min, scoreOf(r, i)), Math.max(max, scoreOf(r, i))];
    }
    assert.deepEqual(observed.range, { min, max });
    assert.deepEqual(observed.rounds[1]!.histogram!.counts, expectedCounts(1, min, max, 7));
    const all = await collectScoreHistograms({
      store,
      searchId: 'report-fixture',
      rounds: [0],
      acquisitionFunction: 'margin',
      excludeSubset: false,
    });
    const h = all.rounds[0]!.histogram!;
    assert.equal(
      h.counts.reduce((a, b) => a + b, 0),
      POOL,
      'without exclusion every pool sample is counted',
    );
    assert.equal(
      h.clamped,
      Array.from({ length: POOL }, (_, i) => scoreOf(0, i)).filter((v) => v > 1).length,
      'scores above [0, 1] counted as clamped',
    );
  });

  it('notes rounds without score shards and still plots the others', async () => {
    const { root } = await freshStore('partial', [0]);
    const html = await fs.readFile(
      await writeReport({ result: resultOf(root), outputPath: path.join(scratch, 'partial.html') }),
      'utf8',
    );
    assert.equal((html.match(/<svg[\s>]/g) ?? []).length, 5);
    assert.ok(html.includes('Round 1: no score shards in the store for this round'));
    assert.ok(html.includes('observed over all rounds'), 'entropy without a class count uses the observed range');
  });

  it('reports a corrupt shard and a missing manifest in place, without failing', async () => {
    const { root, store } = await freshStore('corrupt');
    await fs.writeFile(
      path.join(scratch, 'corrupt', 'store', artifactPaths.scoreShard('report-fixture', 1, 2)),
      Buffer.from('garbage'),
    );
    await fs.rm(path.join(scratch, 'corrupt', 'store', artifactPaths.subset('report-fixture', 0)));
    const html = await fs.readFile(
      await writeReport({
        result: resultOf(root),
        outputPath: path.join(scratch, 'corrupt.html'),
        numClasses: CLASSES,
      }),
      'utf8',
    );
    assert.ok(/Round 1: score shards unreadable: [^<]*corrupt/.test(html), 'corrupt shard named');
    assert.ok(html.includes('Round 0: includes samples already in the subset'), 'round 0 could not exclude its subset');
    assert.ok(html.includes(`round 0 (${POOL} scores)`));
    assert.ok(/<td colspan="10" class="text missing">artifact [^<]*round-0\/subset.json does not exist/.test(html));
    const lineage = await collectLineage(store, [
      { size: 600, subsetUri: `${root}/${artifactPaths.subset('report-fixture', 1)}` },
    ]);
    assert.deepEqual(
      lineage.map((e) => [e.lineage?.round, e.evaluated, e.problem === undefined]),
      [
        [1, 600, true],
        [undefined, undefined, false],
      ],
    );
  });

  it('reports a running search from its progress and config', async () => {
    const { root } = await freshStore('running');
    const result = resultOf(root);
    const progress: SearchProgress = {
      searchId: result.searchId,
      phase: 'scoring',
      round: 2,
      subsetSize: 900,
      poolSize: POOL,
      targets: [600, 900, 1100],
      membersTrained: 2,
      members: 2,
      shardsScored: 0,
      shards: 3,
      rounds: result.rounds,
      evaluations: result.evaluations.slice(0, 1),
      paused: true,
      stopping: false,
      updatedAt: '2025-01-01T00:00:00.000Z',
    };
    const html = await fs.readFile(
      await writeReport({
        progress,
        config: result.config,
        storageRoot: root,
        outputPath: path.join(scratch, 'running.html'),
        numClasses: CLASSES,
      }),
      'utf8',
    );
    assert.ok(html.includes('still running: round 2, scoring · subset 900 samples · paused'));
    assert.equal((html.match(/<svg[\s>]/g) ?? []).length, 5);
    assert.ok(html.includes('Round 2: no score shards in the store for this round'));
    assert.ok(html.includes(`round 1 (${POOL - 600} scores)`));
  });

  it('says so when nothing is evaluated or scored yet', async () => {
    const root = pathToFileURL(path.join(scratch, 'empty-store')).href;
    const html = await fs.readFile(
      await writeReport({
        result: resultOf(root, { evaluations: [], rounds: [], full: undefined, subsets: {} }),
        outputPath: path.join(scratch, 'empty.html'),
      }),
      'utf8',
    );
    assert.equal((html.match(/<svg/g) ?? []).length, 0);
    assert.ok(html.includes('No subset has been evaluated yet'));
    assert.ok(html.includes('No round has been scored yet'));
    assert.ok(html.includes('No round has finished yet'));
  });

  it('says so when the store cannot be opened or does not answer', async () => {
    const unsupported = await fs.readFile(
      await writeReport({ result: resultOf('ftp://example/store'), outputPath: path.join(scratch, 'ftp.html') }),
      'utf8',
    );
    assert.ok(
      unsupported.includes('Score distributions not available: the store ftp://example/store cannot be opened'),
    );
    assert.ok(unsupported.includes('Lineage not available'));
    assert.equal((unsupported.match(/<svg/g) ?? []).length, 2, 'accuracy and phases need no store');

    // A port that refuses connections stands in for an unreachable bucket.
    const port = await new Promise<number>((resolve) => {
      const server = createServer();
      server.listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    });
    const started = Date.now();
    const gcs = await fs.readFile(
      await writeReport({
        result: resultOf('gs://winnow-test/store'),
        outputPath: path.join(scratch, 'gcs.html'),
        storeOptions: {
          gcs: {
            apiEndpoint: `http://127.0.0.1:${port}`,
            projectId: 'test',
            retry: { maxRetries: 1, totalTimeoutSeconds: 5, maxDelaySeconds: 1 },
          },
        },
      }),
      'utf8',
    );
    assert.ok(
      gcs.includes('Score distributions not available: the store gs://winnow-test/store did not answer'),
      'unreachable store named',
    );
    assert.ok(Date.now() - started < 15_000);
  });
});
