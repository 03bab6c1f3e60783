/**
 * The detector: a small single-stage anchor-free network (CenterNet-style
 * centre cells, FCOS-style per-location classes) trained from scratch. It is
 * one Sequential tf.LayersModel, so checkpoints, ensembles and resume treat
 * it like a classification member, and its conv(relu) + 2x2 max-pool blocks
 * take the fused training kernels (training-forward.ts).
 *
 * Output [N, H / stride, W / stride, numClasses + 5], per location:
 *   channels 0..numClasses       class logits, 0 = background, k + 1 = category k
 *                                (softmax over them is the class-probability map);
 *   channel numClasses + 1, + 2  centre offset logits (sigmoid = dx, dy in [0, 1) of a cell);
 *   channel numClasses + 3, + 4  log(w / stride), log(h / stride).
 */
import * as tf from '@tensorflow/tfjs';
import { channels, LayerSeeds } from './models';

/** Values per location besides the class logits: dx, dy, log w, log h. */
export const BOX_CHANNELS = 4;
export const detectorStrides = [4, 8] as const;
export type DetectorStride = (typeof detectorStrides)[number];

export interface DetectorSpec {
  inputShape: [number, number, number];
  /** Object categories, background not counted. */
  numClasses: number;
  /** Input pixels per map cell (default 4). */
  stride?: DetectorStride;
  /** Multiplies every layer's channel count (default 1). */
  width?: number;
  seed: number;
  /** Background probability of every location at initialisation (default 0.99): keeps the first steps' loss small. */
  backgroundPrior?: number;
}

/** What a detector's shapes say: its input, map size and class count (background included in `classes`). */
export interface DetectorGeometry {
  inputShape: [number, number, number];
  mapHeight: number;
  mapWidth: number;
  stride: number;
  /** numClasses + 1: the rows of the class-probability map. */
  classes: number;
}

export function buildDetector(spec: DetectorSpec): tf.LayersModel {
  const [h, w] = spec.inputShape;
  const stride = spec.stride ?? 4;
  const width = spec.width ?? 1;
  const prior = spec.backgroundPrior ?? 0.99;
  const where = `detector ${h}x${w}, stride ${stride}`;
  if (!Number.isInteger(spec.numClasses) || spec.numClasses < 1) {
    throw new Error(`${where}: numClasses must be an integer >= 1 (got ${spec.numClasses})`);
  }
  if (!(detectorStrides as readonly number[]).includes(stride)) {
    throw new Error(`${where}: stride must be one of ${detectorStrides.join(', ')}`);
  }
  if (h % stride !== 0 || w % stride !== 0) {
    throw new Error(`${where}: input height and width must be multiples of the stride (pad or resize the images)`);
  }
  if (!(width > 0)) throw new Error(`${where}: width must be > 0 (got ${width})`);
  if (!(prior > 0 && prior < 1)) throw new Error(`${where}: backgroundPrior must lie in (0, 1) (got ${prior})`);
  const seeds = new LayerSeeds(spec.seed);
  const conv = (filters: number, inputShape?: [number, number, number]): tf.layers.Layer =>
    tf.layers.conv2d({
      ...(inputShape ? { inputShape } : {}),
      filters: channels(filters, width),
      kernelSize: 3,
      padding: 'same',
      activation: 'relu',
      kernelInitializer: tf.initializers.heNormal({ seed: seeds.take() }),
    });
  const pool = (): tf.layers.Layer => tf.layers.maxPooling2d({ poolSize: 2 });
  const layers = [conv(16, spec.inputShape), pool(), conv(32), pool()];
  if (stride === 8) layers.push(conv(64), pool());
  layers.push(conv(64), conv(64), conv(64));
  const head = tf.layers.conv2d({
    filters: spec.numClasses + 1 + BOX_CHANNELS,
    kernelSize: 1,
    // Small initial logits: every location starts near the prior below, boxes near one cell.
    kernelInitializer: tf.initializers.randomNormal({ mean: 0, stddev: 0.01, seed: seeds.take() }),
  });
  layers.push(head);
  const model = tf.sequential({ name: `detector-s${stride}`, layers });
  // softmax(b, 0, ..., 0)[0] = prior for b = log(prior * numClasses / (1 - prior)). Set as a weight (the topology
  // keeps tfjs's zeros initializer), so a checkpoint loads without a custom initializer class.
  const bias = new Float32Array(spec.numClasses + 1 + BOX_CHANNELS);
  bias[0] = Math.log((prior * spec.numClasses) / (1 - prior));
  const [kernel] = head.getWeights();
  const biasTensor = tf.tensor1d(bias);
  head.setWeights([kernel, biasTensor]);
  biasTensor.dispose();
  return model;
}

/** The geometry of a detector (one built here or loaded from a checkpoint); throws on a model that is not one. */
export function detectorGeometry(model: tf.LayersModel): DetectorGeometry {
  const input = model.inputs[0].shape;
  const output = model.outputs[0].shape;
  const [, h, w, c] = input;
  const [, mapHeight, mapWidth, depth] = output;
  if (input.length !== 4 || output.length !== 4 || [h, w, c, mapHeight, mapWidth, depth].some((d) => d == null)) {
    throw new Error(
      `model ${model.name}: a detector maps [N, H, W, C] to [N, h, w, classes + ${BOX_CHANNELS}]; got [${input.join(', ')}] -> [${output.join(', ')}]`,
    );
  }
  const stride = (h as number) / (mapHeight as number);
  const classes = (depth as number) - BOX_CHANNELS;
  if (!Number.isInteger(stride) || (w as number) / (mapWidth as number) !== stride || classes < 2) {
    throw new Error(
      `model ${model.name}: output [${output.join(', ')}] is not a detector map of input [${input.join(', ')}] (one stride for both axes, >= 2 classes + ${BOX_CHANNELS} box channels)`,
    );
  }
  return {
    inputShape: [h, w, c] as [number, number, number],
    mapHeight: mapHeight as number,
    mapWidth: mapWidth as number,
    stride,
    classes,
  };
}
