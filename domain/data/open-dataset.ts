/** Opens the dataset a search config names: {kind, uri?, size?} -> Dataset. */
import { fileURLToPath } from 'node:url';
import type { ClassificationDatasetSpec } from '../../contracts/config';
import { FailureType, TypedTaskError } from '../../contracts/failures';
import { openCifarDataset } from './cifar';
import { allowedDataRoots, confineTo } from './data-roots';
import type { Dataset } from './dataset';
import { defaultDataCacheDir } from './gunzip-cache';
import { limitDataset } from './limited-dataset';
import { openIdxDataset } from './idx';
import { openImageFolderDataset } from './image-folder';
import { openImageManifestDataset, type ManifestOptions } from './image-manifest';
import { openTfrecordDataset } from './tfrecord';
import { checkGcsInputUri } from '../storage/input-files';
import { createSyntheticDataset, syntheticSpecSchema, type SyntheticSpecInput } from './synthetic';

export type DatasetSpec = ClassificationDatasetSpec;

export interface OpenDatasetOptions {
  env?: NodeJS.ProcessEnv;
  /** Where decompressed copies of .gz files go (default: WINNOW_DATA_CACHE or state/cache/datasets). */
  cacheDir?: string;
  /** Image manifests: sample shape and fingerprint depth (else the folder's dataset.json, else 224x224x3). */
  manifest?: ManifestOptions;
}

export const FASHION_MNIST_DEFAULT_DIR = '/usr/share/datasets/fashion-mnist';

const fashionNames = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
];
const digitNames = Array.from({ length: 10 }, (_, d) => String(d));

/** Where each file-backed kind looks when the config gives no uri. */
const locations = {
  'fashion-mnist': { env: 'WINNOW_FASHION_MNIST_DIR', fallback: FASHION_MNIST_DEFAULT_DIR },
  mnist: { env: 'WINNOW_MNIST_DIR', fallback: undefined },
  cifar10: { env: 'WINNOW_CIFAR10_DIR', fallback: undefined },
  cifar100: { env: 'WINNOW_CIFAR100_DIR', fallback: undefined },
  'image-manifest': { env: undefined, fallback: undefined },
  'image-folder': { env: undefined, fallback: undefined },
  tfrecord: { env: undefined, fallback: undefined },
} as const;

/** Kinds whose images are encoded files, fitted to dataset.image. */
const encodedImageKinds: ReadonlySet<string> = new Set(['image-folder', 'image-manifest', 'tfrecord']);

/** The dataset a config names, cut to `dataset.limit` / `dataset.testLimit` when given. */
export async function openDataset(spec: DatasetSpec, options: OpenDatasetOptions = {}): Promise<Dataset> {
  return limitDataset(await openWholeDataset(spec, options), { train: spec.limit, test: spec.testLimit });
}

async function openWholeDataset(spec: DatasetSpec, options: OpenDatasetOptions): Promise<Dataset> {
  const env = options.env ?? process.env;
  if (spec.testFraction !== undefined && spec.kind !== 'image-folder') {
    throw invalidConfig(`dataset.testFraction is only for image folders; ${spec.kind} has its own test split`);
  }
  if (spec.image !== undefined && !encodedImageKinds.has(spec.kind)) {
    throw invalidConfig(
      `dataset.image is only for image folders, manifests and TFRecord shards; ${spec.kind} has a fixed image shape`,
    );
  }
  if (spec.tfrecord !== undefined && spec.kind !== 'tfrecord') {
    throw invalidConfig(`dataset.tfrecord is only for kind "tfrecord", not ${spec.kind}`);
  }
  if (spec.kind === 'synthetic') return createSyntheticDataset(syntheticSpecFromUri(spec.uri, spec.size));
  if (spec.size !== undefined) {
    throw invalidConfig(
      `dataset.size is only for synthetic sets; ${spec.kind} has a fixed size; remove the field, or use dataset.limit to keep its first N training samples`,
    );
  }
  const cacheDir = options.cacheDir ?? defaultDataCacheDir(env);
  const where = locations[spec.kind];
  const fromEnv = where.env ? env[where.env] : undefined;
  const raw = spec.uri ?? fromEnv ?? where.fallback;
  if (raw === undefined) {
    throw invalidConfig(
      `dataset.uri: required for ${spec.kind}${where.env ? ` (or set ${where.env} on the workers)` : ''}`,
    );
  }
  if (spec.kind === 'tfrecord') {
    return openTfrecordDataset(tfrecordFolder(raw, env), {
      ...spec.image,
      ...spec.tfrecord,
      cacheDir,
      confine: raw.startsWith('gs://') ? undefined : confineTo(allowedDataRoots(env)),
    });
  }
  const dir = localPath(raw);
  const origin = spec.uri !== undefined ? 'dataset.uri' : fromEnv !== undefined ? where.env : 'the default location';
  const hint = `check ${origin} (${raw})${spec.kind === 'fashion-mnist' ? ", install Debian's dataset-fashion-mnist (npm run tools) or set WINNOW_FASHION_MNIST_DIR" : ''}`;
  // A uri from the config (the UI) is confined to the worker's data roots; the operator's own settings are trusted.
  const confine = spec.uri !== undefined ? confineTo(allowedDataRoots(env)) : undefined;
  await confine?.check(dir, 'dataset.uri');
  switch (spec.kind) {
    case 'fashion-mnist':
      return openIdxDataset(dir, {
        kind: spec.kind,
        name: 'fashion-mnist',
        numClasses: 10,
        classNames: fashionNames,
        cacheDir,
        hint,
        confine,
      });
    case 'mnist':
      return openIdxDataset(dir, {
        kind: spec.kind,
        name: 'mnist',
        numClasses: 10,
        classNames: digitNames,
        cacheDir,
        hint,
        confine,
      });
    case 'cifar10':
    case 'cifar100':
      return openCifarDataset(dir, { variant: spec.kind, cacheDir, hint, confine });
    case 'image-manifest':
      return openImageManifestDataset(dir, { hint, ...spec.image, ...options.manifest, confine });
    case 'image-folder':
      return openImageFolderDataset(dir, { ...spec.image, testFraction: spec.testFraction, confine });
  }
}

