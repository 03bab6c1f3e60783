/**
 * The subset-search config: ONE JSON object (the Temporal UI sends one
 * payload), validated inside the workflow. Pure: imports nothing but zod, so
 * the workflow sandbox, the workers, the CLI and the tests share it.
 */
import { z } from 'zod';
import { detectionDatasetSpecSchema, isDetectionSpec } from './detection-data-spec';

export const datasetKinds = [
  'fashion-mnist',
  'mnist',
  'cifar10',
  'cifar100',
  'image-manifest',
  'image-folder',
  'tfrecord',
  'synthetic',
] as const;
export const tasks = ['classification', 'detection'] as const;
export type Task = (typeof tasks)[number];
export const modelNames = ['cnn-small', 'resnet18-cifar', 'resnet18-imagenet', 'linear'] as const;
/** Built-in detectors (domain/ml/detector-model.ts): the same network with class maps at 1/4 or 1/8 of the input. */
export const detectorNames = ['detector-s4', 'detector-s8'] as const;
export type DetectorName = (typeof detectorNames)[number];
/** How a detection image's per-location scores become one (domain/acquisition/location-reduction.ts). */
export const locationReductions = ['max', 'mean', 'sum'] as const;
/** How a model from a file starts: fresh weights from each member's seed, or the file's own weights. */
export const modelInitModes = ['scratch', 'weights'] as const;
export const acquisitionFunctions = [
  'entropy',
  'mutual-information',
  'variation-ratios',
  'margin',
  'least-confidence',
  'random',
] as const;
export const schemes = ['build-up', 'compress'] as const;

const sampleCount = z.number().int().positive();
const seed = z
  .number()
  .int()
  .min(0)
  .max(2 ** 31 - 1);

const classificationDatasetSchema = z.strictObject({
  kind: z.enum(datasetKinds),
  /** Where the data lives; each kind has a default (e.g. Debian's Fashion-MNIST folder). */
  uri: z.string().min(1).optional(),
  /** Synthetic sets only: how many training samples to generate. */
  size: sampleCount.optional(),
  /** Use only the first N training samples as the pool (any kind); the fingerprint covers the limit. */
  limit: sampleCount.optional(),
  /** Use only the first N test samples for evaluation. */
  testLimit: sampleCount.optional(),
  /** Image folders, manifests and TFRecord shards: the shape images are fitted to (default: the first image, or dataset.json). */
  image: z
    .strictObject({
      height: z.number().int().min(1).max(4096),
      width: z.number().int().min(1).max(4096),
      channels: z.union([z.literal(1), z.literal(3)]),
    })
    .optional(),
  /** Image folders without train/ and test/ folders: the share of each class held out for evaluation (default 0.1). */
  testFraction: z.number().min(0).lt(1).optional(),
  /** TFRecord shards: which tf.train.Example features hold the image and the label, and how labels count. */
  tfrecord: z
    .strictObject({
      /** The encoded PNG/JPEG bytes feature (default image/encoded). */
      imageFeature: z.string().min(1).optional(),
      /** The int64 label feature (default image/class/label). */
      labelFeature: z.string().min(1).optional(),
      /** Subtracted from every stored label: 1 for labels counted from 1, as in the public ImageNet shards. */
      labelOffset: z.number().int().min(0).max(1_000_000).optional(),
      /** The class count (default: the largest label plus one). */
      classes: z.number().int().min(2).max(1_000_000).optional(),
    })
    .optional(),
});

/** A tfjs LayersModel in the format model.save() and tensorflowjs_converter write (model.json + weight files). */
export const layersModelFileSchema = z.strictObject({
  kind: z.literal('tfjs-layers'),
  /** The model.json, file:// (inside the workers' data roots) or gs:// (inside their storage root). */
  uri: z.string().min(1),
  /** `scratch`: the architecture with weights drawn from each member's seed; `weights`: start from the file's weights. */
  init: z.enum(modelInitModes).default('scratch'),
});

