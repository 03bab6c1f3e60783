/**
 * The report as one self-contained HTML page: inline CSS, inline SVG plots,
 * no scripts, no external fonts or images. Every piece of text is escaped;
 * the SVGs come from renderSvg. Pure.
 */
import { describeDataset, describeModelChoice, metricName } from '../../contracts/config';
import type { GalleryTile } from './collect-chosen';
import type { LineageEntry } from './collect-lineage';
import {
  evaluationTableRows,
  perEvaluationModel,
  activeLearningLabel,
  totalSeconds,
  FULL_LABEL,
  RANDOM_LABEL,
  type ReportData,
} from './report-data';

/** A plot, or why there is none. */
export type Figure = { svg: string } | { missing: string };

export interface ReportParts {
  accuracy: Figure;
  scores: Figure;
  /** Remarks under the score plot: how the bins were chosen, rounds without scores. */
  scoreNotes: string[];
  phases: Figure;
  /** Compute-task seconds per phase; absent when no round reports them (the section is left out). */
  taskPhases?: Figure;
  lineage: LineageEntry[] | { missing: string };
  /** Classification: the class mix, galleries and acquired-vs-left scores (or why they are missing). */
  chosen?: ChosenFigures | { missing: string };
  /** Detection: test images with predicted boxes drawn, as data: URIs (or why they are missing). */
  previews?: PreviewFigure[];
  /** ISO time the report was made. */
  generatedAt: string;
}

export interface ChosenFigures {
  classMix: Figure;
  /** Absent when no round has a next subset to split its candidates by. */
  acquired?: Figure;
  galleries: { round: number; most: GalleryTile[]; least: GalleryTile[]; problem?: string }[];
  problem?: string;
}

function tileHtml(tile: GalleryTile): string {
  const title = `sample ${tile.index}, ${tile.label}, score ${tile.score.toFixed(3)}`;
  return `<figure class="tile"><img src="${escapeHtml(tile.dataUri)}" alt="${escapeHtml(title)}" title="${escapeHtml(title)}" width="56" height="56"><figcaption>${escapeHtml(tile.label)}<br>${escapeHtml(tile.score.toFixed(3))}</figcaption></figure>`;
}

/** The class mix of the subsets, each round's most and least uncertain candidates, acquired vs left scores. */
function chosenSection(chosen: ReportParts['chosen']): string[] {
  if (!chosen) return [];
  const out = ['<h2>What was chosen</h2>'];
  if ('missing' in chosen) return [...out, `<div class="missing">${escapeHtml(chosen.missing)}</div>`];
  out.push('<h3>Class mix of the subsets</h3>', figure('class-mix', chosen.classMix));
  if (chosen.problem) out.push(`<p class="note">${escapeHtml(chosen.problem)}</p>`);
  if (chosen.acquired) {
    out.push(
      '<h3>Scores of the candidates acquired and not acquired, per round</h3>',
      figure('acquired-scores', chosen.acquired),
    );
  }
  out.push('<h3>Most and least uncertain candidates per round</h3>');
  for (const g of chosen.galleries) {
    if (g.problem) {
      out.push(`<div class="missing">${escapeHtml(g.problem)}</div>`);
      continue;
    }
    out.push(
      `<div class="gallery" data-round="${g.round}"><p class="note">round ${g.round}, most uncertain (highest score first)</p><div class="tiles most">${g.most.map(tileHtml).join('')}</div>` +
        `<p class="note">round ${g.round}, least uncertain (lowest first)</p><div class="tiles least">${g.least.map(tileHtml).join('')}</div></div>`,
    );
  }
  out.push(
    '<p class="note">Candidates only: samples already in the round\'s subset are left out. Captions: label and score.</p>',
  );
  return out;
}

export interface PreviewFigure {
  /** e.g. "AL subset of 400, image 17". */
  caption: string;
  /** A data:image/png;base64 URI, or why the image could not be read. */
  image: { dataUri: string } | { missing: string };
}

/** "test accuracy" -> "Test accuracy"; an acronym such as "mAP" keeps its case. */
function capitalise(text: string): string {
  return /^[a-z][A-Z]/.test(text) ? text : text.charAt(0).toUpperCase() + text.slice(1);
}

