/**
 * The reproduction's results, pure: per target size and method the mean ±
 * std test accuracy of the search's subsets, of random subsets of equal size
 * and of the full set; as markdown and as a vega-lite accuracy plot.
 */
import type { ChartSpec } from '../client/report/charts';
import type { AccuracySummary } from '../workflows/search-plan';
import type { SearchResult } from '../workflows/subset-search';
import type { Experiment } from './reproduce-plan';

/** An experiment and what became of it. */
export interface ExperimentOutcome {
  experiment: Experiment;
  workflowId: string;
  /** How this run got the result: a fresh or resumed search, or one finished earlier. */
  how?: 'started' | 'resumed' | 'awaited' | 'reused';
  result?: SearchResult;
  error?: string;
}

export interface ResultRow {
  size: number;
  fraction: number;
  /** Per experiment name: accuracy of its subset of this size. */
  methods: Record<string, AccuracySummary | undefined>;
  random?: AccuracySummary;
}

export interface ResultTable {
  /** Experiments in column order. */
  columns: Experiment[];
  rows: ResultRow[];
  full?: AccuracySummary;
}

/** Rows for every size any of the experiments evaluated; the baselines come from whichever search trained them. */
export function buildResultTable(
  outcomes: readonly ExperimentOutcome[],
  role: Experiment['role'] | 'all' = 'main',
): ResultTable {
  const chosen = outcomes.filter((o) => role === 'all' || o.experiment.role === role);
  const bySize = new Map<number, ResultRow>();
  let full: AccuracySummary | undefined;
  // Baselines may come from any outcome, also one not in the chosen columns.
  for (const o of outcomes) {
    if (!full && o.result?.full) full = o.result.full;
  }
  const rowAt = (size: number, fraction: number): ResultRow => {
    let row = bySize.get(size);
    if (!row) {
      row = { size, fraction, methods: {} };
      bySize.set(size, row);
    }
    return row;
  };
  for (const o of chosen) {
    for (const e of o.result?.evaluations ?? [])
      rowAt(e.size, e.fraction).methods[o.experiment.name] = e.activeLearning;
  }
  for (const o of outcomes) {
    for (const e of o.result?.evaluations ?? []) {
      if (e.random && bySize.has(e.size) && !bySize.get(e.size)!.random) bySize.get(e.size)!.random = e.random;
    }
  }
  return { columns: chosen.map((o) => o.experiment), rows: [...bySize.values()].sort((a, b) => a.size - b.size), full };
}

/** Accuracy in percent, "mean ± std" over the repeats (sample std), "–" when missing. */
export function formatSummary(summary: AccuracySummary | undefined): string {
  if (!summary) return '–';
  const mean = (100 * summary.mean).toFixed(2);
  return summary.runs.length > 1 ? `${mean} ± ${(100 * summary.std).toFixed(2)}` : mean;
}

/** Percentage points a minus b, signed. */
export function formatGain(a: AccuracySummary | undefined, b: AccuracySummary | undefined): string {
  if (!a || !b) return '–';
  const d = 100 * (a.mean - b.mean);
  return `${d >= 0 ? '+' : '−'}${Math.abs(d).toFixed(2)}`;
}

/** Does the experiment choose samples by uncertainty (not by random scores)? */
export function usesUncertainty(experiment: Experiment): boolean {
  return experiment.config.acquisition?.function !== 'random';
}

/**
 * Markdown: one row per size, a column per method, then random subset and
 * full set. The best uncertainty-chosen subset is in bold, and its gain over
 * the random subset ends the row (random acquisition is a random subset too,
 * so it is never "best").
 */
export function formatMarkdownTable(table: ResultTable): string {
  const header = ['subset', ...table.columns.map((c) => c.label), 'random subset', 'full set', 'best AL − random'];
  const lines = [`| ${header.join(' | ')} |`, `|${header.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`];
  for (const row of table.rows) {
    const summaries = table.columns.map((c) => row.methods[c.name]);
    const means = summaries.map((s, i) => (s && usesUncertainty(table.columns[i]) ? s.mean : -Infinity));
    const best = Math.max(...means);
    const bestSummary = best === -Infinity ? undefined : summaries[means.indexOf(best)];
    const cells = summaries.map((s, i) => (s && means[i] === best ? `**${formatSummary(s)}**` : formatSummary(s)));
    lines.push(
      `| ${row.size} (${(100 * row.fraction).toFixed(0)}%) | ${cells.join(' | ')} | ${formatSummary(row.random)} | ${formatSummary(table.full)} | ${formatGain(bestSummary, row.random)} |`,
    );
  }
  return lines.join('\n');
}

