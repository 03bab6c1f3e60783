/**
 * The report's plots as vega-lite specs (pure data in, spec out), and
 * renderSvg, which compiles one and draws it to an SVG string server-side.
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { metricName } from '../../contracts/config';
import { taskPhases } from '../../contracts/task-phases';
import type { RoundSummary } from '../../workflows/search-plan';
import { activeLearningLabel, FULL_LABEL, RANDOM_LABEL, type ReportData } from './report-data';
import { binEdge, type ScoreHistogram } from './score-histogram';

export type ChartSpec = TopLevelSpec;

const palette = { al: '#1f77b4', random: '#ff7f0e', full: '#2ca02c', cutoff: '#d62728' };
export const phases = ['train', 'score', 'acquire', 'evaluate'] as const;
const phaseColours = ['#4c78a8', '#f58518', '#54a24b', '#b279a2'];

const config = {
  background: 'white',
  font: 'sans-serif',
  axis: { labelFontSize: 12, titleFontSize: 13, titlePadding: 8 },
  legend: { labelFontSize: 12, titleFontSize: 12, labelLimit: 260 },
  header: { labelFontSize: 13, titleFontSize: 13 },
  view: { stroke: '#ccc' },
};

interface AccuracyPoint {
  series: string;
  size: number;
  mean: number;
  lo: number;
  hi: number;
  runs: number;
}

/** Test accuracy (%) against subset size: AL and random as lines, the full set as a horizontal rule; error bars (mean ± std) where repeated. */
export function accuracySpec(data: ReportData): ChartSpec | undefined {
  if (data.evaluations.length === 0) return undefined;
  const al = activeLearningLabel(data);
  const points: AccuracyPoint[] = [];
  const point = (series: string, size: number, s: { mean: number; std: number; runs: number[] }): AccuracyPoint => ({
    series,
    size,
    mean: 100 * s.mean,
    lo: 100 * (s.mean - s.std),
    hi: 100 * (s.mean + s.std),
    runs: s.runs.length,
  });
  for (const e of data.evaluations) {
    points.push(point(al, e.size, e.activeLearning));
    if (e.random) points.push(point(RANDOM_LABEL, e.size, e.random));
  }
  const full = data.full ? point(FULL_LABEL, 0, data.full) : undefined;
  const series = [
    al,
    ...(points.some((p) => p.series === RANDOM_LABEL) ? [RANDOM_LABEL] : []),
    ...(full ? [FULL_LABEL] : []),
  ];
  const colours = series.map((s) => (s === al ? palette.al : s === RANDOM_LABEL ? palette.random : palette.full));
  const colour = {
    field: 'series',
    type: 'nominal',
    title: null,
    scale: { domain: series, range: colours },
    legend: { orient: 'bottom' },
  } as const;
  const x = {
    field: 'size',
    type: 'quantitative',
    title: 'subset size (samples)',
    scale: { zero: false, padding: 24 },
    axis: { format: '~s' },
  } as const;
  const y = {
    field: 'mean',
    type: 'quantitative',
    title: `${metricName(data.config.task)} (%)`,
    scale: { zero: false, padding: 12 },
  } as const;
  const layer: unknown[] = [
    {
      data: { values: points },
      mark: { type: 'line', point: { size: 50 }, strokeWidth: 2 },
      encoding: { x, y, color: colour },
    },
  ];
  if (points.some((p) => p.runs > 1)) {
    layer.push({
      data: { values: points.filter((p) => p.runs > 1) },
      mark: { type: 'errorbar', ticks: true },
      encoding: { x, y: { field: 'lo', type: 'quantitative', title: y.title }, y2: { field: 'hi' }, color: colour },
    });
  }
  if (full) {
    if (full.runs > 1) {
      layer.push({
        data: { values: [full] },
        mark: { type: 'rect', opacity: 0.12, color: palette.full },
        encoding: { y: { field: 'lo', type: 'quantitative', title: y.title }, y2: { field: 'hi' } },
      });
    }
    layer.push({
      data: { values: [full] },
      mark: { type: 'rule', strokeDash: [6, 4], strokeWidth: 2 },
      encoding: { y, color: colour },
    });
  }
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    config,
    width: 640,
    height: 320,
    layer,
  } as ChartSpec;
}

export interface HistogramPanel {
  round: number;
  histogram: ScoreHistogram;
  /** Lowest scores acquired from this round's scores (one per target under compress). */
  cutoffs: number[];
}

