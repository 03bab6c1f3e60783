/**
 * Writes tfjs LayersModels to a folder through model.save(), in the layout
 * tfjs-node's file:// handler writes (model.json + weights.bin), and the
 * committed Keras fixture's location.
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { repoRoot } from '../../infra/tools';

/** The Keras CNN converted by tensorflowjs (test/fixtures/keras-cnn/make-keras-cnn.py): 28x28x1 -> 10. */
export const kerasCnnFixture = path.join(repoRoot(), 'test', 'fixtures', 'keras-cnn', 'model.json');

/**
 * Copies the Keras fixture into `dir` (workers read models only inside their data roots, which hold the OS
 * temp folder by default, not the repository); returns the copy's model.json.
 */
export function copyKerasFixture(dir: string): string {
  mkdirSync(dir, { recursive: true });
  for (const file of ['model.json', 'group1-shard1of1.bin']) {
    copyFileSync(path.join(path.dirname(kerasCnnFixture), file), path.join(dir, file));
  }
  return path.join(dir, 'model.json');
}

/** model.save() into `dir`; returns the model.json path. `withWeights: false` writes the topology alone. */
export async function saveLayersModel(model: tf.LayersModel, dir: string, withWeights = true): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'model.json');
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weights = artifacts.weightData === undefined ? undefined : Buffer.from(artifacts.weightData as ArrayBuffer);
      const json = {
        format: 'layers-model',
        generatedBy: `TensorFlow.js tfjs-layers v${tf.version_layers}`,
        convertedBy: null,
        modelTopology: artifacts.modelTopology,
        weightsManifest: withWeights && weights ? [{ paths: ['./weights.bin'], weights: artifacts.weightSpecs }] : [],
      };
      writeFileSync(file, JSON.stringify(json));
      if (withWeights && weights) writeFileSync(path.join(dir, 'weights.bin'), weights);
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return file;
}

/** A small Sequential CNN over `shape` images with `classes` outputs (the cnn-small pattern at a quarter width). */
export function smallCnn(shape: [number, number, number], classes: number, seed = 1): tf.Sequential {
  return tf.sequential({
    layers: [
      tf.layers.conv2d({
        inputShape: shape,
        filters: 8,
        kernelSize: 3,
        padding: 'same',
        activation: 'relu',
        kernelInitializer: tf.initializers.glorotUniform({ seed }),
      }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: classes, kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }) }),
    ],
  });
}
