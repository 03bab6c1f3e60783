import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseSearchConfig, type SearchConfig } from '../../contracts/config';
import { stepsPerEpoch, trainingBudget } from '../../contracts/training-budget';

function trainingOf(training: Record<string, unknown>): SearchConfig['training'] {
  const parsed = parseSearchConfig({ dataset: { kind: 'synthetic' }, targets: [10], training });
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.problems.join('; '));
  return parsed.config.training;
}

describe('training budget', () => {
  it('counts batches as the training loop does', () => {
    assert.equal(stepsPerEpoch(1000, 128), 8);
    assert.equal(stepsPerEpoch(1024, 128), 8);
    assert.equal(stepsPerEpoch(50, 128), 1, 'the batch shrinks to the sample count');
    assert.throws(() => stepsPerEpoch(0, 128), /at least one sample/);
  });

  it('without minSteps leaves epochs and checkpoints alone', () => {
    const budget = trainingBudget(trainingOf({ epochs: 6 }), [3, 6], 400);
    assert.equal(budget.training.epochs, 6);
    assert.deepEqual(budget.checkpointEpochs, [3, 6]);
    assert.equal(budget.steps, 4 * 6);
    assert.equal('minSteps' in budget.training, false, 'activities get resolved settings');
  });

  it('stretches epochs, checkpoints and step milestones of small sets to reach minSteps', () => {
    const training = trainingOf({
      epochs: 6,
      minSteps: 300,
      schedule: { kind: 'step', milestones: [2, 4], factor: 0.1 },
    });
    // 400 samples: 4 steps per epoch, so 75 epochs (12.5 times the configured 6).
    const small = trainingBudget(training, [3, 6], 400);
    assert.equal(small.training.epochs, 75);
    assert.equal(small.steps, 300);
    assert.deepEqual(small.checkpointEpochs, [38, 75], 'half-way and last, as configured');
    assert.deepEqual(small.training.schedule, { kind: 'step', milestones: [25, 50], factor: 0.1 });
    // A set big enough for 300 steps in 6 epochs keeps them.
    const large = trainingBudget(training, [3, 6], 8000);
    assert.equal(large.training.epochs, 6);
    assert.deepEqual(large.checkpointEpochs, [3, 6]);
    assert.deepEqual(large.training.schedule, training.schedule);
  });

  it('keeps checkpoint epochs distinct and within the run for any stretch', () => {
    for (let samples = 1; samples <= 3000; samples += 37) {
      const budget = trainingBudget(
        trainingOf({ epochs: 8, minSteps: 500, batchSize: 64 }),
        [1, 2, 3, 4, 5, 6, 7, 8],
        samples,
      );
      const epochs = budget.checkpointEpochs;
      assert.equal(new Set(epochs).size, 8, `distinct at ${samples} samples: ${epochs.join(',')}`);
      assert.ok(
        epochs.every((e, i) => e >= 1 && e <= budget.training.epochs && (i === 0 || e > epochs[i - 1])),
        `ascending, in range: ${epochs.join(',')}`,
      );
      assert.equal(epochs.at(-1), budget.training.epochs, 'the last checkpoint is the end of training');
      assert.ok(budget.steps >= 500, `${budget.steps} steps at ${samples} samples`);
    }
  });

  it('config refuses a minSteps that is not a positive integer', () => {
    const parsed = parseSearchConfig({ dataset: { kind: 'synthetic' }, targets: [10], training: { minSteps: 0.5 } });
    assert.equal(parsed.ok, false);
    assert.match(parsed.ok ? '' : parsed.problems.join('\n'), /training\.minSteps/);
  });
});
