/**
 * One round of the search as one object: built once from the config, the
 * carried state and the tracker, with the steps that subsetSearch calls in
 * the method's order (train, score, acquire, evaluate). Each step waits while
 * the search is paused, then moves the tracker to its phase. The scoring
 * fan-out and the repair loops live beside it (score-pool.ts, repairs.ts).
 */
import { executeChild, patched, workflowInfo } from '@temporalio/workflow';
import type { AcquireInput, AcquireResult, ScoreShardResult } from '../activities';
import { artifactPaths } from '../contracts/artifact-paths';
import { modelLabel, type EvaluationModel, type SearchConfig } from '../contracts/config';
import { TaskQueue } from '../contracts/task-queues';
import { trainingBudget } from '../contracts/training-budget';
import { memberInput } from './member-inputs';
import { Patches } from './patches';
import { gpu, light } from './proxies';
import { acquireRepairingShards, retryAfterRetraining } from './repairs';
import { scorePoolShards, scoreShardsWindowed, type ScoreShardsInput } from './score-pool';
import { forEachWindowed } from './windowed';
import {
  deriveSeed,
  poolShards,
  shardGroups,
  summarise,
  type PreviewRef,
  type SearchState,
  type ShardRange,
  type SubsetPointer,
} from './search-plan';
import type { SearchTracker } from './search-tracker';

/** The round's ensemble: members x checkpoints, as checkpoint URIs. */
export interface Ensemble {
  checkpoints: string[];
  /** Mean final training loss over the members. */
  meanLoss: number;
}

/** One evaluation model's result: test accuracy, or for detection mAP@[.5:.95] with mAP@.5 and box previews. */
interface Evaluated {
  value: number;
  /** Early stopping: the epoch the model kept. */
  keptEpoch?: number;
  map50?: number;
  previews?: PreviewRef[];
}

/** The round's score shards, one URI per pool shard in shard order. */
export interface PoolScores {
  uris: string[];
}

export class Round {
  constructor(
    private readonly config: SearchConfig,
    private readonly state: SearchState,
    private readonly tracker: SearchTracker,
  ) {}

  /** M members in parallel on winnow-gpu, each saving its checkpoints: members x checkpoints = the ensemble. */
  async train(): Promise<Ensemble> {
    await this.tracker.gate();
    return this.trainMembers();
  }

  /**
   * Every pool shard scored with every checkpoint, at most `scoringWindow`
   * shards in flight. Up to `shardsPerChild` shards run in this workflow; more
   * fan out through scorePoolShards child workflows, two groups at a time (one
   * after another in searches recorded before that change).
   */
  async score(ensemble: Ensemble): Promise<PoolScores> {
    await this.tracker.gate();
    const { config, state, tracker } = this;
    const shards = poolShards(state.pool.poolSize, config.shardSize);
    tracker.progress.shards = shards.length;
    tracker.progress.shardsScored = 0;
    const groups = shardGroups(shards, config.shardsPerChild);
    const via = groups.length > 1 ? ` through ${groups.length} child workflows` : '';
    const models = ensemble.checkpoints.length;
    tracker.enter(
      'scoring',
      `scoring ${state.pool.poolSize} samples in ${shards.length} shards with ${models} models (${config.acquisition.function})${via}`,
    );
    const retrain = (): Promise<void> => this.retrainAfterCorruption();
    if (groups.length === 1) {
      const onScored = (result: ScoreShardResult): void => {
        tracker.addTaskPhases('score', result.phases);
        tracker.progress.shardsScored++;
        tracker.touch();
      };
      return { uris: await scoreShardsWindowed(this.scoreWork(ensemble, shards), onScored, retrain) };
    }
    // One retraining at a time, shared by the children that met the same corrupt checkpoint.
    let retraining: Promise<void> | undefined;
    const retrainOnce = (): Promise<void> => (retraining ??= retrain().finally(() => (retraining = undefined)));
    const scoreGroup = async (g: number): Promise<string[]> => {
      const scored = await retryAfterRetraining(
        (attempt) =>
          executeChild(scorePoolShards, {
            workflowId: `${workflowInfo().workflowId}/round-${state.round}/scores-${g}${attempt > 0 ? `-repaired-${attempt}` : ''}`,
            taskQueue: TaskQueue.orchestrator,
            args: [this.scoreWork(ensemble, groups[g]!)],
          }),
        retrainOnce,
      );
      tracker.progress.shardsScored += groups[g]!.length;
      tracker.touch();
      return scored;
    };
    // Searches recorded before the change replay their children one after another.
    const inFlight = patched(Patches.overlapScoringChildren) ? 2 : 1;
    const scored = new Array<string[]>(groups.length);
    await forEachWindowed(groups.length, inFlight, async (g) => {
      scored[g] = await scoreGroup(g);
    });
    return { uris: scored.flat() };
  }

