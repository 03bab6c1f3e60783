import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { idxPrefix } from '../../bench/reproduce-data';
import {
  attemptWorkflowId,
  estimateSeconds,
  experimentWorkflowId,
  nextStep,
  parsedConfig,
  profileOf,
  profileWork,
  searchWork,
  evaluationModelCost,
  spreadEpochs,
  trainingEquivalents,
  type Experiment,
} from '../../bench/reproduce-plan';
import { parseSearchConfig } from '../../contracts/config';

describe('reproduce: what to do with an experiment given its workflows', () => {
  const base = 'reproduce-quick-entropy-0123abcd';

  it('starts attempt 0 when no workflow exists', () => {
    assert.deepEqual(nextStep(base, [], 2), { action: 'start', workflowId: base });
  });

  it('reuses a completed search and awaits a running one', () => {
    assert.deepEqual(nextStep(base, ['COMPLETED'], 2), { action: 'reuse', workflowId: base });
    assert.deepEqual(nextStep(base, ['RUNNING'], 2), { action: 'await', workflowId: base });
    assert.deepEqual(nextStep(base, ['FAILED', 'COMPLETED'], 2), { action: 'reuse', workflowId: `${base}-r1` });
    assert.deepEqual(nextStep(base, ['TERMINATED', 'RUNNING'], 0), { action: 'await', workflowId: `${base}-r1` });
  });

  it('resumes a failed, terminated, timed-out or cancelled search into the next attempt', () => {
    for (const status of ['FAILED', 'TERMINATED', 'TIMED_OUT', 'CANCELLED'] as const) {
      assert.deepEqual(nextStep(base, [status], 1), { action: 'restart', from: base, workflowId: `${base}-r1` });
    }
    assert.deepEqual(nextStep(base, ['FAILED', 'TERMINATED'], 1), {
      action: 'restart',
      from: `${base}-r1`,
      workflowId: `${base}-r2`,
    });
  });

  it('gives up on a failed search when no resume is left', () => {
    const step = nextStep(base, ['FAILED'], 0);
    assert.equal(step.action, 'give-up');
    assert.equal(step.workflowId, base);
  });

  it('numbers attempts after the first', () => {
    assert.equal(attemptWorkflowId(base, 0), base);
    assert.equal(attemptWorkflowId(base, 3), `${base}-r3`);
  });
});

describe('reproduce: experiment names', () => {
  const quick = (uri?: string) => profileOf('quick', { datasetUri: uri });

  it('gives the same id for the same config wherever the data folder lies, and a usable search id', () => {
    const a = quick('/a/state/reproduce/data/x').experiments[0];
    const b = quick('/b/elsewhere/x').experiments[0];
    const id = experimentWorkflowId('quick', a);
    assert.equal(id, experimentWorkflowId('quick', b));
    assert.match(id, /^reproduce-quick-entropy-[0-9a-f]{8}$/);
    assert.ok(parseSearchConfig({ ...a.config, searchId: `${id}-r12` }).ok);
  });

  it('gives another id when the config or the profile changes', () => {
    const e = quick('/x').experiments[0];
    const changed: Experiment = { ...e, config: { ...e.config, seed: 1 } };
    assert.notEqual(experimentWorkflowId('quick', e), experimentWorkflowId('quick', changed));
    assert.notEqual(experimentWorkflowId('quick', e), experimentWorkflowId('full', e));
  });

  it('gives every experiment of both profiles a distinct id', () => {
    const ids = (['quick', 'full'] as const).flatMap((p) =>
      profileOf(p).experiments.map((e) => experimentWorkflowId(p, e)),
    );
    assert.equal(new Set(ids).size, ids.length);
  });
});

