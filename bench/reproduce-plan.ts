/**
 * What `npm run bench:reproduce` runs, pure: the two profiles and their
 * experiments (one search config each), the deterministic workflow ids, what
 * to do with an experiment given the status of its last workflow, and how
 * much work a profile is (for the running-time estimate). No I/O.
 */
import { createHash } from 'node:crypto';
import {
  parseSearchConfig,
  type EvaluationModel,
  type SearchConfig,
  type SearchConfigInput,
} from '../contracts/config';
import { acquisitionSize, defaultInitialSize } from '../workflows/search-plan';
import { trainingBudget } from '../contracts/training-budget';

export const profileNames = ['quick', 'medium', 'full', 'detection', 'convergence', 'transfer'] as const;
export type ProfileName = (typeof profileNames)[number];

export interface Experiment {
  /** Short kebab-case name, unique in the profile (part of the workflow id). */
  name: string;
  /** How tables and plots call it. */
  label: string;
  /** Main experiments make the results table and plot; ablations their own table. */
  role: 'main' | 'ablation';
  /** What the ablation changes relative to the main entropy search. */
  switch?: string;
  config: SearchConfigInput;
}

export interface Profile {
  name: ProfileName;
  /** Training samples in the pool and test samples evaluated on. */
  trainSamples: number;
  testSamples: number;
  /** True when the pool is the first `trainSamples` of Fashion-MNIST (written by the bench), false for the whole set. */
  prefixData: boolean;
  /** Searches in flight at once. */
  concurrency: number;
  experiments: Experiment[];
  /** The data in one line for results.md (default: Fashion-MNIST, as prefixData says). */
  data?: string;
  /** The folder under bench/results/ (default: the profile's name). */
  resultsName?: string;
}

export interface ProfileOptions {
  /** dataset.uri of the pool (the quick profile's prefix folder); the default location when absent. */
  datasetUri?: string;
  /** Leave the ablations out. */
  withoutAblations?: boolean;
  /** Run every ablation, also those a profile leaves out by default to stay within its time. */
  allAblations?: boolean;
  /** The seeded profiles (detection, convergence, transfer): the search seed of every experiment (default 0). */
  seed?: number;
}

interface Sizes {
  train: number;
  test: number;
  width: number;
  epochs: number;
  learningRate: number;
  members: number;
  checkpointEpochs: number[];
  shardSize: number;
  /** Equal compute: training.minSteps = the full set's steps, so every model takes as many (absent: epochs alone). */
  equalCompute?: boolean;
  /** Targets as fractions of the pool (default: all of targetFractions). */
  targets?: readonly number[];
  /** How many of the ablations run (default: all). */
  ablations?: number;
}

const sizes: Record<Exclude<ProfileName, SeededProfile>, Sizes> = {
  // 24 minutes measured on two shared CPU cores: 4k pool, half-width cnn-small, 6 epochs, 2 members x 2 checkpoints.
  quick: {
    train: 4000,
    test: 5000,
    width: 0.5,
    epochs: 6,
    learningRate: 0.003,
    members: 2,
    checkpointEpochs: [3, 6],
    shardSize: 2000,
    ablations: 1,
  },
  // The whole set at equal compute: every model takes as many steps as 2 epochs of the full set (938), targets up
  // to 50%. 78 minutes for the five searches on two CPU cores (run in two parts).
  medium: {
    train: 60000,
    test: 10000,
    width: 0.5,
    epochs: 2,
    learningRate: 0.002,
    members: 2,
    checkpointEpochs: [1, 2],
    shardSize: 10000,
    equalCompute: true,
    targets: [0.1, 0.25, 0.5],
    ablations: 0,
  },
  // The whole set with the full-width model; hours on CPU, meant for GPU workers.
  full: {
    train: 60000,
    test: 10000,
    width: 1,
    epochs: 8,
    learningRate: 0.001,
    members: 4,
    checkpointEpochs: [4, 8],
    shardSize: 10000,
  },
};

