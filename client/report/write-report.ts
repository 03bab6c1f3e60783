/**
 * The report's I/O entry: reads score histograms and subset lineage from the
 * search's store, renders the plots and writes one self-contained HTML file.
 * Anything missing (no evaluations, rounds without scores, a store that does
 * not answer) becomes a sentence in the report, not an error.
 */
import path from 'node:path';
import { writeFileAtomic } from '../../domain/storage/atomic-file';
import { type ArtifactStore } from '../../domain/storage/store';
import { openStore, type OpenStoreOptions } from '../../domain/storage/open-store';
import type { SearchConfig } from '../../contracts/config';
import type { SearchProgress } from '../../workflows/definitions';
import type { SearchResult } from '../../workflows/subset-search';
import { isDetectionSpec } from '../../contracts/detection-data-spec';
import { openDataset, type Dataset } from '../../domain/data';
import { collectChosenSamples } from './collect-chosen';
import {
  acquiredScoresSpec,
  classMixSpec,
  accuracySpec,
  phaseTimeSpec,
  taskPhaseSpec,
  renderSvg,
  scoreHistogramSpec,
  type ChartSpec,
  type HistogramPanel,
} from './charts';
import { collectLineage } from './collect-lineage';
import {
  collectScoreHistograms,
  DEFAULT_HISTOGRAM_BINS,
  messageOf,
  type CollectedHistograms,
} from './collect-score-histograms';
import {
  cutoffsByRound,
  reportDataFromProgress,
  reportDataFromResult,
  scoredRounds,
  type ReportData,
} from './report-data';
import { renderReport, type Figure, type PreviewFigure, type ReportParts } from './render-report';

/** The "what was chosen" section: needs the store and the training set (opened here, in the client). */
async function chosenFigures(
  store: ArtifactStore | undefined,
  data: ReportData,
  noStore: string | undefined,
  histograms: CollectedHistograms | undefined,
  rounds: number[],
  bins: number | undefined,
): Promise<ReportParts['chosen']> {
  if (!store) return { missing: `Not available: ${noStore}` };
  const spec = data.config.dataset;
  if (isDetectionSpec(spec)) return undefined;
  let dataset: Dataset;
  try {
    dataset = await openDataset(spec);
  } catch (err) {
    return { missing: `Not available: the training set could not be opened here (${messageOf(err)}).` };
  }
  const chosen = await collectChosenSamples({
    store,
    searchId: data.searchId,
    dataset,
    evaluations: data.evaluations,
    rounds,
    range: histograms?.range,
    bins: bins ?? DEFAULT_HISTOGRAM_BINS,
  });
  // Only the pool's own bar: nothing chosen yet.
  if (chosen.classMix.length <= 1 && chosen.rounds.length === 0)
    return { missing: chosen.problem ? `Not available: ${chosen.problem}` : 'No subset has been chosen yet.' };
  const panels = chosen.rounds.flatMap((r) =>
    r.acquired && r.left ? [{ round: r.round, acquired: r.acquired, left: r.left }] : [],
  );
  const acquired = acquiredScoresSpec(panels, data.acquisitionFunction);
  return {
    classMix: await figureOf(classMixSpec(chosen.classMix, chosen.classNames), 'No subset could be read.'),
    ...(acquired ? { acquired: await figureOf(acquired, '') } : {}),
    galleries: chosen.rounds,
    ...(chosen.problem ? { problem: chosen.problem } : {}),
  };
}