/** One small histogram per round, the round's cutoff score(s) as a red rule. */
export function scoreHistogramSpec(panels: readonly HistogramPanel[], scoreName: string): ChartSpec | undefined {
  if (panels.length === 0) return undefined;
  const label = (p: HistogramPanel) => `round ${p.round} (${p.histogram.counts.reduce((a, b) => a + b, 0)} scores)`;
  const rows: Record<string, unknown>[] = [];
  for (const p of panels) {
    const { range, counts } = p.histogram;
    counts.forEach((count, i) =>
      rows.push({
        panel: label(p),
        kind: 'bin',
        x0: binEdge(range, counts.length, i),
        x1: binEdge(range, counts.length, i + 1),
        count,
      }),
    );
    for (const score of p.cutoffs)
      rows.push({ panel: label(p), kind: 'cutoff', score, text: `cutoff ${formatScore(score)}` });
  }
  const { range } = panels[0]!.histogram;
  const x = {
    type: 'quantitative' as const,
    title: `acquisition score (${scoreName})`,
    scale: { domain: [range.min, range.max], nice: false },
  };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    config,
    data: { values: rows },
    facet: { field: 'panel', type: 'ordinal', sort: panels.map(label), title: null },
    columns: Math.min(3, panels.length),
    spec: {
      width: 230,
      height: 140,
      layer: [
        {
          transform: [{ filter: "datum.kind === 'bin'" }],
          mark: { type: 'rect', color: palette.al, stroke: 'white', strokeWidth: 0.5 },
          encoding: {
            x: { ...x, field: 'x0' },
            x2: { field: 'x1' },
            y: { field: 'count', type: 'quantitative', title: 'samples' },
            y2: { datum: 0 },
          },
        },
        {
          transform: [{ filter: "datum.kind === 'cutoff'" }],
          mark: { type: 'rule', color: palette.cutoff, strokeWidth: 2 },
          encoding: { x: { ...x, field: 'score' } },
        },
        {
          transform: [{ filter: "datum.kind === 'cutoff'" }],
          mark: { type: 'text', color: palette.cutoff, align: 'left', dx: 4, dy: 2, baseline: 'top', fontSize: 11 },
          encoding: { x: { ...x, field: 'score' }, y: { value: 0 }, text: { field: 'text' } },
        },
      ],
    },
    resolve: { scale: { y: 'independent' }, axis: { x: 'independent' } },
  } as ChartSpec;
}

function formatScore(v: number): string {
  return Math.abs(v) >= 100 || v === 0 ? String(Number(v.toFixed(2))) : v.toPrecision(3);
}

/** x-axis labels of the rounds: the round number, with the resulting size when a round appears more than once (compress). */
export function roundLabels(rounds: readonly RoundSummary[]): string[] {
  const seen = new Map<number, number>();
  for (const r of rounds) seen.set(r.round, (seen.get(r.round) ?? 0) + 1);
  return rounds.map((r) => (seen.get(r.round)! > 1 ? `${r.round} → ${r.subsetSize}` : String(r.round)));
}

interface StackedRow {
  bar: string;
  phase: string;
  order: number;
  seconds: number;
}

/** Bars of seconds stacked by phase, bars in `bars` order, phases coloured in `phaseDomain` order. */
function stackedSecondsSpec(
  rows: StackedRow[],
  bars: string[],
  axes: { x: string; y: string; labelAngle: number; barWidth: number },
  phaseDomain: readonly string[],
  colours: string[],
): ChartSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    config,
    width: Math.max(240, Math.min(900, axes.barWidth * bars.length)),
    height: 260,
    data: { values: rows },
    mark: { type: 'bar' },
    encoding: {
      x: { field: 'bar', type: 'ordinal', sort: bars, title: axes.x, axis: { labelAngle: axes.labelAngle } },
      y: { field: 'seconds', type: 'quantitative', aggregate: 'sum', title: axes.y, stack: 'zero' },
      color: {
        field: 'phase',
        type: 'nominal',
        title: 'phase',
        scale: { domain: [...phaseDomain], range: colours },
        legend: { orient: 'right' },
      },
      order: { field: 'order', type: 'quantitative' },
    },
  } as ChartSpec;
}

/** Seconds per phase per round, stacked. */
export function phaseTimeSpec(rounds: readonly RoundSummary[]): ChartSpec | undefined {
  if (rounds.length === 0) return undefined;
  const labels = roundLabels(rounds);
  const rows = rounds.flatMap((r, i) =>
    phases.map((phase, order) => ({ bar: labels[i]!, phase, order, seconds: r.seconds[phase] })),
  );
  const axes = { x: 'round', y: 'seconds', labelAngle: 0, barWidth: 48 };
  return stackedSecondsSpec(rows, labels, axes, phases, phaseColours);
}

