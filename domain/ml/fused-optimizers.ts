/**
 * tfjs's momentum and Adam optimizers with each variable's update done by one
 * native TensorFlow op (WinnowMomentumUpdate, WinnowAdamUpdate from
 * kernels/native/winnow-tf-ops) on the tfjs-node backend, with the same float
 * arithmetic in the same order, so the same weights bit for bit. tfjs runs 4
 * (momentum) and 13 (Adam) ops per variable, each with ~50 us of fixed cost
 * on tfjs-node. Anywhere else (another backend, ops not built, Nesterov) the
 * stock update runs. Checkpoints (getWeights/setWeights) are unchanged.
 */
import * as tf from '@tensorflow/tfjs';
import { loadWinnowTfOps, type WinnowTfOps } from '../../kernels/tfjs-node/tfjs-node-native-ops';
import { nodeBackend } from '../../kernels/tfjs-node/tfjs-node-ops';

type VariableGradients = Parameters<tf.MomentumOptimizer['applyGradients']>[0];

interface Slot {
  originalName: string;
  variable: tf.Variable;
}

/** The fields of tfjs's MomentumOptimizer and AdamOptimizer used here (private in their typings). */
interface MomentumFields {
  accumulations: Slot[];
  m: tf.Scalar;
  c: tf.Scalar;
  useNesterov: boolean;
}

interface AdamFields {
  accumulatedFirstMoment: Slot[];
  accumulatedSecondMoment: Slot[];
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  beta1: number;
  beta2: number;
  epsilon: number;
  learningRate: number;
}

/** The native ops, when the active backend is tfjs-node and they are built. */
function nativeOps(): WinnowTfOps | undefined {
  return tf.getBackend() === 'tensorflow' ? loadWinnowTfOps().ops : undefined;
}

/** Each variable with its gradient, in the order tfjs's optimizers index their slots. */
function entries(
  variableGradients: VariableGradients,
): { name: string; value: tf.Variable; gradient: tf.Tensor | undefined }[] {
  if (Array.isArray(variableGradients)) {
    return variableGradients.map(({ name, tensor }) => ({
      name,
      value: tf.engine().registeredVariables[name],
      gradient: tensor,
    }));
  }
  return Object.entries(variableGradients).map(([name, gradient]) => ({
    name,
    value: tf.engine().registeredVariables[name],
    gradient,
  }));
}

function slot(slots: Slot[], i: number, originalName: string, like: tf.Variable): tf.Variable {
  slots[i] ??= { originalName, variable: tf.tidy(() => tf.zerosLike(like).variable(false)) };
  return slots[i].variable;
}

function fusable(value: tf.Variable, gradient: tf.Tensor | undefined): gradient is tf.Tensor {
  return (
    gradient !== undefined &&
    gradient !== null &&
    value.dtype === 'float32' &&
    gradient.dtype === 'float32' &&
    gradient.size === value.size
  );
}

export class FusedMomentumOptimizer extends tf.MomentumOptimizer {
  override applyGradients(variableGradients: VariableGradients): void {
    const ops = nativeOps();
    const self = this as unknown as MomentumFields;
    const all = entries(variableGradients);
    if (!ops || self.useNesterov || !all.every(({ value, gradient }) => gradient == null || fusable(value, gradient))) {
      super.applyGradients(variableGradients);
      return;
    }
    const backend = nodeBackend(tf.backend());
    all.forEach(({ name, value, gradient }, i) => {
      const accumulation = slot(self.accumulations, i, `${name}/momentum`, value);
      if (gradient == null) return;
      tf.tidy(() => {
        const [newValue, newAccumulation] = backend.executeMultipleOutputs(
          ops.momentumUpdate,
          [],
          [value, accumulation, gradient, self.m, self.c],
          2,
        );
        accumulation.assign(newAccumulation);
        value.assign(newValue);
      });
    });
    this.incrementIterations();
  }
}

export class FusedAdamOptimizer extends tf.AdamOptimizer {
  override applyGradients(variableGradients: VariableGradients): void {
    const ops = nativeOps();
    const self = this as unknown as AdamFields;
    const all = entries(variableGradients);
    if (!ops || !all.every(({ value, gradient }) => gradient == null || fusable(value, gradient))) {
      super.applyGradients(variableGradients);
      return;
    }
    const backend = nodeBackend(tf.backend());
    tf.tidy(() => {
      // The scalars tfjs's Adam builds from the same numbers (float32), in its order of operations.
      const scalars = [
        tf.scalar(self.beta1),
        tf.scalar(1 - self.beta1),
        tf.scalar(self.beta2),
        tf.scalar(1 - self.beta2),
        tf.sub(1, self.accBeta1),
        tf.sub(1, self.accBeta2),
        tf.scalar(self.epsilon),
        tf.scalar(-self.learningRate),
      ];
      all.forEach(({ name, value, gradient }, i) => {
        const first = slot(self.accumulatedFirstMoment, i, `${name}/m`, value);
        const second = slot(self.accumulatedSecondMoment, i, `${name}/v`, value);
        if (gradient == null) return;
        const [newValue, newFirst, newSecond] = backend.executeMultipleOutputs(
          ops.adamUpdate,
          [],
          [value, first, second, gradient, ...scalars],
          3,
        );
        first.assign(newFirst);
        second.assign(newSecond);
        value.assign(newValue);
      });
      self.accBeta1.assign(tf.mul(self.accBeta1, self.beta1));
      self.accBeta2.assign(tf.mul(self.accBeta2, self.beta2));
    });
    this.incrementIterations();
  }
}
