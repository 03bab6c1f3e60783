/**
 * Training and inference throughput of the detector (domain/ml/detector-model.ts)
 * on one backend:
 *
 *   node dist/bench/detector-throughput.js [--backend=tfjs-node|wasm] [--size=96] [--stride=4]
 *        [--classes=3] [--batch=32] [--steps=8] [--epochs=2]
 *
 * Training: whole epochs of trainDetector over steps x batch random images
 * with two random boxes each (target encoding and flips included), after a
 * one-epoch warm-up. Inference: predictClassMaps over the same images in
 * batch-sized blocks, and decoding them to detections. Random pixels:
 * throughput does not depend on the values.
 */
import { initComputeBackend, parseBackendPreference } from '../compute/backend';
import { mulberry32 } from '../contracts/seeded-hash';
import { decodeDetections } from '../domain/detection/decode';
import type { GroundTruthObject } from '../domain/detection/types';
import { buildDetector, type DetectorStride } from '../domain/ml/detector-model';
import { predictClassMaps, predictDetectorMaps } from '../domain/ml/detector-predict';
import { createOptimizer } from '../domain/ml/train';
import { defaultDetectorTrainingSettings, trainDetector } from '../domain/ml/train-detector';
import { numberArg } from './bench-args';
import { machineLine } from './machine';

function randomSamples(
  count: number,
  size: number,
  seed: number,
): { images: Float32Array; objects: GroundTruthObject[][] } {
  const rand = mulberry32(seed);
  const images = new Float32Array(count * size * size * 3);
  for (let i = 0; i < images.length; i++) images[i] = rand();
  const objects = Array.from({ length: count }, () =>
    Array.from({ length: 2 }, (_, k) => {
      const w = 8 + Math.floor(rand() * (size / 3));
      const h = 8 + Math.floor(rand() * (size / 3));
      return { x: Math.floor(rand() * (size - w)), y: Math.floor(rand() * (size - h)), w, h, category: k };
    }),
  );
  return { images, objects };
}

async function main(): Promise<void> {
  const backendArg = process.argv.find((a) => a.startsWith('--backend='))?.slice('--backend='.length);
  const size = numberArg('size', 96, true);
  const stride = numberArg('stride', 4, true) as DetectorStride;
  const numClasses = numberArg('classes', 3, true);
  const batch = numberArg('batch', 32, true);
  const steps = numberArg('steps', 8, true);
  const epochs = numberArg('epochs', 2, true);
  const backend = await initComputeBackend(parseBackendPreference(backendArg ?? process.env.WINNOW_BACKEND));
  const tf = backend.tf;
  console.log(machineLine());
  const count = batch * steps;
  const shape: [number, number, number] = [size, size, 3];
  const model = buildDetector({ inputShape: shape, numClasses, stride, seed: 1 });
  const parameters = model.countParams();
  console.log(
    `backend ${backend.name}; detector ${size}x${size}x3, stride ${stride}, ${numClasses} classes, ${parameters} parameters; batch ${batch}, ${count} images per epoch`,
  );
  const { images, objects } = randomSamples(count, size, 7);
  const samples = { count, images, objects, shape, numClasses };
  const settings = { ...defaultDetectorTrainingSettings, epochs: 1 + epochs, batchSize: batch };
  const optimizer = createOptimizer({ ...settings, augmentation: 'none' });
  const seconds: number[] = [];
  await trainDetector({
    model,
    optimizer,
    samples,
    settings,
    seed: 3,
    context: 'bench',
    onEpochEnd: async (m) => {
      seconds.push(m.seconds);
    },
  });
  // Epoch 1 is the warm-up (kernel set-up, optimizer slots).
  const trainSeconds = seconds.slice(1).reduce((a, b) => a + b, 0);
  const trainRate = (epochs * count) / trainSeconds;
  predictClassMaps(model, images.subarray(0, batch * size * size * 3), batch, batch);
  const before = tf.memory().numTensors;
  let t0 = performance.now();
  const maps = predictClassMaps(model, images, count, batch);
  const inferSeconds = (performance.now() - t0) / 1000;
  const full = predictDetectorMaps(model, images, count, batch);
  t0 = performance.now();
  const detections = decodeDetections(full);
  const decodeSeconds = (performance.now() - t0) / 1000;
  if (tf.memory().numTensors !== before)
    throw new Error(`${tf.memory().numTensors - before} tensors leaked by predict`);
  console.log(
    `training: ${trainRate.toFixed(1)} images/s (${epochs} epochs of ${count}, ${((1000 * trainSeconds) / (epochs * steps)).toFixed(0)} ms per batch)`,
  );
  console.log(
    `inference (class maps, ${maps.length / count} floats per image): ${(count / inferSeconds).toFixed(1)} images/s; ` +
      `decoding: ${(count / decodeSeconds).toFixed(0)} images/s (${detections.reduce((n, d) => n + d.length, 0) / count} detections per image)`,
  );
  model.dispose();
  optimizer.dispose();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
