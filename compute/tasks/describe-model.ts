/**
 * Compute task: read, build and check a model from a file once, before any
 * member trains, so that a bad model.json or a shape mismatch fails the search
 * at its start (non-retryable InvalidConfig) instead of in every member.
 */
import type { LayersModelFile } from '../../contracts/config';
import { describeLayersModel, type LayersModelDescription } from '../../domain/ml/layers-model-file';
import { readInputFile } from '../../domain/storage/input-files';
import { initComputeBackend } from '../backend';

export interface DescribeModelInput {
  model: LayersModelFile;
  /** The dataset's sample shape, [height, width, channels]. */
  inputShape: [number, number, number];
  numClasses: number;
}

export type { LayersModelDescription };

export async function describeModel(input: DescribeModelInput): Promise<LayersModelDescription> {
  await initComputeBackend();
  return describeLayersModel(input.model, { inputShape: input.inputShape, numClasses: input.numClasses }, (uri) =>
    readInputFile(uri),
  );
}