/** Target sizes as fractions of the pool (the issue's 10%, 25%, 50%, 75%), and the random starting subset. */
export const targetFractions = [0.1, 0.25, 0.5, 0.75] as const;
export const initialFraction = 0.05;

/**
 * The detection profile: generated scenes (docs/detection-data.md; never a public benchmark), detector-s4 at half
 * width, equal compute, entropy and mutual information per class-map cell reduced per image by max, against random
 * subsets and the full set; 3 fresh detectors per cell of the table. Sized to finish within an hour on two cores.
 */
function detectionProfile(seed = 0): Profile {
  const train = 3000;
  const test = 500;
  const batchSize = 32;
  const epochs = 8;
  const base: SearchConfigInput = {
    task: 'detection',
    dataset: { format: 'scenes', seed: 1, train, test, size: 64, objectSizes: [12, 16, 24, 32], maxObjects: 6 },
    model: 'detector-s4',
    modelWidth: 0.5,
    training: {
      epochs,
      batchSize,
      optimizer: 'adam',
      learningRate: 0.003,
      schedule: { kind: 'cosine', minFraction: 0.05 },
      augmentation: 'flip',
      minSteps: Math.ceil(train / batchSize) * epochs,
    },
    evaluation: { repeats: 3, randomBaseline: false, fullBaseline: false },
    shardSize: 1000,
    scheme: 'build-up',
    initialSize: Math.round(initialFraction * train),
    targets: [0.1, 0.25, 0.5].map((f) => Math.round(f * train)),
    ensemble: { members: 2, checkpointEpochs: [4, 8] },
    acquisition: { function: 'entropy', reduction: 'max' },
    seed,
  };
  return {
    name: 'detection',
    ...(seed === 0 ? {} : { resultsName: `detection-seed-${seed}` }),
    trainSamples: train,
    testSamples: test,
    prefixData: false,
    concurrency: 2,
    data: `generated scenes (seed 1): ${train} training and ${test} test 64x64 canvases of 1-6 Fashion-MNIST objects (docs/detection-data.md)`,
    experiments: [
      {
        name: 'entropy',
        label: 'build-up, entropy (max over cells)',
        role: 'main',
        config: { ...base, evaluation: { repeats: 3, randomBaseline: true, fullBaseline: true } },
      },
      {
        name: 'mutual-information',
        label: 'build-up, mutual information (max over cells)',
        role: 'main',
        config: { ...base, acquisition: { function: 'mutual-information', reduction: 'max' } },
      },
    ],
  };
}

/** Profiles run once per search seed (`--seed=N`), their results in `<profile>-seed-<N>` unless N is 0. */
export const seededProfiles = ['detection', 'convergence', 'transfer'] as const;
type SeededProfile = (typeof seededProfiles)[number];

/** The two entropy-vs-MI experiments of a seeded profile; the entropy one also trains the baselines. */
function seededExperiments(base: SearchConfigInput, baselines: SearchConfigInput['evaluation']): Experiment[] {
  return [
    { name: 'entropy', label: 'build-up, entropy', role: 'main', config: { ...base, evaluation: baselines } },
    {
      name: 'mutual-information',
      label: 'build-up, mutual information',
      role: 'main',
      config: { ...base, acquisition: { function: 'mutual-information' } },
    },
  ];
}

/**
 * Convergence: all of Fashion-MNIST, evaluation models trained until their accuracy on 5,000 held-out training
 * samples stops improving (patience 3, at most 60 epochs), never on the test set. The pool is the first 55,000
 * training samples, the held-out part the last 5,000; one model per cell and seed, 3 seeds.
 */