const colours = ['#1f77b4', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22', '#7f7f7f'];
const randomColour = '#ff7f0e';
const fullColour = '#2ca02c';
export const RANDOM_SERIES = 'random subset';
export const FULL_SERIES = 'full set';

/** Test accuracy (%) against subset size: a line per method, random subsets dashed, error bars mean ± std, the full set as a dashed rule over its ± std band. */
export function accuracyPlotSpec(table: ResultTable, title: string): ChartSpec | undefined {
  if (table.rows.length === 0) return undefined;
  const points: { series: string; size: number; mean: number; lo: number; hi: number }[] = [];
  const add = (series: string, size: number, s: AccuracySummary | undefined): void => {
    if (s) points.push({ series, size, mean: 100 * s.mean, lo: 100 * (s.mean - s.std), hi: 100 * (s.mean + s.std) });
  };
  for (const row of table.rows) {
    for (const c of table.columns) add(c.label, row.size, row.methods[c.name]);
    add(RANDOM_SERIES, row.size, row.random);
  }
  const series = [
    ...table.columns.map((c) => c.label),
    ...(points.some((p) => p.series === RANDOM_SERIES) ? [RANDOM_SERIES] : []),
    ...(table.full ? [FULL_SERIES] : []),
  ];
  const range = series.map((s, i) =>
    s === RANDOM_SERIES ? randomColour : s === FULL_SERIES ? fullColour : colours[i % colours.length],
  );
  const colour = {
    field: 'series',
    type: 'nominal',
    title: null,
    scale: { domain: series, range },
    legend: { orient: 'right' },
  } as const;
  const x = {
    field: 'size',
    type: 'quantitative',
    title: 'subset size (training samples)',
    scale: { zero: false, padding: 16 },
    axis: { format: '~s' },
  } as const;
  const y = {
    field: 'mean',
    type: 'quantitative',
    title: 'test accuracy (%)',
    scale: { zero: false, padding: 8 },
  } as const;
  const methods = points.filter((p) => p.series !== RANDOM_SERIES);
  const random = points.filter((p) => p.series === RANDOM_SERIES);
  const layer: unknown[] = [
    {
      data: { values: methods },
      mark: { type: 'line', point: { size: 40 }, strokeWidth: 2 },
      encoding: { x, y, color: colour },
    },
    {
      data: { values: random },
      mark: { type: 'line', point: { size: 40 }, strokeWidth: 2.5, strokeDash: [6, 3] },
      encoding: { x, y, color: colour },
    },
    {
      data: { values: points },
      mark: { type: 'errorbar', ticks: true },
      encoding: { x, y: { field: 'lo', type: 'quantitative', title: y.title }, y2: { field: 'hi' }, color: colour },
    },
  ];
  if (table.full) {
    const f = table.full;
    const full = { series: FULL_SERIES, mean: 100 * f.mean, lo: 100 * (f.mean - f.std), hi: 100 * (f.mean + f.std) };
    layer.push({
      data: { values: [full] },
      mark: { type: 'rect', opacity: 0.12, color: fullColour },
      encoding: { y: { field: 'lo', type: 'quantitative', title: y.title }, y2: { field: 'hi' } },
    });
    layer.push({
      data: { values: [full] },
      mark: { type: 'rule', strokeDash: [6, 4], strokeWidth: 2 },
      encoding: { y, color: colour },
    });
  }
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    config: {
      background: 'white',
      font: 'sans-serif',
      axis: { labelFontSize: 12, titleFontSize: 13 },
      legend: { labelFontSize: 12, labelLimit: 280 },
    },
    width: 560,
    height: 340,
    layer,
  } as ChartSpec;
}

/** Samples per class among `indices` of a split whose labels are `labels`. */
export function classCounts(indices: ArrayLike<number>, labels: ArrayLike<number>, numClasses: number): number[] {
  const counts = new Array<number>(numClasses).fill(0);
  for (let i = 0; i < indices.length; i++) counts[labels[indices[i]]]++;
  return counts;
}

/** Class counts per size, per experiment name (and RANDOM_SERIES for the random subsets). */
export type ClassBalance = Record<string, Record<string, number[]>>;

/** Markdown: per size and subset, the smallest and largest class count ("2–105"). */
export function formatBalanceTable(balance: ClassBalance, columns: readonly Experiment[]): string {
  const names = [...columns.map((c) => c.name), RANDOM_SERIES];
  const header = ['subset', ...columns.map((c) => c.label), RANDOM_SERIES];
  const lines = [`| ${header.join(' | ')} |`, `|${header.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`];
  const sizes = Object.keys(balance)
    .map(Number)
    .sort((a, b) => a - b);
  for (const size of sizes) {
    const cells = names.map((n) => {
      const counts = balance[size][n];
      return counts ? `${Math.min(...counts)}–${Math.max(...counts)}` : '–';
    });
    lines.push(`| ${size} | ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}
