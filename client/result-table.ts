/** The evaluation table of a finished search, as plain text. Pure. */
import { datasetLabel } from '../contracts/config';
import type { SearchResult } from '../workflows';
import type { AccuracySummary } from '../workflows/search-plan';

function pct(summary: AccuracySummary | undefined): string {
  if (!summary) return '-';
  const mean = (100 * summary.mean).toFixed(2);
  return summary.runs.length > 1 ? `${mean} ± ${(100 * summary.std).toFixed(2)}` : mean;
}

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i])).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
}

/** One block per evaluation model when the config lists several (evaluation.models), else one table. */
export function formatResultTable(result: SearchResult): string {
  const header = ['subset size', 'fraction', `AL (${result.config.acquisition.function})`, 'random', 'full set'];
  const where = `${datasetLabel(result.config.dataset)}, ${result.poolSize} training`;
  if (result.config.task === 'detection') return formatDetectionTable(result, header, where);
  const title = `test accuracy (%) on ${where} samples`;
  const models = result.evaluations[0]?.models?.map((m) => m.model);
  if (!models) {
    const rows = result.evaluations.map((e) => [
      String(e.size),
      `${(100 * e.fraction).toFixed(1)}%`,
      pct(e.activeLearning),
      pct(e.random),
      pct(result.full),
    ]);
    return [title, ...table(header, rows), ...keptEpochsLine(result)].join('\n');
  }
  const blocks = models.map((model, i) => {
    const rows = result.evaluations.map((e) => [
      String(e.size),
      `${(100 * e.fraction).toFixed(1)}%`,
      pct(e.models?.[i]?.activeLearning),
      pct(e.models?.[i]?.random),
      pct(result.fullByModel?.[i]),
    ]);
    return [`evaluated with ${model}${i === 0 ? '' : ' (subsets found by the search model)'}`, ...table(header, rows)];
  });
  return [title, ...blocks.flatMap((block, i) => (i === 0 ? block : ['', ...block])), ...keptEpochsLine(result)].join(
    '\n',
  );
}

/** With early stopping: the epoch each model kept (the first evaluation model's), per size and for the full set. */
function keptEpochsLine(result: SearchResult): string[] {
  const sizes = result.evaluations.filter((e) => e.keptEpochs);
  if (sizes.length === 0 && !result.fullKeptEpochs) return [];
  const parts = sizes.map(
    (e) =>
      `${e.size}: AL ${e.keptEpochs!.activeLearning.join('/')}${e.keptEpochs!.random ? `, random ${e.keptEpochs!.random.join('/')}` : ''}`,
  );
  const full = result.fullKeptEpochs ? `; full set ${result.fullKeptEpochs.join('/')}` : '';
  return [`epochs kept by early stopping: ${parts.join('; ')}${full}`];
}

/** Detection: COCO mAP@[.5:.95] on the test split, then mAP@.5, both in %. */
function formatDetectionTable(result: SearchResult, header: string[], where: string): string {
  const rows = (pick: 'map' | 'map50') =>
    result.evaluations.map((e) => [
      String(e.size),
      `${(100 * e.fraction).toFixed(1)}%`,
      pct(pick === 'map' ? e.activeLearning : e.detection?.map50.activeLearning),
      pct(pick === 'map' ? e.random : e.detection?.map50.random),
      pct(pick === 'map' ? result.full : result.fullMap50),
    ]);
  return [
    `COCO mAP@[.5:.95] (%) on ${where} images`,
    ...table(header, rows('map')),
    '',
    'mAP@.5 (%)',
    ...table(header, rows('map50')),
  ].join('\n');
}