/** Detection: mAP@.5 beside the main table's mAP@[.5:.95], and test images with the boxes a subset's model predicts. */
function detectionSection(data: ReportData, previews: PreviewFigure[] | undefined): string[] {
  const pct = (s: { mean: number; std: number; runs: number[] } | undefined) =>
    s ? `${(100 * s.mean).toFixed(2)}${s.runs.length > 1 ? ` ± ${(100 * s.std).toFixed(2)}` : ''}` : '–';
  const head = ['subset size', `${activeLearningLabel(data)} (%)`, `${RANDOM_LABEL} (%)`, `${FULL_LABEL} (%)`];
  const body = [...data.evaluations]
    .sort((a, b) => a.size - b.size)
    .map(
      (e) =>
        `<tr><td>${e.size}</td><td>${escapeHtml(pct(e.detection?.map50.activeLearning))}</td><td>${escapeHtml(pct(e.detection?.map50.random))}</td><td>${escapeHtml(pct(data.fullMap50))}</td></tr>`,
    );
  const images = (previews ?? []).map(
    (p) =>
      `<figure class="preview">${'dataUri' in p.image ? `<img src="${escapeHtml(p.image.dataUri)}" alt="${escapeHtml(p.caption)}" width="192">` : `<div class="missing">${escapeHtml(p.image.missing)}</div>`}<figcaption>${escapeHtml(p.caption)}</figcaption></figure>`,
  );
  return [
    '<p class="note">Detection: the numbers above are COCO mAP@[.5:.95] on the test split, computed by winnow as pycocotools computes it.</p>',
    '<h3>mAP@.5</h3>',
    `<table class="map50"><thead><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>${body.join('')}</tbody></table>`,
    '<h3>Predicted boxes on test images</h3>',
    images.length > 0
      ? `<div class="previews">${images.join('')}</div><p class="note">Boxes scoring at least 0.3, coloured by category, from the first model trained on each subset.</p>`
      : '<div class="missing">No preview images were written for this search.</div>',
  ];
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const css = `
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;max-width:1100px;padding:0 16px;color:#222;line-height:1.45}
h1{font-size:1.6em;margin-bottom:4px}h2{font-size:1.25em;margin-top:32px;border-bottom:1px solid #ddd;padding-bottom:4px}
.status{color:#555;margin-top:0}.status.running{color:#b35900}
dl.summary{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:12px 0}
dl.summary dt{color:#666}dl.summary dd{margin:0;word-break:break-all}
table{border-collapse:collapse;margin:8px 0;font-size:.92em}th,td{border:1px solid #ddd;padding:4px 8px;text-align:right;vertical-align:top}
th{background:#f4f4f4}td.text,th.text{text-align:left}td.uri{text-align:left;font-family:ui-monospace,monospace;font-size:.85em;word-break:break-all;max-width:420px}
figure{margin:8px 0;overflow-x:auto}figure svg{max-width:none}
.missing{background:#fff6e5;border:1px solid #f0c36d;padding:12px;border-radius:4px}
.note{color:#555;font-size:.92em;margin:4px 0}
.tiles{display:flex;flex-wrap:wrap;gap:6px}figure.tile{margin:0;text-align:center;font-size:.75em;color:#555}figure.tile img{image-rendering:pixelated;border:1px solid #ddd}
.previews{display:flex;flex-wrap:wrap;gap:12px}figure.preview{margin:0}figure.preview img{image-rendering:pixelated;border:1px solid #ddd}figure.preview figcaption{font-size:.85em;color:#555}
pre{background:#f7f7f7;border:1px solid #e3e3e3;padding:12px;overflow-x:auto;font-size:.85em}
`;

export function renderReport(data: ReportData, parts: ReportParts): string {
  const title = `winnow report: ${data.searchId}`;
  return [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(title)}</title>`,
    `<style>${css}</style>`,
    '</head><body>',
    `<h1>${escapeHtml(title)}</h1>`,
    statusLine(data),
    summary(data, parts.generatedAt),
    `<h2>${escapeHtml(capitalise(metricName(data.config.task)))} vs. subset size</h2>`,
    figure('accuracy', parts.accuracy),
    '<h2>Evaluations</h2>',
    ...perEvaluationModel(data).flatMap(({ model, data: view }) => [
      ...(model ? [`<h3>evaluated with ${escapeHtml(model)}</h3>`] : []),
      evaluationTable(view),
    ]),
    ...(data.config.task === 'detection' ? detectionSection(data, parts.previews) : []),
    `<h2>Acquisition scores per round (${escapeHtml(data.acquisitionFunction)})</h2>`,
    figure('scores', parts.scores),
    ...parts.scoreNotes.map((n) => `<p class="note">${escapeHtml(n)}</p>`),
    ...chosenSection(parts.chosen),
    '<h2>Time per phase per round</h2>',
    figure('phases', parts.phases),
    roundTable(data),
    ...(parts.taskPhases
      ? [
          '<h2>Compute task time per phase</h2>',
          figure('task-phases', parts.taskPhases),
          '<p class="note">Seconds reported by the compute tasks, summed over tasks that ran in parallel; scoring through child workflows is not included.</p>',
        ]
      : []),
    '<h2>Subset lineage</h2>',
    lineageTable(parts.lineage, data.storageRoot),
    '<h2>Configuration</h2>',
    `<pre>${escapeHtml(JSON.stringify(data.config, null, 2))}</pre>`,
    '</body></html>',
    '',
  ].join('\n');
}

function statusLine(data: ReportData): string {
  const s = data.status;
  if (s.state === 'finished') return '<p class="status">Search finished.</p>';
  const bits = [`still running: round ${s.round}, ${s.phase}`, `subset ${s.subsetSize} samples`];
  if (s.paused) bits.push('paused');
  if (s.stopping) bits.push('stopping after this round');
  if (s.etaSeconds !== undefined) bits.push(`about ${formatSeconds(s.etaSeconds)} left`);
  bits.push(`progress as of ${s.updatedAt}`);
  return `<p class="status running">${escapeHtml(bits.join(' · '))}</p>`;
}

function summary(data: ReportData, generatedAt: string): string {
  const c = data.config;
  const rows: [string, string][] = [
    ['task', c.task],
    ['dataset', describeDataset(c.dataset)],
    ['training pool', data.poolSize === undefined ? 'unknown yet' : `${data.poolSize} samples`],
    ['scheme', c.scheme],
    [
      'acquisition',
      `${data.acquisitionFunction}${c.task === 'detection' ? ` per class-map cell, ${c.acquisition.reduction ?? 'max'} over cells` : ''}${c.acquisition.step ? `, ${c.acquisition.step} samples per round` : ''}`,
    ],
    [
      'ensemble',
      `${c.ensemble.members} members × ${c.ensemble.checkpointEpochs.length} checkpoints (epochs ${c.ensemble.checkpointEpochs.join(', ')})`,
    ],
    ['model', `${describeModelChoice(c)}, ${c.training.epochs} epochs, ${c.training.optimizer}`],
    ['targets', data.targets.join(', ')],
    ['evaluation', `${c.evaluation.repeats} repeat${c.evaluation.repeats > 1 ? 's' : ''} per subset`],
    ['compute backend', data.computeBackend ?? 'not known yet'],
    ['storage root', data.storageRoot ?? 'not known (the config names none)'],
    ['report made', generatedAt],
  ];
  return `<dl class="summary">${rows.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join('')}</dl>`;
}

function figure(name: string, fig: Figure): string {
  if ('svg' in fig) return `<figure class="plot" data-plot="${name}">${fig.svg}</figure>`;
  return `<div class="missing" data-plot="${name}">${escapeHtml(fig.missing)}</div>`;
}

function evaluationTable(data: ReportData): string {
  const rows = evaluationTableRows(data);
  if (rows.length === 0) return '<div class="missing">No subset has been evaluated yet.</div>';
  const head = [
    'subset size',
    'fraction',
    `${activeLearningLabel(data)} (%)`,
    `${RANDOM_LABEL} (%)`,
    `${FULL_LABEL} (%)`,
    'AL − random (points)',
    'subset manifest',
  ];
  const body = rows.map(
    (r) =>
      `<tr><td>${escapeHtml(r.size)}</td><td>${escapeHtml(r.fraction)}</td><td>${escapeHtml(r.activeLearning)}</td><td>${escapeHtml(r.random)}</td>` +
      `<td>${escapeHtml(r.full)}</td><td>${escapeHtml(r.gain)}</td><td class="uri">${escapeHtml(r.subsetUri)}</td></tr>`,
  );
  return `<table class="evaluations"><thead><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>${body.join('')}</tbody></table>`;
}

function roundTable(data: ReportData): string {
  if (data.rounds.length === 0) return '';
  const head = [
    'round',
    'subset size',
    'added',
    'cutoff score',
    'mean train loss',
    'train s',
    'score s',
    'acquire s',
    'evaluate s',
    'total s',
  ];
  const body = data.rounds.map((r) => {
    const cells = [
      String(r.round),
      String(r.subsetSize),
      String(r.added),
      r.cutoffScore === null ? '–' : r.cutoffScore.toPrecision(4),
      Number.isFinite(r.meanTrainLoss) ? r.meanTrainLoss.toFixed(4) : '–',
      r.seconds.train.toFixed(1),
      r.seconds.score.toFixed(1),
      r.seconds.acquire.toFixed(1),
      r.seconds.evaluate.toFixed(1),
      totalSeconds(r).toFixed(1),
    ];
    return `<tr>${cells.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`;
  });
  return `<table class="rounds"><thead><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>${body.join('')}</tbody></table>`;
}

/** A URI inside the storage root as its key (the root is shown once above the table). */
function shortRef(uri: string, root: string | undefined): string {
  return root && uri.startsWith(`${root}/`) ? uri.slice(root.length + 1) : uri;
}

function lineageTable(lineage: ReportParts['lineage'], root: string | undefined): string {
  if (!Array.isArray(lineage)) return `<div class="missing">${escapeHtml(lineage.missing)}</div>`;
  if (lineage.length === 0) return '<div class="missing">No evaluated subsets yet, so no lineage to show.</div>';
  const caption = root
    ? `<p class="note">Manifests and parents relative to the storage root ${escapeHtml(root)}.</p>`
    : '';
  const head = [
    'round',
    'samples',
    'evaluated at',
    'acquisition',
    'ensemble models',
    'seed',
    'manifest',
    'parent',
    'dataset fingerprint',
    'indices sha256',
  ];
  const body = lineage.map((e) => {
    const l = e.lineage;
    const cells: [string, string][] = [
      [l ? String(l.round) : '?', ''],
      [e.count === undefined ? '?' : `${e.count}${e.poolSize ? ` of ${e.poolSize}` : ''}`, ''],
      [e.evaluated === undefined ? '' : String(e.evaluated), ''],
      [l?.acquisitionFunction ?? '?', 'text'],
      [e.checkpoints !== undefined ? String(e.checkpoints) : l && l.ensembleManifestUri === null ? 'none' : '?', ''],
      [l ? String(l.seed) : '?', ''],
      [shortRef(e.uri, root), 'uri'],
      [l ? (l.parentManifestUri === null ? 'none (start)' : shortRef(l.parentManifestUri, root)) : '?', 'uri'],
      [l?.datasetFingerprint ?? '?', 'uri'],
      [e.indicesSha256 ? `${e.indicesSha256.slice(0, 16)}…` : '?', 'uri'],
    ];
    const row = `<tr>${cells.map(([c, cls]) => `<td${cls ? ` class="${cls}"` : ''}>${escapeHtml(c)}</td>`).join('')}</tr>`;
    return e.problem
      ? `${row}<tr><td colspan="${head.length}" class="text missing">${escapeHtml(e.problem)}</td></tr>`
      : row;
  });
  return `${caption}<table class="lineage"><thead><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>${body.join('')}</tbody></table>`;
}

export function formatSeconds(seconds: number): string {
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}