function convergenceProfile(seed = 0): Profile {
  const pool = 55_000;
  const evaluation = {
    repeats: 1,
    earlyStopping: { validationSamples: 5_000, patience: 3, maxEpochs: 60 },
  };
  const base: SearchConfigInput = {
    dataset: { kind: 'fashion-mnist', limit: pool },
    model: 'cnn-small',
    modelWidth: 0.5,
    // Ensemble members keep these 8 epochs; evaluation models train to convergence.
    training: { epochs: 8, batchSize: 128, optimizer: 'adam', learningRate: 0.002 },
    evaluation: { ...evaluation, randomBaseline: false, fullBaseline: false },
    shardSize: 11_000,
    scheme: 'build-up',
    initialSize: Math.round(initialFraction * pool),
    targets: [0.1, 0.25, 0.5].map((f) => Math.round(f * pool)),
    ensemble: { members: 2, checkpointEpochs: [4, 8] },
    acquisition: { function: 'entropy' },
    seed,
  };
  return {
    name: 'convergence',
    ...(seed === 0 ? {} : { resultsName: `convergence-seed-${seed}` }),
    trainSamples: pool,
    testSamples: 10_000,
    prefixData: false,
    concurrency: 2,
    data: `Fashion-MNIST: the first ${pool} training images are the pool, the last 5,000 the held-out set for early stopping, all 10,000 test images the test set`,
    experiments: seededExperiments(base, { ...evaluation, randomBaseline: true, fullBaseline: true }),
  };
}

/** The wider model subsets transfer to: cnn-small at 4x the search model's width (16x its parameters). */
export const transferModel = { name: 'cnn-small', width: 2 } as const;

/**
 * Transfer: subsets found with cnn-small at width 0.5 (equal compute: at least one full-set epoch of steps per
 * model), each evaluated with the search model and with cnn-small at width 2, against random subsets and the
 * full set; one model per cell and seed, 3 seeds.
 */
function transferProfile(seed = 0): Profile {
  const train = 60_000;
  const models = ['cnn-small', transferModel] as const;
  const base: SearchConfigInput = {
    dataset: { kind: 'fashion-mnist' },
    model: 'cnn-small',
    modelWidth: 0.5,
    training: { epochs: 2, batchSize: 128, optimizer: 'adam', learningRate: 0.002, minSteps: 469 },
    evaluation: { repeats: 1, randomBaseline: false, fullBaseline: false, models: [...models] },
    shardSize: 15_000,
    scheme: 'build-up',
    initialSize: Math.round(initialFraction * train),
    targets: [0.1, 0.25, 0.5].map((f) => Math.round(f * train)),
    ensemble: { members: 2, checkpointEpochs: [1, 2] },
    acquisition: { function: 'entropy' },
    seed,
  };
  return {
    name: 'transfer',
    ...(seed === 0 ? {} : { resultsName: `transfer-seed-${seed}` }),
    trainSamples: train,
    testSamples: 10_000,
    prefixData: false,
    concurrency: 2,
    experiments: seededExperiments(base, { repeats: 1, randomBaseline: true, fullBaseline: true, models: [...models] }),
  };
}

