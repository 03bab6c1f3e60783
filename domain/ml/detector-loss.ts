/**
 * The detector's loss on its output map and a batch's targets
 * (domain/detection/targets.ts):
 *
 *   class = sum over locations of weight * (1 - p_t)^gamma * -log p_t / max(1, positives)
 *           (softmax focal loss over background + categories; weight = the
 *           targets' class weight, times `backgroundWeight` at background cells)
 *   box   = sum over centre cells of |sigmoid(offset) - (dx, dy)| + |log size - target| / max(1, centre cells)
 *   total = class + boxWeight * box
 */
import * as tf from '@tensorflow/tfjs';
import type { DetectionTargets } from '../detection/targets';
import { BOX_CHANNELS } from './detector-model';

export interface DetectorLossOptions {
  /** Focal exponent (0 = plain cross-entropy). */
  gamma: number;
  /** Multiplies the class loss of background locations. */
  backgroundWeight: number;
  /** lambda: the box loss's weight in the total. */
  boxWeight: number;
}

export const defaultDetectorLossOptions: DetectorLossOptions = { gamma: 2, backgroundWeight: 0.5, boxWeight: 1 };

/** A batch's targets as tensors, [N * locations] and [N * locations, 4]; the caller disposes them. */
export interface TargetTensors {
  classes: tf.Tensor1D;
  /** Class weight with the background factor already applied. */
  weights: tf.Tensor1D;
  boxes: tf.Tensor2D;
  centers: tf.Tensor2D;
  positives: number;
  centerCount: number;
}

export interface DetectorLoss {
  total: tf.Scalar;
  classLoss: tf.Scalar;
  boxLoss: tf.Scalar;
}

export function targetTensors(targets: DetectionTargets, options: DetectorLossOptions): TargetTensors {
  const n = targets.classes.length;
  const weights = new Float32Array(n);
  for (let i = 0; i < n; i++)
    weights[i] = targets.classWeights[i] * (targets.classes[i] === 0 ? options.backgroundWeight : 1);
  return {
    classes: tf.tensor1d(targets.classes, 'int32'),
    weights: tf.tensor1d(weights),
    boxes: tf.tensor2d(targets.boxes, [n, BOX_CHANNELS]),
    centers: tf.tensor2d(targets.centers, [n, 1]),
    positives: targets.positives,
    centerCount: targets.centerCount,
  };
}

/** `output`: the detector's [N, h, w, classes + 4] map. Intermediates are freed; the three scalars are the caller's. */
export function detectorLoss(output: tf.Tensor, targets: TargetTensors, options: DetectorLossOptions): DetectorLoss {
  return tf.tidy(() => {
    const depth = output.shape[output.shape.length - 1];
    const classes = depth - BOX_CHANNELS;
    const rows = output.reshape([-1, depth]);
    if (rows.shape[0] !== targets.classes.shape[0]) {
      throw new Error(
        `detector loss: the output has ${rows.shape[0]} locations, the targets ${targets.classes.shape[0]}`,
      );
    }
    const logits = rows.slice([0, 0], [-1, classes]);
    const logP = tf.logSoftmax(logits);
    const logPt = tf.sum(tf.mul(logP, tf.oneHot(targets.classes, classes)), 1);
    const focal = tf.mul(tf.pow(tf.sub(1, tf.exp(logPt)), options.gamma), tf.neg(logPt));
    const classLoss = tf.div(tf.sum(tf.mul(focal, targets.weights)), Math.max(1, targets.positives)) as tf.Scalar;

    const raw = rows.slice([0, classes], [-1, BOX_CHANNELS]);
    const predicted = tf.concat([tf.sigmoid(raw.slice([0, 0], [-1, 2])), raw.slice([0, 2], [-1, 2])], 1);
    const l1 = tf.mul(tf.abs(tf.sub(predicted, targets.boxes)), targets.centers);
    const boxLoss = tf.div(tf.sum(l1), Math.max(1, targets.centerCount)) as tf.Scalar;
    const total = tf.add(classLoss, tf.mul(boxLoss, options.boxWeight)) as tf.Scalar;
    return { total, classLoss, boxLoss };
  });
}