const taskSteps = ['train', 'score', 'evaluate'] as const;
const taskPhaseColours = ['#9d9d9d', '#bab0ac', '#b279a2', '#72b7b2', '#eeca3b', '#4c78a8', '#f58518'];

/**
 * Compute-task seconds per phase (process start, backend init, ..., compute, write), one bar per round
 * and step, stacked by phase: where the tasks' time went, summed over parallel tasks. Undefined when no
 * round carries task phases (searches recorded before tasks reported them).
 */
export function taskPhaseSpec(rounds: readonly RoundSummary[]): ChartSpec | undefined {
  if (!rounds.some((r) => r.taskSeconds)) return undefined;
  const labels = roundLabels(rounds);
  const bars: string[] = [];
  const rows = rounds.flatMap((r, i) =>
    taskSteps.flatMap((step) => {
      const sums = r.taskSeconds?.[step];
      if (!sums) return [];
      const bar = `${labels[i]} ${step}`;
      bars.push(bar);
      return taskPhases.map((phase, order) => ({ bar, phase, order, seconds: sums[phase] ?? 0 }));
    }),
  );
  const axes = { x: 'round and step', y: 'task seconds', labelAngle: -30, barWidth: 40 };
  return stackedSecondsSpec(rows, bars, axes, taskPhases, taskPhaseColours);
}

/** Compiles a vega-lite spec and renders it to an SVG string, without a browser or canvas. */
export async function renderSvg(spec: ChartSpec): Promise<string> {
  const compiled = compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none', logLevel: vega.Error });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Share of each class (%) in each subset, as 100%-stacked bars: the start, every AL subset, its random twin, the pool. */
export function classMixSpec(
  bars: readonly { subset: string; counts: number[] }[],
  classNames: string[],
): ChartSpec | undefined {
  if (bars.length === 0) return undefined;
  const rows = bars.flatMap((bar) =>
    bar.counts.map((count, k) => ({ subset: bar.subset, class: classNames[k] ?? `class ${k}`, order: k, count })),
  );
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    config,
    width: Math.max(240, 46 * bars.length),
    height: 220,
    data: { values: rows },
    mark: { type: 'bar' },
    encoding: {
      x: { field: 'subset', type: 'nominal', sort: bars.map((b) => b.subset), title: null, axis: { labelAngle: -30 } },
      y: {
        field: 'count',
        type: 'quantitative',
        stack: 'normalize',
        title: 'share of the subset',
        axis: { format: '%' },
      },
      color: { field: 'class', type: 'nominal', sort: classNames, title: 'class', scale: { scheme: 'tableau20' } },
      order: { field: 'order', type: 'quantitative' },
      tooltip: [{ field: 'subset' }, { field: 'class' }, { field: 'count' }],
    },
  } as ChartSpec;
}

/** Per round, the scores of the candidates it acquired against those it left, as overlaid histograms. */
export function acquiredScoresSpec(
  panels: readonly { round: number; acquired: ScoreHistogram; left: ScoreHistogram }[],
  scoreName: string,
): ChartSpec | undefined {
  if (panels.length === 0) return undefined;
  const series = ['acquired this round', 'not acquired'];
  const rows: Record<string, unknown>[] = [];
  for (const p of panels) {
    for (const [name, histogram] of [
      [series[0], p.acquired],
      [series[1], p.left],
    ] as const) {
      const { range, counts } = histogram;
      counts.forEach((count, i) =>
        rows.push({
          panel: `round ${p.round}`,
          series: name,
          x0: binEdge(range, counts.length, i),
          x1: binEdge(range, counts.length, i + 1),
          count,
        }),
      );
    }
  }
  const { range } = panels[0]!.acquired;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    config,
    data: { values: rows },
    facet: { field: 'panel', type: 'ordinal', sort: panels.map((p) => `round ${p.round}`), title: null },
    columns: Math.min(3, panels.length),
    spec: {
      width: 230,
      height: 140,
      mark: { type: 'rect', opacity: 0.75, stroke: 'white', strokeWidth: 0.5 },
      encoding: {
        x: {
          field: 'x0',
          type: 'quantitative',
          title: `acquisition score (${scoreName})`,
          scale: { domain: [range.min, range.max], nice: false },
        },
        x2: { field: 'x1' },
        y: { field: 'count', type: 'quantitative', title: 'samples', stack: null },
        y2: { datum: 0 },
        color: {
          field: 'series',
          type: 'nominal',
          title: null,
          scale: { domain: series, range: [palette.al, '#9e9e9e'] },
          legend: { orient: 'bottom' },
        },
      },
    },
    resolve: { scale: { y: 'independent' }, axis: { x: 'independent' } },
  } as ChartSpec;
}