const ensembleSchema = z.strictObject({
  /** Independent members, each trained from its own seed. */
  members: z.number().int().min(1).max(1024).default(4),
  /** Epochs (1-based) at which each member saves a checkpoint; every checkpoint is an ensemble model. */
  checkpointEpochs: z.array(z.number().int().min(1)).min(1).default([2, 3]),
});

const acquisitionSchema = z.strictObject({
  function: z.enum(acquisitionFunctions).default('entropy'),
  /** Samples acquired per round (build-up); default: the gap to the next target. */
  step: sampleCount.optional(),
  /**
   * Keep each score shard's ensemble accumulator (about 10 bytes x classes per sample and round) so `winnow
   * reacquire` can select a finished round again with another function; absent = true for classification,
   * false for detection (which refuses true). Never kept for random.
   */
  keepAccumulators: z.boolean().optional(),
  /**
   * Detection only: how an image's per-location scores (entropy etc. of each class-map cell) become the
   * image's score; default max.
   */
  reduction: z.enum(locationReductions).optional(),
});

const scheduleSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('constant') }),
  z.strictObject({
    kind: z.literal('step'),
    milestones: z.array(z.number().int().min(1)).min(1),
    factor: z.number().positive().max(1),
  }),
  z.strictObject({ kind: z.literal('cosine'), minFraction: z.number().min(0).max(1).optional() }),
]);

const trainingSchema = z.strictObject({
  epochs: z.number().int().min(1).max(10_000).default(3),
  batchSize: z.number().int().min(1).max(65_536).default(128),
  optimizer: z.enum(['sgd-momentum', 'adam']).default('adam'),
  learningRate: z.number().positive().max(10).default(0.001),
  momentum: z.number().min(0).max(1).default(0.9),
  schedule: scheduleSchema.default({ kind: 'constant' }),
  /** crop-flip: classification (pad-4 crop and flip); flip: detection (left-right, boxes with the image). */
  augmentation: z.enum(['none', 'crop-flip', 'flip']).default('none'),
  /**
   * Floor on optimizer steps per model: a model trained on few samples runs
   * more epochs (its checkpoint epochs and step milestones scaled alike), so
   * small subsets train to a comparable point instead of a handful of steps.
   */
  minSteps: z.number().int().min(1).max(100_000_000).optional(),
});

/** A built-in model at a width of its own, e.g. a wider or narrower architecture for subset transfer. */
const sizedModelSchema = z.strictObject({
  name: z.enum([...modelNames, ...detectorNames]),
  width: z.number().positive().max(16),
});

/**
 * A model that evaluation trains: a built-in name (at the config's modelWidth), a built-in model at its own
 * width (`{ name, width }`), or a tfjs-layers file.
 */
export const evaluationModelSchema = z.union([
  z.enum([...modelNames, ...detectorNames]),
  sizedModelSchema,
  layersModelFileSchema,
]);

const evaluationSchema = z.strictObject({
  /** Fresh models trained per subset (and baseline); accuracies are averaged. */
  repeats: z.number().int().min(1).max(100).default(1),
  /** Also train on a random subset of each target size. */
  randomBaseline: z.boolean().default(true),
  /** Also train once on the full training set. */
  fullBaseline: z.boolean().default(true),
  /**
   * Architectures trained on each subset, its random baseline and the full set (subset transfer); the first
   * one fills the main table. Default: the search model alone.
   */
  models: z.array(evaluationModelSchema).min(1).max(8).optional(),
  /**
   * Classification: train each evaluation model for at most training.epochs and keep the epoch whose accuracy
   * on a held-out part of the training split was best, stopping after `patience` epochs without a gain. The
   * held-out part is the `validationSamples` training samples right after the pool (dataset.limit): never
   * pool, never test split.
   */
  earlyStopping: z
    .strictObject({
      validationSamples: sampleCount.max(1_000_000),
      patience: z.number().int().min(1).max(1000).default(3),
      /** The most epochs an evaluation model trains (default training.epochs, which ensemble members keep). */
      maxEpochs: z.number().int().min(1).max(10_000).optional(),
    })
    .optional(),
});