export function profileOf(name: ProfileName, options: ProfileOptions = {}): Profile {
  if (name === 'detection') return detectionProfile(options.seed);
  if (name === 'convergence') return convergenceProfile(options.seed);
  if (name === 'transfer') return transferProfile(options.seed);
  if (options.seed !== undefined && options.seed !== 0)
    throw new Error(
      `--seed is for the ${seededProfiles.join(', ')} profiles; the ${name} profile's searches use seed 0`,
    );
  const s = sizes[name];
  const batchSize = 128;
  const base: SearchConfigInput = {
    dataset: options.datasetUri ? { kind: 'fashion-mnist', uri: options.datasetUri } : { kind: 'fashion-mnist' },
    model: 'cnn-small',
    modelWidth: s.width,
    training: {
      epochs: s.epochs,
      batchSize,
      optimizer: 'adam',
      learningRate: s.learningRate,
      minSteps: s.equalCompute ? Math.ceil(s.train / batchSize) * s.epochs : undefined,
    },
    initialisation: 'scratch',
    // Random-subset and full-set baselines depend only on the seed, the size and the training settings, so one search
    // (entropy) trains them for all; the others skip them.
    evaluation: { repeats: 3, randomBaseline: false, fullBaseline: false },
    shardSize: s.shardSize,
    scheme: 'build-up',
    initialSize: Math.round(initialFraction * s.train),
    targets: (s.targets ?? targetFractions).map((f) => Math.round(f * s.train)),
    ensemble: { members: s.members, checkpointEpochs: s.checkpointEpochs },
    acquisition: { function: 'entropy' },
    seed: 0,
  };
  const withChanges = (changes: Partial<SearchConfigInput>): SearchConfigInput => ({ ...base, ...changes });
  const experiments: Experiment[] = [
    {
      name: 'entropy',
      label: 'build-up, entropy',
      role: 'main',
      config: withChanges({ evaluation: { repeats: 3, randomBaseline: true, fullBaseline: true } }),
    },
    {
      name: 'mutual-information',
      label: 'build-up, mutual information',
      role: 'main',
      config: withChanges({ acquisition: { function: 'mutual-information' } }),
    },
    {
      name: 'variation-ratios',
      label: 'build-up, variation ratios',
      role: 'main',
      config: withChanges({ acquisition: { function: 'variation-ratios' } }),
    },
    // Random scores ignore the ensemble: one member with one checkpoint is enough.
    {
      name: 'random-acquisition',
      label: 'build-up, random acquisition',
      role: 'main',
      config: withChanges({
        acquisition: { function: 'random' },
        ensemble: { members: 1, checkpointEpochs: [s.epochs] },
      }),
    },
    {
      name: 'compress',
      label: 'compress, entropy',
      role: 'main',
      config: withChanges({ scheme: 'compress', initialSize: undefined }),
    },
  ];
  if (!options.withoutAblations && (s.ablations !== 0 || options.allAblations)) {
    const ensembleSize = s.members * s.checkpointEpochs.length;
    if (ensembleSize > s.epochs) {
      throw new Error(
        `the ${name} profile has no ablations: its ${s.epochs} epochs cannot hold the ${ensembleSize} distinct checkpoints of the checkpoints-only ablation`,
      );
    }
    const ablations: Experiment[] = [
      {
        name: 'finetune',
        label: 'entropy, finetune per round',
        role: 'ablation',
        switch: 'initialisation: finetune',
        config: withChanges({ initialisation: 'finetune' }),
      },
      {
        name: 'members-only',
        label: `entropy, ${ensembleSize} members x 1 checkpoint`,
        role: 'ablation',
        switch: `ensemble: ${ensembleSize} members x [${s.epochs}]`,
        config: withChanges({ ensemble: { members: ensembleSize, checkpointEpochs: [s.epochs] } }),
      },
      {
        name: 'checkpoints-only',
        label: `entropy, 1 member x ${ensembleSize} checkpoints`,
        role: 'ablation',
        switch: `ensemble: 1 member x [${spreadEpochs(s.epochs, ensembleSize).join(', ')}]`,
        config: withChanges({ ensemble: { members: 1, checkpointEpochs: spreadEpochs(s.epochs, ensembleSize) } }),
      },
    ];
    // The quick profile has room for one ablation within its 30 minutes.
    experiments.push(
      ...ablations.slice(0, options.allAblations ? ablations.length : (s.ablations ?? ablations.length)),
    );
  }
  return {
    name,
    trainSamples: s.train,
    testSamples: s.test,
    prefixData: name === 'quick',
    concurrency: 2,
    experiments,
  };
}

/** `count` distinct epochs in 1..epochs, evenly spread and ending at the last one (more checkpoints than epochs are refused). */
export function spreadEpochs(epochs: number, count: number): number[] {
  if (count > epochs) throw new Error(`cannot save ${count} distinct checkpoints in ${epochs} epochs`);
  return Array.from({ length: count }, (_, i) => Math.round((epochs * (i + 1)) / count));
}

