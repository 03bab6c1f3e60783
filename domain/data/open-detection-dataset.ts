/**
 * Opens the detection set a spec names: a COCO or VOC folder read at a fixed
 * input shape, or generated scenes held in memory (from Fashion-MNIST, found
 * like the classification kind: WINNOW_FASHION_MNIST_DIR, else the Debian
 * folder). The spec's zod schema is exported for the search config to embed.
 */
import { fileURLToPath } from 'node:url';
import { FailureType, TypedTaskError } from '../../contracts/failures';
import { allowedDataRoots, confineTo, type DataConfinement } from './data-roots';
import type { DetectionDataset } from './detection-dataset';
import { openCocoDetectionDataset } from './coco-detection';
import {
  detectionDatasetSpecSchema,
  type DetectionDatasetSpec,
  type DetectionDatasetSpecInput,
} from '../../contracts/detection-data-spec';
import { createSceneDataset, createSceneGenerator, type SceneSource } from './detection-scenes';
import { openDataset } from './open-dataset';
import type { Split } from './dataset';
import { openVocDetectionDataset } from './voc-detection';

export { detectionDatasetSpecSchema };
export type { DetectionDatasetSpec, DetectionDatasetSpecInput };

export interface OpenDetectionOptions {
  env?: NodeJS.ProcessEnv;
  /** Where the decompressed Fashion-MNIST goes (default: WINNOW_DATA_CACHE or state/cache/datasets). */
  cacheDir?: string;
  /** Folders a COCO or VOC dir must lie in (default: the worker's data roots); false to trust the path. */
  confine?: DataConfinement | false;
}

export async function openDetectionDataset(
  input: DetectionDatasetSpecInput,
  options: OpenDetectionOptions = {},
): Promise<DetectionDataset> {
  const parsed = detectionDatasetSpecSchema.safeParse(input);
  if (!parsed.success) {
    throw new TypedTaskError(
      FailureType.InvalidConfig,
      `detection dataset: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(spec)'}: ${i.message}`).join('; ')}`,
    );
  }
  const spec = parsed.data;
  const env = options.env ?? process.env;
  if (spec.format === 'scenes') {
    const { format: _format, ...sceneSpec } = spec;
    const fashion = await loadFashionSceneSources({ env, cacheDir: options.cacheDir });
    return createSceneDataset(createSceneGenerator(sceneSpec, fashion.sources), fashion);
  }
  const dir = spec.dir.startsWith('file://') ? fileURLToPath(spec.dir) : spec.dir;
  const confine = options.confine === false ? undefined : (options.confine ?? confineTo(allowedDataRoots(env)));
  await confine?.check(dir, 'detection dataset dir');
  const common = { shape: spec.shape, splitNames: spec.splitNames, confine };
  return spec.format === 'coco'
    ? openCocoDetectionDataset(dir, common)
    : openVocDetectionDataset(dir, { ...common, classNames: spec.classNames });
}

export interface FashionSceneSources {
  sources: Record<Split, SceneSource>;
  classNames: string[];
  sourceFingerprint: string;
  origin: string;
}

/** Every Fashion-MNIST image and label of both splits, in memory (47 + 8 MB): what scenes are cut from. */
export async function loadFashionSceneSources(
  options: { env?: NodeJS.ProcessEnv; cacheDir?: string } = {},
): Promise<FashionSceneSources> {
  const fashion = await openDataset({ kind: 'fashion-mnist' }, { env: options.env, cacheDir: options.cacheDir });
  const [rows, cols] = fashion.info.shape;
  const load = async (split: Split): Promise<SceneSource> => {
    const batch = await fashion.readRangeBytes(split, 0, fashion.info.samples[split]);
    return { rows, cols, pixels: batch.pixels, labels: batch.labels, numClasses: fashion.info.numClasses };
  };
  return {
    sources: { train: await load('train'), test: await load('test') },
    classNames: fashion.info.classNames ?? [],
    sourceFingerprint: await fashion.fingerprint(),
    origin: fashion.info.name,
  };
}
