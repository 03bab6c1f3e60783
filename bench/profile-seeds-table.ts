/**
 * Pure part of `bench:profile-seeds`: a seeded profile's results across search seeds, per metric (detection:
 * mAP@[.5:.95] and mAP@.5; classification: accuracy, one block per evaluation model), each cell the mean ±
 * sample std over seeds of that seed's cell, then AL − random per seed.
 */
import type { SearchResult } from '../workflows/subset-search';
import type { AccuracySummary, EvaluationRow } from '../workflows/search-plan';

type Result = Omit<SearchResult, 'subsets'>;

export interface SeedRun {
  /** The results folder, e.g. convergence-seed-1. */
  dir: string;
  experiments: { name: string; result?: Result }[];
}

interface Metric {
  title: string;
  al(row: EvaluationRow): AccuracySummary | undefined;
  random(row: EvaluationRow): AccuracySummary | undefined;
  full(result: Result): AccuracySummary | undefined;
}

function metricsOf(result: Result): Metric[] {
  if (result.config.task === 'detection')
    return [
      { title: 'mAP@[.5:.95]', al: (r) => r.activeLearning, random: (r) => r.random, full: (x) => x.full },
      {
        title: 'mAP@.5',
        al: (r) => r.detection?.map50.activeLearning,
        random: (r) => r.detection?.map50.random,
        full: (x) => x.fullMap50,
      },
    ];
  const models = result.evaluations[0]?.models;
  if (!models)
    return [{ title: 'test accuracy', al: (r) => r.activeLearning, random: (r) => r.random, full: (x) => x.full }];
  return models.map((m, i) => ({
    title: `test accuracy, evaluated with ${m.model}${i === 0 ? ' (the first evaluation model)' : ''}`,
    al: (r) => r.models?.[i]?.activeLearning,
    random: (r) => r.models?.[i]?.random,
    full: (x) => x.fullByModel?.[i],
  }));
}

export function meanStd(values: readonly number[]): string {
  if (values.length === 0) return '–';
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const std = values.length > 1 ? Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (values.length - 1)) : 0;
  return `${(100 * mean).toFixed(2)} ± ${(100 * std).toFixed(2)}`;
}

const defined = <T>(values: (T | undefined)[]): T[] => values.filter((v): v is T => v !== undefined);

/** Markdown tables (one per metric) and the per-seed margins of every method over the random subset. */
export function seedTables(runs: readonly SeedRun[]): string {
  const resultOf = (run: SeedRun, name: string) => run.experiments.find((e) => e.name === name)?.result;
  const first = runs.map((r) => resultOf(r, 'entropy')).find((r) => r !== undefined);
  if (!first) return 'no seed has an entropy result yet';
  const methods = runs[0]!.experiments.map((e) => e.name);
  const sizes = first.evaluations.map((e) => e.size);
  const lines = [`${runs.length} search seeds: ${runs.map((r) => r.dir).join(', ')}`];
  for (const metric of metricsOf(first)) {
    lines.push('', `${metric.title} (%), mean ± std over seeds`, '');
    lines.push(`| subset | ${methods.join(' | ')} | random subset | full set |`);
    lines.push(`|---|${methods.map(() => '---:|').join('')}---:|---:|`);
    const rowOf = (run: SeedRun, name: string, size: number) =>
      resultOf(run, name)?.evaluations.find((e) => e.size === size);
    for (const size of sizes) {
      const cells = methods.map((name) =>
        meanStd(defined(runs.map((r) => rowOf(r, name, size)).map((row) => row && metric.al(row)?.mean))),
      );
      const random = meanStd(
        defined(runs.map((r) => rowOf(r, 'entropy', size)).map((row) => row && metric.random(row)?.mean)),
      );
      const full = meanStd(defined(runs.map((r) => resultOf(r, 'entropy')).map((x) => x && metric.full(x)?.mean)));
      lines.push(`| ${size} | ${cells.join(' | ')} | ${random} | ${full} |`);
    }
    lines.push('', `AL − random (${metric.title}, points), per seed and size:`);
    for (const name of methods)
      for (const r of runs) {
        const margins = sizes.map((size) => {
          const al = rowOf(r, name, size);
          const random = rowOf(r, 'entropy', size);
          const a = al && metric.al(al)?.mean;
          const b = random && metric.random(random)?.mean;
          return `${size}: ${a === undefined || b === undefined ? '–' : `${a >= b ? '+' : ''}${(100 * (a - b)).toFixed(2)}`}`;
        });
        lines.push(`- ${name}, ${r.dir}: ${margins.join(', ')}`);
      }
  }
  return lines.join('\n');
}