/** Validates an experiment's config (defaults filled in); throws with every problem listed. */
export function parsedConfig(experiment: Experiment): SearchConfig {
  const parsed = parseSearchConfig(experiment.config);
  if (!parsed.ok) throw new Error(`experiment ${experiment.name}: ${parsed.problems.join('; ')}`);
  return parsed.config;
}

/**
 * The workflow id of an experiment's first attempt, e.g.
 * `reproduce-quick-entropy-3f2a9c1e`. The hash covers the config without the
 * data folder's absolute path, so the same committed config gives the same id
 * in any checkout, and a changed config starts afresh instead of reusing results.
 */
export function experimentWorkflowId(profile: ProfileName, experiment: Experiment): string {
  const { dataset, ...rest } = experiment.config;
  const hashed = {
    ...rest,
    // Detection specs carry no machine-dependent path for generated scenes; folder paths are hashed as given.
    dataset:
      'format' in dataset
        ? dataset
        : {
            kind: dataset.kind,
            size: dataset.size,
            limit: dataset.limit,
            uri: dataset.uri === undefined ? undefined : 'profile-data',
          },
  };
  const hash = createHash('sha256').update(stableJson(hashed)).digest('hex').slice(0, 8);
  return `reproduce-${profile}-${experiment.name}-${hash}`;
}

/** Attempt n > 0 is a resumed search of attempt n - 1. */
export function attemptWorkflowId(baseId: string, attempt: number): string {
  return attempt === 0 ? baseId : `${baseId}-r${attempt}`;
}

function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** Temporal's workflow execution status names (undefined: no such workflow). */
export type WorkflowStatusName =
  | 'RUNNING'
  | 'COMPLETED'
  | 'FAILED'
  | 'CANCELLED'
  | 'TERMINATED'
  | 'CONTINUED_AS_NEW'
  | 'TIMED_OUT'
  | 'UNSPECIFIED'
  | 'UNKNOWN'
  | 'PAUSED';

export type NextStep =
  | { action: 'start'; workflowId: string }
  | { action: 'await'; workflowId: string }
  | { action: 'reuse'; workflowId: string }
  | { action: 'restart'; from: string; workflowId: string }
  | { action: 'give-up'; workflowId: string; reason: string };

const resumableStatuses = new Set<WorkflowStatusName>(['FAILED', 'TERMINATED', 'TIMED_OUT', 'CANCELLED']);

/**
 * What to do with an experiment, given the status of each attempt that exists
 * (attempt 0 first; stop at the first missing one). A completed attempt is
 * reused, a running one awaited, a failed one resumed into the next attempt
 * (keeping its finished rounds), unless `resumesLeft` is 0.
 */
export function nextStep(baseId: string, statuses: readonly WorkflowStatusName[], resumesLeft: number): NextStep {
  if (statuses.length === 0) return { action: 'start', workflowId: attemptWorkflowId(baseId, 0) };
  const last = statuses.length - 1;
  const workflowId = attemptWorkflowId(baseId, last);
  const status = statuses[last];
  if (status === 'COMPLETED') return { action: 'reuse', workflowId };
  if (resumableStatuses.has(status)) {
    if (resumesLeft <= 0)
      return { action: 'give-up', workflowId, reason: `${workflowId} is ${status} and no resume is left in this run` };
    return { action: 'restart', from: workflowId, workflowId: attemptWorkflowId(baseId, last + 1) };
  }
  // RUNNING, and the statuses a latest run does not normally show (continued-as-new follows the chain).
  return { action: 'await', workflowId };
}

/** Sample counts of the work in a search; inference samples are counted apart from training sample-epochs. */
export interface Work {
  /** Samples x epochs trained: ensembles plus evaluation models. */
  trainSampleEpochs: number;
  /** Predictions made: pool scoring (samples x ensemble models) plus test-set evaluation. */
  predictions: number;
  /** trainMember + scoreShard + evaluate activities. */
  heavyActivities: number;
}

