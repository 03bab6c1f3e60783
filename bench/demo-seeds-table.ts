/** Pure parts of `bench:demo-seeds`: the config override, the AL − random margins per seed, and their table. */
import type { SearchConfigInput } from '../contracts/config';
import type { SearchOutcome } from './search-runner';

export interface SeedOutcome extends SearchOutcome {
  seed: number;
}

export interface SeedMargins {
  seed: number;
  workflowId: string;
  /** How this invocation got the result: started, resumed, awaited or reused (from an earlier run). */
  how?: SearchOutcome['how'];
  error?: string;
  /** Search seconds as the workflow measured them (train + score + acquire + evaluate, summed over rounds). */
  searchSeconds?: number;
  sizes: { size: number; activeLearning: number; random: number; margin: number }[];
  full?: number;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `base` with `override` merged in: objects field by field, anything else (arrays included) replaced. */
export function mergeConfig(base: SearchConfigInput, override: unknown): SearchConfigInput {
  if (!isObject(override)) throw new Error('--override must be a JSON object (a partial search config)');
  const merge = (a: unknown, b: unknown): unknown => {
    if (!isObject(a) || !isObject(b)) return b;
    const out: Record<string, unknown> = { ...a };
    for (const [k, v] of Object.entries(b)) out[k] = merge(a[k], v);
    return out;
  };
  return merge(base, override) as SearchConfigInput;
}

/** AL mean − random mean (accuracy points) per evaluated size of each seed's search. */
export function seedMargins(outcomes: readonly SeedOutcome[]): SeedMargins[] {
  return outcomes.map((o) => {
    if (!o.result)
      return { seed: o.seed, workflowId: o.workflowId, how: o.how, error: o.error ?? 'did not finish', sizes: [] };
    const r = o.result;
    const sizes = r.evaluations.map((e) => {
      if (!e.random)
        throw new Error(`${o.workflowId}: size ${e.size} has no random baseline (evaluation.randomBaseline)`);
      const activeLearning = 100 * e.activeLearning.mean;
      const random = 100 * e.random.mean;
      return { size: e.size, activeLearning, random, margin: activeLearning - random };
    });
    const searchSeconds = r.rounds.reduce(
      (sum, round) => sum + round.seconds.train + round.seconds.score + round.seconds.acquire + round.seconds.evaluate,
      0,
    );
    return {
      seed: o.seed,
      workflowId: o.workflowId,
      how: o.how,
      searchSeconds,
      sizes,
      full: r.full ? 100 * r.full.mean : undefined,
    };
  });
}

function meanStd(values: readonly number[]): { mean: number; std: number } {
  const mean = values.reduce((s, v) => s + v, 0) / values.length;
  const variance = values.length > 1 ? values.reduce((s, v) => s + (v - mean) ** 2, 0) / (values.length - 1) : 0;
  return { mean, std: Math.sqrt(variance) };
}

const signed = (v: number) => `${v >= 0 ? '+' : ''}${v.toFixed(2)}`;

/** Per seed: AL, random and the margin at each size; then how many seeds have AL above random at every size. */
export function demoSeedsTable(seeds: readonly SeedMargins[]): string {
  const done = seeds.filter((s) => !s.error);
  const sizes = done[0]?.sizes.map((s) => s.size) ?? [];
  const header = ['seed', ...sizes.map((n) => `${n}: AL / random / AL − random`), 'full', 'search s'];
  const rows = seeds.map((s) =>
    s.error
      ? [String(s.seed), ...sizes.map(() => '-'), '-', `failed: ${s.error}`]
      : [
          String(s.seed),
          ...s.sizes.map((c) => `${c.activeLearning.toFixed(2)} / ${c.random.toFixed(2)} / ${signed(c.margin)}`),
          s.full === undefined ? '-' : s.full.toFixed(2),
          s.searchSeconds === undefined ? '-' : s.searchSeconds.toFixed(0),
        ],
  );
  const summary = [
    'mean ± std',
    ...sizes.map((_, i) => {
      const m = meanStd(done.map((s) => s.sizes[i].margin));
      return `${signed(m.mean)} ± ${m.std.toFixed(2)}`;
    }),
    '',
    '',
  ];
  const all = [header, ...rows, summary];
  const widths = header.map((_, i) => Math.max(...all.map((r) => r[i]?.length ?? 0)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i])).join('  ');
  const positive = done.filter((s) => s.sizes.every((c) => c.margin > 0)).length;
  const needed = Math.ceil((4 * seeds.length) / 5);
  const verdict = positive >= needed ? 'met' : 'not met';
  return [
    'test accuracy (%), mean of the evaluation repeats; AL − random in points',
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    line(summary),
    '',
    `AL above random at every size in ${positive} of ${seeds.length} seeds (target: at least ${needed} of ${seeds.length}, 4 of 5): ${verdict}`,
  ].join('\n');
}