/** A TFRecord folder: a local path, file:// or gs:// (inside the workers' storage root, like model files). */
function tfrecordFolder(uri: string, env: NodeJS.ProcessEnv): string {
  if (uri.startsWith('gs://')) {
    checkGcsInputUri(uri.replace(/\/+$/, ''), env);
    return uri;
  }
  return localPath(uri);
}

function localPath(uri: string): string {
  if (uri.startsWith('file://')) {
    try {
      return fileURLToPath(uri);
    } catch (err) {
      throw invalidConfig(
        `dataset.uri ${uri}: not a usable file:// URI (${(err as Error).message}); use file:///absolute/path`,
      );
    }
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(uri)) {
    throw invalidConfig(
      `dataset.uri ${uri}: only local paths and file:// URIs are supported for this kind (gs:// for tfrecord); copy the data to the worker`,
    );
  }
  return uri;
}

const syntheticKeys: Record<string, keyof SyntheticSpecInput | 'shape'> = {
  seed: 'seed',
  shape: 'shape',
  classes: 'numClasses',
  test: 'testSize',
  noise: 'noise',
  duplicates: 'duplicateFraction',
  mislabeled: 'mislabelFraction',
};

/**
 * A synthetic set is described by its uri's query, e.g.
 * `synthetic:?seed=1&shape=28x28x1&classes=10&test=1000&noise=0.4&duplicates=0.1&mislabeled=0.05`;
 * dataset.size is the number of training samples.
 */
export function syntheticSpecFromUri(uri: string | undefined, size: number | undefined): SyntheticSpecInput {
  const spec: Record<string, unknown> = {};
  if (size !== undefined) spec.trainSize = size;
  if (uri !== undefined) {
    const match = /^synthetic:(?:\/\/)?\??(.*)$/.exec(uri);
    if (!match)
      throw invalidConfig(
        `dataset.uri ${uri}: a synthetic set's uri looks like synthetic:?seed=1&shape=8x8x1&classes=10`,
      );
    for (const [key, value] of new URLSearchParams(match[1])) {
      const field = syntheticKeys[key];
      if (!field)
        throw invalidConfig(
          `dataset.uri: unknown synthetic parameter "${key}"; known: ${Object.keys(syntheticKeys).join(', ')}`,
        );
      if (field === 'shape') {
        const dims = /^(\d+)x(\d+)x(\d+)$/.exec(value);
        if (!dims) throw invalidConfig(`dataset.uri: shape=${value}: expected HxWxC, e.g. 28x28x1`);
        [spec.height, spec.width, spec.channels] = dims.slice(1).map(Number);
      } else {
        spec[field] = Number(value);
      }
    }
  }
  const parsed = syntheticSpecSchema.safeParse(spec);
  if (!parsed.success) {
    throw invalidConfig(
      `dataset (synthetic): ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  return parsed.data;
}

function invalidConfig(message: string): TypedTaskError {
  return new TypedTaskError(FailureType.InvalidConfig, message);
}