/** Preview images of the largest evaluated subset (AL and random), read from the store as data: URIs. */
async function collectPreviews(
  store: ArtifactStore | undefined,
  data: ReportData,
  noStore: string | undefined,
): Promise<PreviewFigure[]> {
  const last = [...data.evaluations].sort((a, b) => a.size - b.size).at(-1);
  const sets = last?.detection?.previews;
  if (!last || !sets) return [];
  const figures: PreviewFigure[] = [];
  for (const [label, refs] of [
    ['AL', sets.activeLearning],
    ['random', sets.random],
  ] as const) {
    for (const ref of refs ?? []) {
      const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : word.endsWith('x') ? 'es' : 's'}`;
      const caption = `${label} subset of ${last.size}, test image ${ref.imageId}: ${plural(ref.drawn, 'box')} drawn, ${plural(ref.objects, 'object')}`;
      if (!store) {
        figures.push({ caption, image: { missing: `not read: ${noStore}` } });
        continue;
      }
      try {
        const png = await store.get(store.keyOf(ref.uri));
        figures.push({ caption, image: { dataUri: `data:image/png;base64,${png.toString('base64')}` } });
      } catch (err) {
        figures.push({ caption, image: { missing: `${ref.uri} could not be read: ${messageOf(err)}` } });
      }
    }
  }
  return figures;
}

/** A finished search's result, or a running search's progress with its config. */
export type ReportSource =
  | { result: SearchResult }
  | {
      progress: SearchProgress;
      config: SearchConfig;
      /** The store root when the config names none (the workers' default). */
      storageRoot?: string;
    };

export interface ReportOptions {
  /** Read artifacts from this store instead of opening the search's storage root. */
  store?: ArtifactStore;
  /** How to open the storage root (gs:// connection). Default for gs://: few, short retries, so an unreachable bucket fails in seconds. */
  storeOptions?: OpenStoreOptions;
  /** Class count; fixes the histogram range of entropy and MI to [0, ln C] (otherwise the observed range). */
  numClasses?: number;
  /** Histogram bins (default 40). */
  bins?: number;
  /** The report's timestamp (default now). */
  now?: Date;
}

export type WriteReportInput = ReportSource & ReportOptions & { outputPath: string };

export function reportDataOf(source: ReportSource): ReportData {
  return 'result' in source
    ? reportDataFromResult(source.result)
    : reportDataFromProgress(source.progress, source.config, source.storageRoot);
}

/**
 * The class count that fixes the score histograms' range to [0, ln C]: a detector's cells also have the
 * background class; a sum over cells has no such bound (then the observed range is used).
 */
function histogramClasses(config: SearchConfig, numClasses: number | undefined): number | undefined {
  if (numClasses === undefined || config.task !== 'detection') return numClasses;
  return config.acquisition.reduction === 'sum' ? undefined : numClasses + 1;
}

/** Builds the report's HTML (reads the store, never throws for missing pieces). */
export async function buildReport(source: ReportSource, options: ReportOptions = {}): Promise<string> {
  const data = reportDataOf(source);
  const opened = await openSearchStore(data, options);
  const store = 'store' in opened ? opened.store : undefined;
  const noStore = 'problem' in opened ? opened.problem : undefined;

  let histograms: CollectedHistograms | undefined;
  const rounds = scoredRounds(data);
  if (store && rounds.length > 0) {
    histograms = await collectScoreHistograms({
      store,
      searchId: data.searchId,
      rounds,
      acquisitionFunction: data.acquisitionFunction,
      numClasses: histogramClasses(data.config, options.numClasses),
      bins: options.bins,
      excludeSubset: data.config.scheme === 'build-up',
    });
  }

  let lineage: ReportParts['lineage'];
  if (!store) lineage = { missing: `Lineage not available: ${noStore}` };
  else if (histograms?.problem) lineage = { missing: `Lineage not available: ${histograms.problem}` };
  else lineage = await collectLineage(store, data.evaluations);

  const taskPhaseChart = taskPhaseSpec(data.rounds);
  const parts: ReportParts = {
    accuracy: await figureOf(accuracySpec(data), 'No subset has been evaluated yet, so there is no accuracy to plot.'),
    scores: await figureOf(histogramSpec(data, histograms), scoresMissing(rounds, noStore, histograms)),
    scoreNotes: scoreNotes(data, histograms),
    phases: await figureOf(
      phaseTimeSpec(data.rounds),
      'No round has finished yet, so there are no phase times to plot.',
    ),
    ...(taskPhaseChart ? { taskPhases: await figureOf(taskPhaseChart, '') } : {}),
    lineage,
    ...(data.config.task === 'detection'
      ? { previews: await collectPreviews(store, data, noStore) }
      : { chosen: await chosenFigures(store, data, noStore, histograms, rounds, options.bins) }),
    generatedAt: (options.now ?? new Date()).toISOString(),
  };
  return renderReport(data, parts);
}

/** Builds the report and writes it to `outputPath` (parent folders created); returns the absolute path written. */
export async function writeReport(input: WriteReportInput): Promise<string> {
  const html = await buildReport(input, input);
  const target = path.resolve(input.outputPath);
  await writeFileAtomic(target, Buffer.from(html, 'utf8'));
  return target;
}

const quickGcsRetry: OpenStoreOptions = {
  gcs: { retry: { maxRetries: 1, totalTimeoutSeconds: 20, maxDelaySeconds: 2 } },
};

/** The store, checked with one cheap call, or why it cannot be used. */
async function openSearchStore(
  data: ReportData,
  options: ReportOptions,
): Promise<{ store: ArtifactStore } | { problem: string }> {
  let store = options.store;
  if (!store) {
    if (!data.storageRoot)
      return { problem: 'the storage root of the search is not known (pass the workers’ storage root).' };
    try {
      store = openStore(data.storageRoot, options.storeOptions ?? quickGcsRetry);
    } catch (err) {
      return { problem: `the store ${data.storageRoot} cannot be opened: ${messageOf(err)}` };
    }
  }
  try {
    await withTimeout(store.exists(`${data.searchId}/search.json`), PROBE_TIMEOUT_MS);
  } catch (err) {
    return { problem: `the store ${store.root} did not answer: ${messageOf(err)}` };
  }
  return { store };
}

const PROBE_TIMEOUT_MS = 60_000;

/** Some client retry settings leave a refused request pending forever; give up on the probe instead. */
async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function histogramSpec(data: ReportData, histograms: CollectedHistograms | undefined): ChartSpec | undefined {
  if (!histograms) return undefined;
  const cutoffs = cutoffsByRound(data.rounds);
  const panels: HistogramPanel[] = histograms.rounds.flatMap((r) =>
    r.histogram ? [{ round: r.round, histogram: r.histogram, cutoffs: cutoffs.get(r.round) ?? [] }] : [],
  );
  return scoreHistogramSpec(panels, data.acquisitionFunction);
}

function scoresMissing(
  rounds: number[],
  noStore: string | undefined,
  histograms: CollectedHistograms | undefined,
): string {
  if (noStore) return `Score distributions not available: ${noStore}`;
  if (rounds.length === 0) return 'No round has been scored yet, so there are no score distributions to plot.';
  if (histograms?.problem) return `Score distributions not available: ${histograms.problem}`;
  return 'None of the rounds has readable score shards in the store (see the notes below).';
}

function scoreNotes(data: ReportData, histograms: CollectedHistograms | undefined): string[] {
  if (!histograms || histograms.problem) return [];
  const notes: string[] = [];
  const { range } = histograms;
  if (range && histograms.rounds.some((r) => r.histogram)) {
    const how =
      histograms.rangeSource === 'function'
        ? `the range ${data.acquisitionFunction} scores always lie in`
        : 'the lowest and highest score observed over all rounds';
    notes.push(
      `${histograms.bins} bins over [${fmt(range.min)}, ${fmt(range.max)}] (${how}). Red rules: the round’s cutoff score, the lowest score acquired.`,
    );
    if (data.config.scheme === 'build-up')
      notes.push(
        'Samples already in the round’s subset are left out: each histogram shows the candidates the cutoff was applied to.',
      );
  }
  for (const r of histograms.rounds) {
    const h = r.histogram;
    if (r.problem) notes.push(`Round ${r.round}: ${r.problem}.`);
    if (h && h.nonFinite > 0)
      notes.push(`Round ${r.round}: ${h.nonFinite} scores were not finite numbers and are not shown.`);
    if (h && h.clamped > 0)
      notes.push(`Round ${r.round}: ${h.clamped} scores lay outside the range and are counted in the edge bins.`);
  }
  return notes;
}

function fmt(v: number): string {
  return Number(v.toPrecision(4)).toString();
}

async function figureOf(spec: ChartSpec | undefined, missing: string): Promise<Figure> {
  if (!spec) return { missing };
  try {
    return { svg: await renderSvg(spec) };
  } catch (err) {
    return { missing: `The plot could not be drawn: ${messageOf(err)}` };
  }
}
