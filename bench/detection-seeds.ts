/**
 * The detection profile across search seeds: reads bench/results/detection/
 * (seed 0) and bench/results/detection-seed-<N>/ (written by
 * `npm run bench:reproduce -- --detection --seed=N`) and prints, per subset
 * size and method, the mean ± sample std over seeds of each seed's cell (itself
 * the mean of 3 fresh detectors), for mAP@[.5:.95] and mAP@.5, and the AL − random
 * margin per seed:
 *
 *   node dist/bench/detection-seeds.js
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../infra/tools';
import type { SearchResult } from '../workflows/subset-search';

interface ResultsFile {
  experiments: { name: string; result?: Omit<SearchResult, 'subsets'> }[];
}

type Metric = 'map' | 'map50';

function meanStd(values: number[]): string {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const std = values.length > 1 ? Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (values.length - 1)) : 0;
  return `${(100 * mean).toFixed(2)} ± ${(100 * std).toFixed(2)}`;
}

function main(): void {
  const root = path.join(repoRoot(), 'bench', 'results');
  const dirs = readdirSync(root).filter(
    (d) => /^detection(-seed-\d+)?$/.test(d) && existsSync(path.join(root, d, 'results.json')),
  );
  if (dirs.length === 0)
    throw new Error(`no detection results under ${root}; run npm run bench:reproduce -- --detection`);
  const runs = dirs.map((d) => ({
    dir: d,
    file: JSON.parse(readFileSync(path.join(root, d, 'results.json'), 'utf8')) as ResultsFile,
  }));
  console.log(`${runs.length} search seeds: ${runs.map((r) => r.dir).join(', ')}`);
  for (const metric of ['map', 'map50'] as Metric[]) {
    console.log(`\n${metric === 'map' ? 'mAP@[.5:.95]' : 'mAP@.5'} (%), mean ± std over seeds`);
    const entropy = runs.map((r) => r.file.experiments.find((e) => e.name === 'entropy')?.result);
    const sizes = entropy[0]?.evaluations.map((e) => e.size) ?? [];
    const methods = runs[0]!.file.experiments.map((e) => e.name);
    console.log(`| subset | ${methods.join(' | ')} | random subset | full set |`);
    console.log(`|---|${methods.map(() => '---:|').join('')}---:|---:|`);
    for (const size of sizes) {
      const cells = methods.map((name) => {
        const values = runs.flatMap((r) => {
          const row = r.file.experiments.find((e) => e.name === name)?.result?.evaluations.find((e) => e.size === size);
          const v = metric === 'map' ? row?.activeLearning.mean : row?.detection?.map50.activeLearning.mean;
          return v === undefined ? [] : [v];
        });
        return values.length ? meanStd(values) : '–';
      });
      const baseline = (pick: 'random' | 'full') =>
        meanStd(
          entropy.flatMap((result) => {
            if (!result) return [];
            const row = result.evaluations.find((e) => e.size === size);
            const v =
              pick === 'random'
                ? metric === 'map'
                  ? row?.random?.mean
                  : row?.detection?.map50.random?.mean
                : metric === 'map'
                  ? result.full?.mean
                  : result.fullMap50?.mean;
            return v === undefined ? [] : [v];
          }),
        );
      console.log(`| ${size} | ${cells.join(' | ')} | ${baseline('random')} | ${baseline('full')} |`);
    }
  }
  console.log('\nAL (entropy) − random, mAP@[.5:.95] points, per seed');
  for (const r of runs) {
    const result = r.file.experiments.find((e) => e.name === 'entropy')?.result;
    const margins = (result?.evaluations ?? []).map(
      (e) => `${e.size}: ${e.random ? (100 * (e.activeLearning.mean - e.random.mean)).toFixed(2) : '–'}`,
    );
    console.log(`  ${r.dir}: ${margins.join(', ')}`);
  }
}

main();
