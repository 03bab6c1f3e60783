/** The evaluation table of a finished search, as plain text. Pure. */
import type { SearchResult } from '../workflows';
import type { AccuracySummary } from '../workflows/search-plan';

function pct(summary: AccuracySummary | undefined): string {
  if (!summary) return '-';
  const mean = (100 * summary.mean).toFixed(2);
  return summary.runs.length > 1 ? `${mean} ± ${(100 * summary.std).toFixed(2)}` : mean;
}

export function formatResultTable(result: SearchResult): string {
  const header = ['subset size', 'fraction', `AL (${result.config.acquisition.function})`, 'random', 'full set'];
  const rows = result.evaluations.map((e) => [
    String(e.size),
    `${(100 * e.fraction).toFixed(1)}%`,
    pct(e.activeLearning),
    pct(e.random),
    pct(result.full),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i])).join('  ');
  return [
    `test accuracy (%) on ${result.config.dataset.kind}, ${result.poolSize} training samples`,
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
  ].join('\n');
}