export const searchConfigSchema = z
  .strictObject({
    /** Names the search and its artifact folder; derived from the workflow id when absent. */
    searchId: z
      .string()
      .regex(/^[a-z0-9][a-z0-9._-]{0,127}$/, 'use 1-128 lower-case letters, digits, ".", "_" or "-"')
      .optional(),
    /** classification: one label per sample; detection: boxes per image, mAP for evaluation. */
    task: z.enum(tasks).default('classification'),
    /** Classification: `{ kind, ... }`; detection: `{ format: 'coco' | 'voc' | 'scenes', ... }`. */
    dataset: z.union([classificationDatasetSchema, detectionDatasetSpecSchema]),
    /** A built-in model by name, or a tfjs-layers model from a file (classification); detection: a detector. */
    model: z.union([z.enum([...modelNames, ...detectorNames]), layersModelFileSchema]).optional(),
    /** Multiplies every layer's channel count of a built-in model (a model from a file keeps its own). */
    modelWidth: z.number().positive().max(16).default(1),
    training: trainingSchema.prefault({}),
    /** Per round: fresh weights (`scratch`) or fine-tune from the previous round's first member (`finetune`). */
    initialisation: z.enum(['scratch', 'finetune']).default('scratch'),
    evaluation: evaluationSchema.prefault({}),
    /** Pool samples per scoreShard activity (default 10,000; detection 1,000: a detector's maps are ~500x larger). */
    shardSize: z.number().int().min(1).max(10_000_000).optional(),
    /** scoreShard activities in flight at once. */
    scoringWindow: z.number().int().min(1).max(1000).default(8),
    /** Above this many shards per round, scoring fans out through child workflows of at most this many shards each (keeps each history small). */
    shardsPerChild: z.number().int().min(1).max(5000).default(500),
    scheme: z.enum(schemes).default('build-up'),
    /** Build-up only: size of the seeded random starting subset. */
    initialSize: sampleCount.optional(),
    /** Subset sizes at which the subset is evaluated; ascending. */
    targets: z
      .array(sampleCount)
      .min(1)
      // Checked on the array itself so that it is reported together with problems elsewhere in the config.
      .superRefine((targets, ctx) => {
        targets.forEach((target, i) => {
          if (i > 0 && target <= targets[i - 1])
            ctx.addIssue({ code: 'custom', path: [i], message: 'targets must be strictly ascending' });
        });
      }),
    ensemble: ensembleSchema.prefault({}),
    acquisition: acquisitionSchema.prefault({}),
    /** Artifact store root (file:// or gs://); must lie inside the roots the workers allow. */
    storageRoot: z.string().min(1).optional(),
    seed: seed.default(0),
  })
  .superRefine((config, ctx) => {
    checkTaskFits(config, ctx);
    if (config.scheme === 'build-up' && config.initialSize !== undefined && config.initialSize >= config.targets[0]) {
      ctx.addIssue({
        code: 'custom',
        path: ['initialSize'],
        message: `must be smaller than the first target (${config.targets[0]})`,
      });
    }
    const epochs = config.ensemble.checkpointEpochs;
    if (new Set(epochs).size !== epochs.length) {
      ctx.addIssue({ code: 'custom', path: ['ensemble', 'checkpointEpochs'], message: 'epochs must be distinct' });
    }
    epochs.forEach((epoch, i) => {
      if (epoch > config.training.epochs) {
        ctx.addIssue({
          code: 'custom',
          path: ['ensemble', 'checkpointEpochs', i],
          message: `epoch ${epoch} is past training.epochs (${config.training.epochs})`,
        });
      }
    });
  })
  // The model's default follows the task; a schema default cannot see the task.
  .transform(({ model, shardSize, ...config }) => ({
    ...config,
    model: model ?? (config.task === 'detection' ? ('detector-s4' as const) : ('cnn-small' as const)),
    shardSize: shardSize ?? (config.task === 'detection' ? 1000 : 10_000),
  }));