describe('reproduce: profiles', () => {
  for (const name of ['quick', 'full'] as const) {
    it(`${name}: valid configs, targets at 10/25/50/75% of the pool, 3 repeats, the paper's methods`, () => {
      const profile = profileOf(name);
      for (const e of profile.experiments) {
        const config = parsedConfig(e);
        assert.deepEqual(
          config.targets.map((t) => t / profile.trainSamples),
          [0.1, 0.25, 0.5, 0.75],
          e.name,
        );
        assert.ok(config.evaluation.repeats >= 3, e.name);
      }
      const main = profile.experiments.filter((e) => e.role === 'main').map(parsedConfig);
      assert.deepEqual(
        main.filter((c) => c.scheme === 'build-up').map((c) => c.acquisition.function),
        ['entropy', 'mutual-information', 'variation-ratios', 'random'],
      );
      assert.equal(main.filter((c) => c.scheme === 'compress').length, 1);
      // Exactly one search trains the baselines that every other shares.
      const withBaselines = profile.experiments
        .map(parsedConfig)
        .filter((c) => c.evaluation.randomBaseline || c.evaluation.fullBaseline);
      assert.equal(withBaselines.length, 1);
      assert.ok(withBaselines[0].evaluation.randomBaseline && withBaselines[0].evaluation.fullBaseline);
    });
  }

  it('each ablation changes one config switch of the entropy search', () => {
    const profile = profileOf('full');
    const entropy = profile.experiments.find((e) => e.name === 'entropy')!.config;
    const ablations = profile.experiments.filter((e) => e.role === 'ablation');
    assert.deepEqual(
      ablations.map((a) => a.name),
      ['finetune', 'members-only', 'checkpoints-only'],
    );
    for (const a of ablations) {
      const keys = new Set([...Object.keys(entropy), ...Object.keys(a.config)]);
      const differing = [...keys].filter(
        (k) =>
          k !== 'evaluation' &&
          JSON.stringify((entropy as Record<string, unknown>)[k]) !==
            JSON.stringify((a.config as Record<string, unknown>)[k]),
      );
      assert.equal(differing.length, 1, `${a.name} differs in ${differing.join(', ')}`);
    }
    // Members vs checkpoints at equal ensemble size.
    const size = (name: string) => {
      const c = parsedConfig(profile.experiments.find((e) => e.name === name)!);
      return c.ensemble.members * c.ensemble.checkpointEpochs.length;
    };
    assert.equal(size('members-only'), size('entropy'));
    assert.equal(size('checkpoints-only'), size('entropy'));
  });

  it('leaves the ablations out on request; quick keeps one unless asked for all', () => {
    const ablationsOf = (p: ReturnType<typeof profileOf>) =>
      p.experiments.filter((e) => e.role === 'ablation').map((e) => e.name);
    assert.deepEqual(ablationsOf(profileOf('quick')), ['finetune']);
    assert.deepEqual(ablationsOf(profileOf('quick', { allAblations: true })), [
      'finetune',
      'members-only',
      'checkpoints-only',
    ]);
    assert.deepEqual(ablationsOf(profileOf('full', { withoutAblations: true })), []);
    // The extra ablations do not change the ids of the searches a default run made (they are reused).
    const ids = (p: ReturnType<typeof profileOf>) => p.experiments.map((e) => experimentWorkflowId(p.name, e));
    assert.deepEqual(ids(profileOf('quick', { allAblations: true })).slice(0, 6), ids(profileOf('quick')));
  });

  it('spreads checkpoints over the epochs, ending at the last', () => {
    assert.deepEqual(spreadEpochs(8, 8), [1, 2, 3, 4, 5, 6, 7, 8]);
    assert.deepEqual(spreadEpochs(8, 4), [2, 4, 6, 8]);
    assert.deepEqual(spreadEpochs(6, 1), [6]);
    assert.throws(() => spreadEpochs(3, 4), /4 distinct checkpoints in 3 epochs/);
  });
});

