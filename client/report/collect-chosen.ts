/**
 * What a search chose, read back for the report: the class mix of the starting
 * subset, of every evaluated subset and of its random counterpart (against the
 * pool's), a gallery of each scored round's most and least uncertain
 * candidates (small inline PNGs), and the scores of the candidates a round
 * acquired against those it left. Reads the subset manifests, the score shards
 * (one at a time) and the images of the gallery's samples; classification only.
 */
import { parseScoreShard } from '../../domain/acquisition/score-shard-codec';
import { parseSubsetManifest } from '../../domain/acquisition/subset-manifest';
import type { Dataset } from '../../domain/data';
import { encodeGreyPng, encodeRgbPng } from '../../domain/data/write-detection-scenes';
import type { ArtifactStore } from '../../domain/storage/store';
import { artifactPaths } from '../../contracts/artifact-paths';
import { messageOf } from './collect-score-histograms';
import { collectExtremes, type ScoredIndex } from './score-extremes';
import { addScores, createHistogram, type ScoreHistogram, type ScoreRange } from './score-histogram';

export interface ClassMixBar {
  /** e.g. "start (150)", "AL 600", "random 600", "pool". */
  subset: string;
  counts: number[];
}

export interface GalleryTile {
  index: number;
  score: number;
  label: string;
  dataUri: string;
}

export interface RoundChoice {
  round: number;
  most: GalleryTile[];
  least: GalleryTile[];
  /** Candidates' scores: those the round acquired, and those it left (absent without a next subset). */
  acquired?: ScoreHistogram;
  left?: ScoreHistogram;
  problem?: string;
}

export interface ChosenSamples {
  classNames: string[];
  classMix: ClassMixBar[];
  rounds: RoundChoice[];
  problem?: string;
}

export interface CollectChosenInput {
  store: ArtifactStore;
  searchId: string;
  dataset: Dataset;
  evaluations: readonly { size: number; subsetUri: string }[];
  /** Rounds whose score shards are in the store. */
  rounds: readonly number[];
  /** The score histograms' range (their bins are reused for acquired vs left). */
  range?: ScoreRange;
  bins: number;
  /** Gallery tiles per side (most and least uncertain), default 8. */
  perSide?: number;
}

async function readIndices(store: ArtifactStore, key: string): Promise<Uint32Array> {
  return parseSubsetManifest((await store.get(key)).toString('utf8'), key).indices;
}

async function readIfThere(store: ArtifactStore, key: string): Promise<Uint32Array | undefined> {
  return (await store.exists(key)) ? readIndices(store, key) : undefined;
}

export async function collectChosenSamples(input: CollectChosenInput): Promise<ChosenSamples> {
  const { store, searchId, dataset } = input;
  const numClasses = dataset.info.numClasses;
  const classNames = Array.from({ length: numClasses }, (_, k) => dataset.info.classNames?.[k] ?? `class ${k}`);
  let labels: Int32Array;
  try {
    labels = await dataset.readLabels('train');
  } catch (err) {
    return {
      classNames,
      classMix: [],
      rounds: [],
      problem: `the training labels could not be read: ${messageOf(err)}`,
    };
  }
  const countOf = (indices: ArrayLike<number>): number[] => {
    const counts = new Array<number>(numClasses).fill(0);
    for (let i = 0; i < indices.length; i++) counts[labels[indices[i]!]!]!++;
    return counts;
  };
  const classMix: ClassMixBar[] = [];
  const problems: string[] = [];
  try {
    const start = await readIfThere(store, artifactPaths.subset(searchId, 0));
    if (start) classMix.push({ subset: `start (${start.length})`, counts: countOf(start) });
    for (const e of [...input.evaluations].sort((a, b) => a.size - b.size)) {
      classMix.push({ subset: `AL ${e.size}`, counts: countOf(await readIndices(store, store.keyOf(e.subsetUri))) });
      const random = await readIfThere(store, `${searchId}/eval/size-${e.size}/random-subset.json`);
      if (random) classMix.push({ subset: `random ${e.size}`, counts: countOf(random) });
    }
  } catch (err) {
    problems.push(`a subset manifest could not be read: ${messageOf(err)}`);
  }
  const pool = new Array<number>(numClasses).fill(0);
  for (const label of labels) pool[label]!++;
  classMix.push({ subset: 'pool', counts: pool });

  const rounds: RoundChoice[] = [];
  for (const round of input.rounds) rounds.push(await collectRound(input, round, labels, classNames));
  return { classNames, classMix, rounds, ...(problems.length ? { problem: problems.join('; ') } : {}) };
}

async function collectRound(
  input: CollectChosenInput,
  round: number,
  labels: Int32Array,
  classNames: string[],
): Promise<RoundChoice> {
  const { store, searchId } = input;
  try {
    const current = await readIfThere(store, artifactPaths.subset(searchId, round));
    const next = await readIfThere(store, artifactPaths.subset(searchId, round + 1));
    const inSubset = new Set(current ?? []);
    const acquiredSet = next ? new Set([...next].filter((i) => !inSubset.has(i))) : undefined;
    const extremes = collectExtremes(input.perSide ?? 8);
    const acquired = acquiredSet && input.range ? createHistogram(input.range, input.bins) : undefined;
    const left = acquiredSet && input.range ? createHistogram(input.range, input.bins) : undefined;
    const prefix = `${artifactPaths.round(searchId, round)}/scores/`;
    const shards = (await store.list(prefix)).filter((o) => /^shard-\d+$/.test(o.key.slice(prefix.length)));
    for (const object of shards) {
      const shard = parseScoreShard(await store.get(object.key), object.uri);
      extremes.add(shard.scores, shard.globalStart, inSubset);
      if (!acquired || !left || !acquiredSet) continue;
      const taken: number[] = [];
      const rest: number[] = [];
      shard.scores.forEach((score, i) => {
        const index = shard.globalStart + i;
        if (!inSubset.has(index)) (acquiredSet.has(index) ? taken : rest).push(score);
      });
      addScores(acquired, taken);
      addScores(left, rest);
    }
    const { most, least } = extremes.result();
    return {
      round,
      most: await tiles(input.dataset, most, labels, classNames),
      least: await tiles(input.dataset, least, labels, classNames),
      ...(acquired && left ? { acquired, left } : {}),
    };
  } catch (err) {
    return { round, most: [], least: [], problem: `round ${round}: ${messageOf(err)}` };
  }
}

async function tiles(
  dataset: Dataset,
  picked: ScoredIndex[],
  labels: Int32Array,
  classNames: string[],
): Promise<GalleryTile[]> {
  if (picked.length === 0) return [];
  const batch = await dataset.readIndicesBytes(
    'train',
    picked.map((p) => p.index),
  );
  const [height, width, channels] = dataset.info.shape;
  const size = height * width * channels;
  return picked.map((p, i) => {
    const pixels = batch.pixels.subarray(i * size, (i + 1) * size);
    const png = channels === 1 ? encodeGreyPng(pixels, width, height) : encodeRgbPng(pixels, width, height);
    return {
      index: p.index,
      score: p.score,
      label: classNames[labels[p.index]!] ?? String(labels[p.index]),
      dataUri: `data:image/png;base64,${png.toString('base64')}`,
    };
  });
}