type ParsedFields = {
  task: Task;
  dataset: object;
  model?: string | { kind: string };
  evaluation: { models?: Array<string | { kind: string } | { name: string }>; earlyStopping?: object };
  acquisition: { function: string; reduction?: string; keepAccumulators?: boolean };
  training: { augmentation: string };
};

function isDetector(model: string | { kind: string }): boolean {
  return typeof model === 'string' && (detectorNames as readonly string[]).includes(model);
}

/** Refuses what does not fit the task (a classifier on detection data, a detector on labels, ...), naming the field. */
function checkTaskFits(config: ParsedFields, ctx: z.RefinementCtx): void {
  const detection = config.task === 'detection';
  const problem = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message });
  if (detection !== isDetectionSpec(config.dataset)) {
    problem(
      ['dataset'],
      detection
        ? `task detection needs a detection data set ({ format: "coco" | "voc" | "scenes", ... }); this one is a classification set (kind ${String((config.dataset as { kind?: unknown }).kind)})`
        : `a detection data set (format ${String((config.dataset as { format?: unknown }).format)}) needs task "detection"`,
    );
  }
  const checkModel = (choice: string | { kind: string } | { name: string }, path: (string | number)[]) => {
    const model = typeof choice === 'object' && 'name' in choice ? choice.name : choice;
    const name = typeof model === 'string' ? model : `a ${model.kind} file`;
    if (detection && !isDetector(model))
      problem(
        path,
        `task detection trains a detector (${detectorNames.join(', ')}); ${name} is a classification model`,
      );
    if (!detection && isDetector(model))
      problem(path, `${name} is a detector; use it with task "detection" and a detection data set`);
  };
  if (config.model !== undefined) checkModel(config.model, ['model']);
  config.evaluation.models?.forEach((model, i) => checkModel(model, ['evaluation', 'models', i]));
  if (detection && config.acquisition.keepAccumulators === true)
    problem(
      ['acquisition', 'keepAccumulators'],
      'detection keeps no accumulators (they hold every class-map cell: about 1,000x a classification sample); reacquire is for classification',
    );
  if (!detection && config.acquisition.reduction !== undefined)
    problem(['acquisition', 'reduction'], 'reduces per-location scores: only for task "detection"');
  if (config.evaluation.earlyStopping !== undefined) {
    if (detection) problem(['evaluation', 'earlyStopping'], 'early stopping validates accuracy: classification only');
    else if ((config.dataset as { limit?: number }).limit === undefined)
      problem(
        ['evaluation', 'earlyStopping'],
        'needs dataset.limit: the pool is the first `limit` training samples and the held-out samples come right after it',
      );
  }
  const augmentation = config.training.augmentation;
  if (detection && augmentation === 'crop-flip')
    problem(['training', 'augmentation'], 'crop-flip is for classification; detection takes "none" or "flip"');
  if (!detection && augmentation === 'flip')
    problem(['training', 'augmentation'], 'flip is for detection; classification takes "none" or "crop-flip"');
}

export type LayersModelFile = z.output<typeof layersModelFileSchema>;
export type ClassificationDatasetSpec = z.output<typeof classificationDatasetSchema>;

/** What a caller may send (defaults not yet applied). */
export type SearchConfigInput = z.input<typeof searchConfigSchema>;
/** A validated config with every default filled in. */
export type SearchConfig = z.output<typeof searchConfigSchema>;

export type ConfigParseResult = { ok: true; config: SearchConfig } | { ok: false; problems: string[] };

/**
 * Validates raw input. On failure returns one line per problem, each naming
 * the field path, e.g. `dataset.kind: expected one of ...`.
 */