describe('reproduce: work and estimate', () => {
  it('counts ensemble, scoring and evaluation work of a build-up search', () => {
    const parsed = parseSearchConfig({
      dataset: { kind: 'synthetic', size: 1000 },
      initialSize: 50,
      targets: [100, 250],
      training: { epochs: 2 },
      ensemble: { members: 3, checkpointEpochs: [1, 2] },
      shardSize: 400,
      evaluation: { repeats: 3, randomBaseline: true, fullBaseline: true },
    });
    assert.ok(parsed.ok);
    const w = searchWork(parsed.config, 1000, 500);
    // Ensembles on 50 and 100 samples; evaluation at 100 and 250 (AL and random), full set once.
    const ensemble = 3 * (50 + 100) * 2;
    const evaluation = 3 * 2 * (100 + 250) * 2 + 3 * 1000 * 2;
    assert.equal(w.trainSampleEpochs, ensemble + evaluation);
    assert.equal(w.predictions, 2 * 1000 * 6 + (3 * 2 * 2 + 3) * 500);
    assert.equal(w.heavyActivities, 2 * (3 + 3) + 2 * (3 * 2 * 2 + 3));
  });

  it('counts compress as one ensemble on the whole pool', () => {
    const parsed = parseSearchConfig({
      dataset: { kind: 'synthetic' },
      scheme: 'compress',
      targets: [10, 20],
      training: { epochs: 1 },
      ensemble: { members: 2, checkpointEpochs: [1] },
      evaluation: { randomBaseline: false, fullBaseline: false },
    });
    assert.ok(parsed.ok);
    assert.equal(searchWork(parsed.config, 100, 10).trainSampleEpochs, 2 * 100 + 10 + 20);
  });

  it('counts early-stopped evaluation models at maxEpochs with a held-out pass per epoch', () => {
    const parsed = parseSearchConfig({
      dataset: { kind: 'synthetic', size: 1000, limit: 800 },
      initialSize: 50,
      targets: [100],
      training: { epochs: 2, minSteps: 1000 },
      ensemble: { members: 1, checkpointEpochs: [2] },
      evaluation: {
        repeats: 1,
        randomBaseline: false,
        fullBaseline: false,
        earlyStopping: { validationSamples: 100, maxEpochs: 7 },
      },
    });
    assert.ok(parsed.ok, parsed.ok ? '' : parsed.problems.join('; '));
    const w = searchWork(parsed.config, 800, 500);
    // The member on 50 samples stretches to minSteps (1 step of 128 an epoch: 1,000 epochs); the evaluation
    // model on 100 samples does not, and stops by 7 epochs.
    assert.equal(w.trainSampleEpochs, 1 * 50 * 1000 + 100 * 7);
    assert.equal(w.predictions, 800 * 1 + 500 + 100 * 7);
  });

  it('weighs evaluation models by their width against the search model', () => {
    const parsed = parseSearchConfig({
      dataset: { kind: 'synthetic', size: 1000 },
      model: 'cnn-small',
      modelWidth: 0.5,
      initialSize: 50,
      targets: [100],
      training: { epochs: 1 },
      ensemble: { members: 1, checkpointEpochs: [1] },
      evaluation: {
        repeats: 1,
        randomBaseline: false,
        fullBaseline: false,
        models: ['cnn-small', { name: 'cnn-small', width: 2 }],
      },
    });
    assert.ok(parsed.ok, parsed.ok ? '' : parsed.problems.join('; '));
    assert.equal(evaluationModelCost(parsed.config, 'cnn-small'), 1);
    assert.equal(evaluationModelCost(parsed.config, { name: 'cnn-small', width: 2 }), 16);
    const w = searchWork(parsed.config, 1000, 500);
    assert.equal(w.trainSampleEpochs, 50 + (1 + 16) * 100);
    // One member, one shard of the default 10,000, and a train + evaluate per evaluation model.
    assert.equal(w.heavyActivities, 1 + 1 + 2 * 2);
  });

  it('scales the measured time per sample to the target work', () => {
    const measured = { work: { trainSampleEpochs: 1000, predictions: 3000, heavyActivities: 1 }, seconds: 100 };
    assert.equal(trainingEquivalents(measured.work), 2000);
    const target = { trainSampleEpochs: 10_000, predictions: 30_000, heavyActivities: 5 };
    assert.equal(estimateSeconds(measured, target, 2), 2000);
    assert.ok(
      trainingEquivalents(profileWork(profileOf('full'))) > 10 * trainingEquivalents(profileWork(profileOf('quick'))),
    );
  });
});

describe('reproduce: prefix of an IDX file', () => {
  it('keeps the first records and rewrites the count', () => {
    // 3 images of 2x2 bytes.
    const idx = Buffer.from([0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    const prefix = idxPrefix(idx, 2);
    assert.deepEqual([...prefix], [0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3, 4, 5, 6, 7, 8]);
    const labels = Buffer.from([0, 0, 8, 1, 0, 0, 0, 4, 9, 8, 7, 6]);
    assert.deepEqual([...idxPrefix(labels, 1)], [0, 0, 8, 1, 0, 0, 0, 1, 9]);
    assert.throws(() => idxPrefix(labels, 5), /cannot take 5 records/);
  });
});

describe('reproduce: the medium profile', () => {
  it('trains every model for at least the full set’s steps on all 60k samples, up to 50%', () => {
    const medium = profileOf('medium');
    assert.equal(medium.trainSamples, 60000);
    assert.equal(medium.prefixData, false);
    assert.deepEqual(
      medium.experiments.map((e) => e.name),
      ['entropy', 'mutual-information', 'variation-ratios', 'random-acquisition', 'compress'],
    );
    const config = parsedConfig(medium.experiments[0]);
    assert.deepEqual(config.targets, [6000, 15000, 30000]);
    assert.ok('kind' in config.dataset);
    assert.equal(config.dataset.uri, undefined, 'the default Fashion-MNIST folder, no copy');
    // Equal compute: the full set's 2 epochs are 938 steps of 128, and no model takes fewer.
    assert.equal(config.training.minSteps, Math.ceil(60000 / 128) * 2);
    const work = searchWork(config, 60000, 10000);
    const models = 3 * 2 + 3 * 3 * 2 + 3; // ensembles of 3 rounds, AL and random at 3 targets, full set
    assert.ok(
      work.trainSampleEpochs >= models * 938 * 128 * 0.99,
      `${work.trainSampleEpochs} sample-epochs for ${models} models`,
    );
  });
});

describe('reproduce: ablations a profile cannot hold', () => {
  it('says why the medium profile has none instead of failing deep inside', () => {
    assert.throws(
      () => profileOf('medium', { allAblations: true }),
      /the medium profile has no ablations: its 2 epochs cannot hold the 4 distinct checkpoints/,
    );
  });
});