  /** Build up: the top `k` of the round's scores join the current subset, making the next round's subset. */
  async extendSubset(ensemble: Ensemble, scores: PoolScores, k: number): Promise<AcquireResult> {
    await this.tracker.gate();
    const { searchId, round, subset } = this.state;
    return this.acquire(ensemble, scores, `acquiring ${k} samples`, {
      key: artifactPaths.subset(searchId, round + 1),
      parentSubsetUri: subset?.uri ?? null,
      k,
      round: round + 1,
    });
  }

  /** Compress: the `target` most uncertain samples of the whole pool, selected afresh. */
  async keepMostUncertain(ensemble: Ensemble, scores: PoolScores, target: number): Promise<AcquireResult> {
    await this.tracker.gate();
    const { searchId, round } = this.state;
    return this.acquire(ensemble, scores, `keeping the ${target} most uncertain samples`, {
      key: `${artifactPaths.round(searchId, round)}/subset-${target}.json`,
      parentSubsetUri: null,
      k: target,
      round,
    });
  }

  /**
   * Fresh models on the subset, on a random subset of equal size and (once) on the full set; test accuracy of
   * each, for the search model or for every model of evaluation.models (one random subset shared by all).
   */
  async evaluate(subset: SubsetPointer): Promise<void> {
    await this.tracker.gate();
    const { config, state, tracker } = this;
    tracker.enter('evaluating', `evaluating the subset of ${subset.count} samples`);
    const base = `${state.searchId}/eval/size-${subset.count}`;
    const repeats = Array.from({ length: config.evaluation.repeats }, (_, r) => r);
    const seedOf = (size: number, repeat: number): number => deriveSeed(config.seed, size, repeat, 5);
    // Without evaluation.models: the search model under the keys (and in the command order) searches always had.
    const models: Array<EvaluationModel | undefined> = config.evaluation.models ?? [undefined];
    const prefix = (i: number): string => (config.evaluation.models ? `/model-${i}` : '');
    const evaluateOn = (model: EvaluationModel | undefined, subsetUri: string | null, key: string, seed: number) =>
      this.trainAndTest(subsetUri === null ? state.pool.poolSize : subset.count, subsetUri, key, seed, model);
    let randomSubset: Promise<{ uri: string }> | undefined;
    const perModel = models.map((model, i) => {
      const activeLearning = Promise.all(
        repeats.map((r) => evaluateOn(model, subset.uri, `${base}${prefix(i)}/al-${r}`, seedOf(subset.count, r))),
      );
      randomSubset ??= config.evaluation.randomBaseline
        ? light.drawRandomSubset({
            storageRoot: state.storageRoot,
            key: `${base}/random-subset.json`,
            size: subset.count,
            poolSize: state.pool.poolSize,
            seed: deriveSeed(config.seed, subset.count, 6),
            fingerprint: state.pool.fingerprint,
            round: state.round,
          })
        : undefined;
      const random = randomSubset?.then((r) =>
        Promise.all(
          repeats.map((rep) =>
            evaluateOn(model, r.uri, `${base}${prefix(i)}/random-${rep}`, seedOf(subset.count, rep)),
          ),
        ),
      );
      const trained = i === 0 ? state.full : state.fullByModel?.[i];
      const full =
        config.evaluation.fullBaseline && !trained
          ? Promise.all(
              repeats.map((r) => evaluateOn(model, null, `${state.searchId}/eval${prefix(i)}/full-${r}`, seedOf(0, r))),
            )
          : undefined;
      return Promise.all([activeLearning, random, full]);
    });
    const results = await Promise.all(perModel);
    const values = (runs: Evaluated[]): number[] => runs.map((run) => run.value);
    const map50 = (runs: Evaluated[]) => summarise(runs.map((run) => run.map50 ?? NaN));
    const keptEpochs = (runs: Evaluated[]): number[] => runs.map((run) => run.keptEpoch ?? 0);
    const rows = results.map(([al, rnd]) => ({
      activeLearning: summarise(values(al)),
      random: rnd ? summarise(values(rnd)) : undefined,
    }));
    results.forEach(([, , fullRuns], i) => {
      if (!fullRuns) return;
      if (i === 0) state.full = summarise(values(fullRuns));
      if (i === 0 && config.task === 'detection') state.fullMap50 = map50(fullRuns);
      if (i === 0 && config.evaluation.earlyStopping) state.fullKeptEpochs = keptEpochs(fullRuns);
      if (config.evaluation.models) (state.fullByModel ??= [])[i] = summarise(values(fullRuns));
    });
    const [al, rnd] = results[0]!;
    state.evaluations.push({
      size: subset.count,
      fraction: subset.count / state.pool.poolSize,
      subsetUri: subset.uri,
      ...rows[0],
      ...(config.evaluation.models
        ? { models: rows.map((row, i) => ({ model: modelLabel(config.evaluation.models![i]), ...row })) }
        : {}),
      ...(config.task === 'detection'
        ? {
            detection: {
              map50: {
                activeLearning: map50(al),
                ...(rnd ? { random: map50(rnd) } : {}),
              },
              previews: {
                ...(al[0]?.previews ? { activeLearning: al[0].previews } : {}),
                ...(rnd?.[0]?.previews ? { random: rnd[0].previews } : {}),
              },
            },
          }
        : {}),
      ...(config.evaluation.earlyStopping
        ? { keptEpochs: { activeLearning: keptEpochs(al), ...(rnd ? { random: keptEpochs(rnd) } : {}) } }
        : {}),
    });
    tracker.progress.evaluations = state.evaluations;
    tracker.progress.full = state.full;
    if (state.fullMap50) tracker.progress.fullMap50 = state.fullMap50;
    if (state.fullByModel) tracker.progress.fullByModel = state.fullByModel;
  }