export function parseSearchConfig(input: unknown): ConfigParseResult {
  const result = searchConfigSchema.safeParse(input);
  if (result.success) return { ok: true, config: result.data };
  return { ok: false, problems: result.error.issues.flatMap((issue) => describeIssue(issue, [])) };
}

/**
 * A union (the dataset: classification or detection) reports every branch's problems; only the branch the input
 * chose is described, under the union's path: the one whose discriminator (`kind`, `format`) was accepted, else
 * the first (classification, whose message lists the kinds). Among accepted ones, the one with fewest problems.
 */
function describeIssue(issue: z.core.$ZodIssue, parent: PropertyKey[]): string[] {
  // Unions of objects only: a union of values (1 | 3) keeps zod's own message.
  if (issue.code === 'invalid_union' && issue.errors.some((branch) => branch.some((i) => i.path.length > 0))) {
    const chose = (branch: z.core.$ZodIssue[]) =>
      !branch.some((i) => i.path.length === 1 && (i.path[0] === 'kind' || i.path[0] === 'format'));
    const accepted = issue.errors.filter(chose);
    const closest =
      accepted.length > 0 ? accepted.reduce((best, b) => (b.length < best.length ? b : best)) : issue.errors[0]!;
    if (closest.length > 0) return closest.flatMap((inner) => describeIssue(inner, [...parent, ...issue.path]));
  }
  return [describeOne({ ...issue, path: [...parent, ...issue.path] } as z.core.$ZodIssue)];
}

function describeOne(issue: z.core.$ZodIssue): string {
  const where = issue.path.length === 0 ? '(config)' : issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((k) => (where === '(config)' ? k : `${where}.${k}`)).join(', ');
    return `${keys}: unknown field${issue.keys.length > 1 ? 's' : ''}`;
  }
  return `${where}: ${issue.message}`;
}

export type EvaluationModel = z.output<typeof evaluationModelSchema>;

/** A short name for a model in tables: the built-in name, or the file's folder and name. */
export function modelLabel(model: EvaluationModel): string {
  if (typeof model === 'string') return model;
  if ('name' in model) return `${model.name} width ${model.width}`;
  const parts = model.uri.split('/');
  return parts.length > 1 ? parts.slice(-2).join('/') : model.uri;
}

/** The model in one line, for reports and status: a built-in name with its width, or the file and its init. */
export function describeModelChoice(config: Pick<SearchConfig, 'model' | 'modelWidth'>): string {
  if (typeof config.model === 'string') return `${config.model} (width ${config.modelWidth})`;
  return `tfjs-layers ${config.model.uri} (${config.model.init === 'weights' ? 'from its weights' : 'fresh weights per member'})`;
}

/** The data set in one word, for tables and search attributes: a classification kind, or `coco` / `voc` / `scenes`. */
export function datasetLabel(dataset: SearchConfig['dataset']): string {
  return isDetectionSpec(dataset) ? dataset.format : dataset.kind;
}

/** The data set in one line, for reports and status. */
export function describeDataset(dataset: SearchConfig['dataset']): string {
  if (!isDetectionSpec(dataset)) return `${dataset.kind}${dataset.uri ? ` (${dataset.uri})` : ''}`;
  if (dataset.format === 'scenes')
    return `generated scenes (seed ${dataset.seed}, ${dataset.train} train / ${dataset.test} test, ${dataset.size}x${dataset.size})`;
  return `${dataset.format} detection set (${dataset.dir}, read at ${dataset.shape.join('x')})`;
}

/** The headline evaluation metric of a task, as tables and reports name it. */
export function metricName(task: Task): string {
  return task === 'detection' ? 'mAP@[.5:.95]' : 'test accuracy';
}

/** The single message an InvalidConfig failure carries. */
export function formatConfigProblems(problems: string[]): string {
  return `invalid search config (${problems.length} problem${problems.length > 1 ? 's' : ''}): ${problems.join('; ')}`;
}
