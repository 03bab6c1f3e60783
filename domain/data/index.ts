/** The dataset layer: formats, readers and the config entry point. Plain typed arrays, no tensors. */
export { openDataset, syntheticSpecFromUri, FASHION_MNIST_DEFAULT_DIR } from './open-dataset';
export type { DatasetSpec, OpenDatasetOptions } from './open-dataset';
export { splits, bytesToFloats } from './dataset';
export type { ByteBatch, Dataset, DatasetInfo, SampleBatch, Split } from './dataset';
export { createSyntheticDataset, syntheticSpecSchema } from './synthetic';
export type { SyntheticDataset, SyntheticGroundTruth, SyntheticSpec, SyntheticSpecInput } from './synthetic';
export { openIdxDataset } from './idx';
export { openCifarDataset } from './cifar';
export { openImageFolderDataset } from './image-folder';
export { openImageManifestDataset } from './image-manifest';
export { openTfrecordDataset } from './tfrecord';
export { defaultDataCacheDir } from './gunzip-cache';