  /** The round's record: its subset, its timing, its members' loss. */
  finish(subset: AcquireResult, ensemble: Ensemble): void {
    this.tracker.finishRound(this.state, subset, ensemble.meanLoss);
  }

  private async trainMembers(): Promise<Ensemble> {
    const { config, state, tracker } = this;
    tracker.progress.membersTrained = 0;
    const samples = state.subset?.count ?? state.pool.poolSize;
    const budget = trainingBudget(config.training, config.ensemble.checkpointEpochs, samples);
    tracker.enter(
      'training',
      `training ${config.ensemble.members} members on ${samples} samples for ${budget.training.epochs} epochs`,
    );
    const members = await Promise.all(
      Array.from({ length: config.ensemble.members }, async (_, m) => {
        const result = await gpu.trainMember(
          memberInput(config, state, budget, {
            subsetUri: state.subset?.uri ?? null,
            memberKey: artifactPaths.member(state.searchId, state.round, m),
            seed: deriveSeed(config.seed, state.round, m, 1),
            initFrom: config.initialisation === 'finetune' ? state.lastCheckpoint : undefined,
            context: `search ${state.searchId}, round ${state.round}, member ${m}`,
          }),
        );
        tracker.progress.membersTrained++;
        tracker.addTaskPhases('train', result.phases);
        tracker.touch();
        return result;
      }),
    );
    const losses = members.map((m) => m.history.at(-1)?.loss ?? NaN).filter(Number.isFinite);
    return {
      checkpoints: members.flatMap((m) => m.checkpoints.map((c) => c.uri)),
      meanLoss: losses.length ? losses.reduce((a, b) => a + b, 0) / losses.length : NaN,
    };
  }

  /**
   * A checkpoint that fails its checksum is never scored with: the members are
   * trained again with the same inputs, which passes over damaged states and
   * rewrites them from the last intact one (intact members return at once).
   */
  private async retrainAfterCorruption(): Promise<void> {
    await this.trainMembers();
    this.tracker.enter('scoring', 'scoring again: a member whose checkpoint was corrupt has been retrained');
  }

  /** The scoreShard inputs of a group of the round's pool shards. */
  private scoreWork(ensemble: Ensemble, group: ShardRange[]): ScoreShardsInput {
    const { config, state } = this;
    return {
      common: {
        storageRoot: state.storageRoot,
        dataset: config.dataset,
        checkpoints: ensemble.checkpoints,
        function: config.acquisition.function,
        seed: deriveSeed(config.seed, state.round, 2),
        ...(config.task === 'detection' ? { reduction: config.acquisition.reduction ?? 'max' } : {}),
      },
      shards: group,
      outputKeys: group.map((shard) => artifactPaths.scoreShard(state.searchId, state.round, shard.index)),
      // The ensemble sums behind the scores are kept too, so the round can be acquired again (reacquire).
      ...(this.keepsAccumulators() ? { accumulatorKeys: group.map((shard) => this.accumulatorKey(shard)) } : {}),
      window: config.scoringWindow,
    };
  }

