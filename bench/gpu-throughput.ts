/**
 * Training and inference images/s of the built-in models on one compute
 * backend (tfjs-node-gpu by default): the figures infra/gpu-check.sh prints
 * on a GPU machine. Random data, batch 128, Adam; a few warm-up steps, then
 * timed steps for about --seconds per phase.
 *
 *   node dist/bench/gpu-throughput.js [--backend=tfjs-node-gpu] [--models=cnn-small,resnet18-cifar] [--seconds=10] [--batch=128]
 */
import type * as TF from '@tensorflow/tfjs';
import { modelNames } from '../contracts/config';
import { initComputeBackend, parseBackendPreference } from '../compute/backend';
import { buildModel, type ModelName } from '../domain/ml/models';
import { numberArg } from './bench-args';
import { machineLine } from './machine';

const shapes: Record<ModelName, [number, number, number]> = {
  'cnn-small': [28, 28, 1],
  'resnet18-cifar': [32, 32, 3],
  'resnet18-imagenet': [224, 224, 3],
  linear: [28, 28, 1],
};

function stringArg(name: string, fallback: string): string {
  return process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
}

async function timed(seconds: number, step: () => Promise<void>): Promise<number> {
  for (let i = 0; i < 3; i++) await step();
  let steps = 0;
  const start = performance.now();
  while (performance.now() - start < seconds * 1000) {
    await step();
    steps++;
  }
  return steps / ((performance.now() - start) / 1000);
}

async function benchModel(tf: typeof TF, name: ModelName, batch: number, seconds: number): Promise<string> {
  const shape = shapes[name];
  const model = buildModel({ name, inputShape: shape, numClasses: 10, seed: 1 });
  model.compile({ optimizer: tf.train.adam(0.001), loss: 'categoricalCrossentropy' });
  const x = tf.randomUniform([batch, ...shape]);
  const y = tf.oneHot(tf.randomUniform([batch], 0, 10, 'int32'), 10);
  try {
    const train = await timed(seconds, async () => {
      await model.trainOnBatch(x, y);
    });
    const infer = await timed(seconds, async () => {
      const out = model.predict(x) as TF.Tensor;
      await out.data();
      out.dispose();
    });
    return `${name} ${shape.join('x')}, batch ${batch}: training ${(train * batch).toFixed(0)} images/s, inference ${(infer * batch).toFixed(0)} images/s`;
  } finally {
    x.dispose();
    y.dispose();
    model.dispose();
  }
}

async function main(): Promise<void> {
  const backendName = parseBackendPreference(stringArg('backend', 'tfjs-node-gpu'));
  const models = stringArg('models', 'cnn-small,resnet18-cifar').split(',') as ModelName[];
  for (const m of models) {
    if (!(modelNames as readonly string[]).includes(m))
      throw new Error(`--models: unknown model ${m}; known: ${modelNames.join(', ')}`);
  }
  const seconds = numberArg('seconds', 10, false);
  const batch = numberArg('batch', 128, true);
  const backend = await initComputeBackend(backendName);
  console.log(machineLine());
  console.log(`backend: ${backend.name} (tfjs backend ${backend.tf.getBackend()})`);
  for (const name of models) console.log(await benchModel(backend.tf, name, batch, seconds));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