/** The work one search does, from its config, pool and test size (build-up rounds follow acquisitionSize). */
export function searchWork(config: SearchConfig, poolSize: number, testSize: number): Work {
  // Epochs as trained: training.minSteps stretches them on small sets.
  const epochs = (size: number): number =>
    trainingBudget(config.training, config.ensemble.checkpointEpochs, size).training.epochs;
  const models = config.ensemble.members * config.ensemble.checkpointEpochs.length;
  const shards = Math.ceil(poolSize / config.shardSize);
  const work: Work = { trainSampleEpochs: 0, predictions: 0, heavyActivities: 0 };
  const ensembleOn = (size: number): void => {
    work.trainSampleEpochs += config.ensemble.members * size * epochs(size);
    work.predictions += poolSize * models;
    work.heavyActivities += config.ensemble.members + shards;
  };
  if (config.scheme === 'compress') {
    ensembleOn(poolSize);
  } else {
    let size = defaultInitialSize(config);
    for (
      let k = acquisitionSize(config, size, config.targets);
      k > 0;
      k = acquisitionSize(config, size, config.targets)
    ) {
      ensembleOn(size);
      size += k;
    }
  }
  const r = config.evaluation.repeats;
  const early = config.evaluation.earlyStopping;
  // Early stopping: at most maxEpochs, minSteps not applied, and a held-out pass after every epoch (an upper bound).
  const evaluationEpochs = (size: number): number =>
    early ? (early.maxEpochs ?? config.training.epochs) : epochs(size);
  const costs = (config.evaluation.models ?? [undefined]).map((m) => evaluationModelCost(config, m));
  const evaluateModels = (size: number, models: number): void => {
    for (const cost of costs) {
      const e = evaluationEpochs(size);
      work.trainSampleEpochs += cost * models * size * e;
      work.predictions += cost * models * (testSize + (early ? early.validationSamples * e : 0));
      work.heavyActivities += 2 * models;
    }
  };
  for (const target of config.targets) {
    evaluateModels(target, r);
    if (config.evaluation.randomBaseline) evaluateModels(target, r);
  }
  if (config.evaluation.fullBaseline) evaluateModels(poolSize, r);
  return work;
}

/**
 * An evaluation model's cost per sample relative to the search model: the square of the width ratio for the
 * same built-in model (cnn-small's convolutions and dense layer grow with width squared), else 1 (unknown).
 */
export function evaluationModelCost(config: SearchConfig, model: EvaluationModel | undefined): number {
  if (model === undefined || typeof model === 'string') return 1;
  if ('name' in model && model.name === config.model) return (model.width / config.modelWidth) ** 2;
  return 1;
}

export function profileWork(profile: Profile, experiments: readonly Experiment[] = profile.experiments): Work {
  const total: Work = { trainSampleEpochs: 0, predictions: 0, heavyActivities: 0 };
  for (const e of experiments) {
    const w = searchWork(parsedConfig(e), profile.trainSamples, profile.testSamples);
    total.trainSampleEpochs += w.trainSampleEpochs;
    total.predictions += w.predictions;
    total.heavyActivities += w.heavyActivities;
  }
  return total;
}

/** One prediction costs about a third of a trained sample-epoch (measured inference vs training images/s of cnn-small). */
export const PREDICTION_COST = 1 / 3;

export function trainingEquivalents(work: Work): number {
  return work.trainSampleEpochs + PREDICTION_COST * work.predictions;
}

/**
 * Running time of `target` from a measured run of `measured`: the measured
 * seconds per training-equivalent sample, times the target's samples, times
 * how much slower one sample of the target's model trains (`modelCostRatio`,
 * measured by --calibrate). Per-activity overhead is folded into the
 * per-sample rate, which overstates it for bigger pools.
 */
export function estimateSeconds(
  measured: { work: Work; seconds: number },
  target: Work,
  modelCostRatio: number,
): number {
  return (measured.seconds / trainingEquivalents(measured.work)) * trainingEquivalents(target) * modelCostRatio;
}