  /** Whether scoring keeps the ensemble accumulators (for reacquire): not for random or detection, not when the config says no. */
  private keepsAccumulators(): boolean {
    const { acquisition, task } = this.config;
    return task !== 'detection' && acquisition.function !== 'random' && acquisition.keepAccumulators !== false;
  }

  private accumulatorKey(shard: ShardRange): string {
    return artifactPaths.accumulatorShard(this.state.searchId, this.state.round, shard.index);
  }

  /** Top-k of the round's scores into a subset manifest; a damaged score shard is scored again first. */
  private async acquire(
    ensemble: Ensemble,
    scores: PoolScores,
    what: string,
    selection: Pick<AcquireInput, 'key' | 'parentSubsetUri' | 'k' | 'round'>,
  ): Promise<AcquireResult> {
    const { config, state, tracker } = this;
    tracker.enter('acquiring', what);
    const input: AcquireInput = {
      storageRoot: state.storageRoot,
      key: selection.key,
      ensembleKey: `${artifactPaths.round(state.searchId, state.round)}/ensemble.json`,
      checkpoints: ensemble.checkpoints,
      scoreShards: scores.uris,
      parentSubsetUri: selection.parentSubsetUri,
      k: selection.k,
      poolSize: state.pool.poolSize,
      seed: deriveSeed(config.seed, state.round, 3),
      fingerprint: state.pool.fingerprint,
      function: config.acquisition.function,
      round: selection.round,
      ...(state.model ? { modelFingerprint: state.model.fingerprint } : {}),
      ...(this.keepsAccumulators()
        ? {
            accumulators: {
              key: artifactPaths.accumulators(state.searchId, state.round),
              shardKeys: poolShards(state.pool.poolSize, config.shardSize).map((shard) => this.accumulatorKey(shard)),
              scoredRound: state.round,
            },
          }
        : {}),
    };
    const next = await acquireRepairingShards(
      () => light.acquire(input),
      scores.uris,
      async (index) => {
        const shard = poolShards(state.pool.poolSize, config.shardSize)[index];
        tracker.enter('scoring', `scoring shard ${index} again: its stored scores were damaged`);
        await scoreShardsWindowed(this.scoreWork(ensemble, [shard]));
        tracker.enter('acquiring', what);
      },
    );
    tracker.progress.subsetSize = next.count;
    return next;
  }

  /** One evaluation model: trained on the subset (or the whole pool) to the end of its budget, then tested. */
  private async trainAndTest(
    samples: number,
    subsetUri: string | null,
    key: string,
    seed: number,
    model?: EvaluationModel,
  ): Promise<Evaluated> {
    const { config, state } = this;
    const early = config.evaluation.earlyStopping;
    // Early stopping decides how long an evaluation model trains (at most maxEpochs): minSteps is for members then.
    const budget = early
      ? trainingBudget(
          { ...config.training, epochs: early.maxEpochs ?? config.training.epochs, minSteps: undefined },
          [early.maxEpochs ?? config.training.epochs],
          samples,
        )
      : trainingBudget(config.training, [config.training.epochs], samples);
    const context = `search ${state.searchId}, evaluation ${key}`;
    const trained = await gpu.trainMember({
      ...memberInput(config, state, budget, { subsetUri, memberKey: key, seed, context }, model),
      // The held-out samples follow the pool (the config requires dataset.limit with early stopping).
      ...(early && 'limit' in config.dataset && config.dataset.limit !== undefined
        ? {
            earlyStopping: {
              validationStart: config.dataset.limit,
              validationSamples: early.validationSamples,
              patience: early.patience,
            },
          }
        : {}),
    });
    const checkpoints = [trained.checkpoints[0].uri];
    const metrics = await gpu.evaluate({
      storageRoot: state.storageRoot,
      dataset: config.dataset,
      split: 'test',
      checkpoints,
      ...(config.task === 'detection' ? { previewKey: `${key}/previews` } : {}),
    });
    this.tracker.addTaskPhases('evaluate', trained.phases);
    this.tracker.addTaskPhases('evaluate', metrics.phases);
    if ('detection' in metrics)
      return { value: metrics.detection.map, map50: metrics.detection.map50, previews: metrics.previews };
    const kept = trained.earlyStopping?.bestEpoch;
    return { value: metrics.accuracy, ...(kept !== undefined ? { keptEpoch: kept } : {}) };
  }
}
