/**
 * The steps of a round, as subsetSearch calls them, and the plumbing under
 * them: activity options per queue, the bounded scoring window, progress,
 * search attributes and current details.
 */
import { condition, executeChild, proxyActivities, setCurrentDetails, upsertSearchAttributes, workflowInfo, ApplicationFailure } from '@temporalio/workflow';
import type { GpuActivities, OrchestratorActivities, SubsetRef } from '../activities';
import { lightActivityOptions, trainingActivityOptions } from './activity-options';
import { artifactPaths } from '../contracts/artifact-paths';
import type { SearchConfig } from '../contracts/config';
import type { SearchPhase, SearchProgress } from './definitions';
import { failureDetailsOf, failureTypeOf } from './failure-chain';
import { FailureType } from '../contracts/failures';
import { maxRepairs, scorePoolShards, scoreShardsWindowed, type ScoreShardsInput } from './score-pool';
import { deriveSearchId } from '../contracts/search-id';
import {
  acquisitionSize,
  defaultInitialSize,
  deriveSeed,
  poolShards,
  shardGroups,
  summarise,
  targetsBeyondPool,
  type AccuracySummary,
  type SearchControl,
  type SearchState,
  type ShardRange,
  type SubsetPointer,
} from './search-plan';
import { WinnowDataset, WinnowRound, WinnowStatus, WinnowSubsetSize } from './search-attributes';
import type { SearchResult } from './subset-search';
import { TaskQueue } from '../contracts/task-queues';
import { trainingBudget } from '../contracts/training-budget';

const training = proxyActivities<GpuActivities>(trainingActivityOptions);
const light = proxyActivities<OrchestratorActivities>(lightActivityOptions);

/** Progress, search attributes and current details of one search, kept in step. */
export class SearchTracker {
  readonly progress: SearchProgress;
  /** Set by the signals and the update; carried across continue-as-new in SearchState. */
  readonly control: SearchControl;
  private phaseStarted = Date.now();
  private roundSeconds = { train: 0, score: 0, acquire: 0, evaluate: 0 };

  constructor(config: SearchConfig, carried: SearchState | undefined, workflowId: string) {
    this.control = carried?.control ?? { paused: false, stopAfterRound: false, targets: config.targets };
    this.progress = {
      searchId: carried?.searchId ?? config.searchId ?? deriveSearchId(workflowId),
      phase: carried ? 'training' : 'validating',
      round: carried?.round ?? 0,
      subsetSize: carried?.subset?.count ?? 0,
      poolSize: carried?.pool.poolSize,
      targets: this.control.targets,
      paused: this.control.paused,
      stopping: this.control.stopAfterRound,
      membersTrained: 0,
      members: config.ensemble.members,
      shardsScored: 0,
      shards: 0,
      rounds: carried?.rounds ?? [],
      evaluations: carried?.evaluations ?? [],
      full: carried?.full,
      computeBackend: carried?.computeBackend,
      updatedAt: new Date().toISOString(),
    };
    if (carried) this.eta(config, carried);
  }

  enter(phase: SearchPhase, details: string): void {
    const now = Date.now();
    const spent = (now - this.phaseStarted) / 1000;
    const was = this.progress.phase;
    if (was === 'training') this.roundSeconds.train += spent;
    if (was === 'scoring') this.roundSeconds.score += spent;
    if (was === 'acquiring') this.roundSeconds.acquire += spent;
    if (was === 'evaluating') this.roundSeconds.evaluate += spent;
    this.phaseStarted = now;
    this.progress.phase = phase;
    this.progress.updatedAt = new Date(now).toISOString();
    setCurrentDetails(`**round ${this.progress.round} · ${phase}** · subset ${this.progress.subsetSize}${this.progress.poolSize ? ` of ${this.progress.poolSize}` : ''}\n\n${details}`);
  }

  /** What the progress query answers: the tracked progress with the controls' current values. */
  snapshot(): SearchProgress {
    return { ...this.progress, targets: this.control.targets, paused: this.control.paused, stopping: this.control.stopAfterRound };
  }

  /** Between steps: wait here while paused. */
  async gate(): Promise<void> {
    if (!this.control.paused) return;
    const before = this.progress.phase;
    this.enter('paused', `paused before the next step after ${before}; send the resume signal to go on`);
    await condition(() => !this.control.paused);
  }

  touch(): void {
    this.progress.updatedAt = new Date().toISOString();
  }

  finishRound(state: SearchState, next: SubsetPointer & { added: number; cutoffScore: number | null }, meanTrainLoss: number): void {
    this.enter(this.progress.phase, 'round finished');
    state.rounds.push({ round: state.round, subsetSize: next.count, added: next.added, cutoffScore: next.cutoffScore, meanTrainLoss, seconds: { ...this.roundSeconds } });
    this.roundSeconds = { train: 0, score: 0, acquire: 0, evaluate: 0 };
    this.progress.subsetSize = next.count;
    upsertSearchAttributes([
      { key: WinnowRound, value: state.round + 1 },
      { key: WinnowSubsetSize, value: next.count },
    ]);
  }

  private eta(config: SearchConfig, state: SearchState): void {
    const done = state.rounds;
    if (done.length === 0) return;
    const perRound = done.reduce((a, r) => a + r.seconds.train + r.seconds.score + r.seconds.acquire + r.seconds.evaluate, 0) / done.length;
    let size = state.subset?.count ?? 0;
    let left = 0;
    for (let k = acquisitionSize(config, size, state.control.targets); k > 0; k = acquisitionSize(config, size, state.control.targets)) {
      size += k;
      left++;
    }
    this.progress.etaSeconds = Math.round(perRound * left);
  }

  finish(config: SearchConfig, state: SearchState): SearchResult {
    this.enter('done', `finished: ${state.evaluations.length} target size(s) evaluated`);
    this.progress.etaSeconds = 0;
    upsertSearchAttributes([{ key: WinnowStatus, value: 'completed' }]);
    return {
      searchId: state.searchId,
      config,
      storageRoot: state.storageRoot,
      poolSize: state.pool.poolSize,
      numClasses: state.pool.numClasses,
      subsets: Object.fromEntries(state.evaluations.map((e) => [String(e.size), e.subsetUri])),
      evaluations: state.evaluations,
      full: state.full,
      rounds: state.rounds,
      computeBackend: state.computeBackend,
    };
  }

  fail(err: unknown): void {
    setCurrentDetails(`**failed** in round ${this.progress.round}, ${this.progress.phase}: ${(err as Error).message}`);
  }
}

/** Round 0: probe the compute backend, record the search, describe the pool, draw the starting subset. */
export async function prepareSearch(config: SearchConfig, tracker: SearchTracker): Promise<SearchState> {
  const searchId = tracker.progress.searchId;
  upsertSearchAttributes([
    { key: WinnowDataset, value: config.dataset.kind },
    { key: WinnowStatus, value: 'running' },
    { key: WinnowRound, value: 0 },
    { key: WinnowSubsetSize, value: 0 },
  ]);
  tracker.enter('preparing', 'probing the compute backend, reading the pool');
  const compute = await training.probeCompute();
  tracker.progress.computeBackend = compute.backend;
  const manifest = await light.writeSearchManifest({ searchId, workflowId: workflowInfo().workflowId, config, compute });
  const pool = await light.describePool({ dataset: config.dataset });
  const tooLarge = targetsBeyondPool(config.targets, pool.poolSize);
  if (tooLarge.length > 0) {
    throw ApplicationFailure.create({ type: FailureType.InvalidConfig, message: `invalid search config for this dataset: ${tooLarge.join('; ')}`, nonRetryable: true });
  }
  tracker.progress.poolSize = pool.poolSize;
  let subset: SubsetPointer | null = null;
  if (config.scheme === 'build-up') {
    subset = await light.drawRandomSubset({
      storageRoot: manifest.storageRoot,
      key: artifactPaths.subset(searchId, 0),
      size: defaultInitialSize(config),
      poolSize: pool.poolSize,
      seed: deriveSeed(config.seed, 0, 11),
      fingerprint: pool.fingerprint,
      round: 0,
    });
    tracker.progress.subsetSize = subset.count;
    upsertSearchAttributes([{ key: WinnowSubsetSize, value: subset.count }]);
  }
  return {
    searchId,
    storageRoot: manifest.storageRoot,
    pool: { poolSize: pool.poolSize, testSize: pool.testSize, numClasses: pool.numClasses, fingerprint: pool.fingerprint },
    round: 0,
    subset,
    evaluations: [],
    rounds: [],
    control: tracker.control,
    computeBackend: compute.backend,
    startedAt: new Date().toISOString(),
  };
}

/** M members in parallel on winnow-gpu, each saving its checkpoints: members x checkpoints = the ensemble. */
export async function trainEnsemble(config: SearchConfig, state: SearchState, tracker: SearchTracker): Promise<{ checkpoints: string[]; meanLoss: number }> {
  tracker.progress.membersTrained = 0;
  const samples = state.subset?.count ?? state.pool.poolSize;
  const budget = trainingBudget(config.training, config.ensemble.checkpointEpochs, samples);
  tracker.enter('training', `training ${config.ensemble.members} members on ${samples} samples for ${budget.training.epochs} epochs`);
  const members = await Promise.all(
    Array.from({ length: config.ensemble.members }, async (_, m) => {
      const result = await training.trainMember({
        storageRoot: state.storageRoot,
        dataset: config.dataset,
        model: { name: config.model, width: config.modelWidth },
        training: budget.training,
        subsetUri: state.subset?.uri ?? null,
        memberKey: artifactPaths.member(state.searchId, state.round, m),
        checkpointEpochs: budget.checkpointEpochs,
        seed: deriveSeed(config.seed, state.round, m, 1),
        initFrom: config.initialisation === 'finetune' ? state.lastCheckpoint : undefined,
        context: `search ${state.searchId}, round ${state.round}, member ${m}`,
      });
      tracker.progress.membersTrained++;
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
 * Every pool shard scored with every checkpoint, at most `scoringWindow`
 * shards in flight. Up to `shardsPerChild` shards run in this workflow; more
 * fan out through scorePoolShards child workflows, one group after another.
 */
export async function scorePool(
  config: SearchConfig,
  state: SearchState,
  checkpoints: string[],
  tracker: SearchTracker,
  /** Retrains the round's members from their last intact state (a checkpoint failed its checksum). */
  repair?: () => Promise<void>,
): Promise<{ uris: string[] }> {
  const shards = poolShards(state.pool.poolSize, config.shardSize);
  tracker.progress.shards = shards.length;
  tracker.progress.shardsScored = 0;
  const groups = shardGroups(shards, config.shardsPerChild);
  const via = groups.length > 1 ? ` through ${groups.length} child workflows` : '';
  tracker.enter('scoring', `scoring ${state.pool.poolSize} samples in ${shards.length} shards with ${checkpoints.length} models (${config.acquisition.function})${via}`);
  const work = (group: typeof shards): ScoreShardsInput => scoreWork(config, state, checkpoints, group);
  if (groups.length === 1) {
    const uris = await scoreShardsWindowed(
      work(shards),
      () => {
        tracker.progress.shardsScored++;
        tracker.touch();
      },
      repair,
    );
    return { uris };
  }
  const uris: string[] = [];
  for (const [g, group] of groups.entries()) {
    let scored: string[] | undefined;
    // A child that met a corrupt checkpoint fails; after the repair the group runs again under a new id.
    for (let attempt = 0; scored === undefined; attempt++) {
      try {
        scored = await executeChild(scorePoolShards, {
          workflowId: `${workflowInfo().workflowId}/round-${state.round}/scores-${g}${attempt > 0 ? `-repaired-${attempt}` : ''}`,
          taskQueue: TaskQueue.orchestrator,
          args: [work(group)],
        });
      } catch (err) {
        if (!repair || attempt >= maxRepairs || failureTypeOf(err) !== FailureType.CorruptArtifact) throw err;
        await repair();
      }
    }
    uris.push(...scored);
    tracker.progress.shardsScored += group.length;
    tracker.touch();
  }
  return { uris };
}

/** The scoreShard inputs of a group of the round's pool shards. */
function scoreWork(config: SearchConfig, state: SearchState, checkpoints: string[], group: ShardRange[]): ScoreShardsInput {
  return {
    common: { storageRoot: state.storageRoot, dataset: config.dataset, checkpoints, function: config.acquisition.function, seed: deriveSeed(config.seed, state.round, 2) },
    shards: group,
    outputKeys: group.map((shard) => artifactPaths.scoreShard(state.searchId, state.round, shard.index)),
    window: config.scoringWindow,
  };
}

/** The score shard URI that acquire found damaged or missing (its failure's details), if that is why it failed. */
function damagedScoreShardOf(err: unknown): string | undefined {
  if (failureTypeOf(err) !== FailureType.CorruptArtifact) return undefined;
  const detail = failureDetailsOf(err)[0] as { damagedScoreShard?: unknown } | undefined;
  return typeof detail?.damagedScoreShard === 'string' ? detail.damagedScoreShard : undefined;
}

/** Top-k of the round's scores into the next subset (build-up extends the current one; compress selects `target` afresh). */
export async function acquireNext(
  config: SearchConfig,
  state: SearchState,
  checkpoints: string[],
  scoreShards: string[],
  k: number,
  tracker: SearchTracker,
  compressTarget?: number,
): Promise<SubsetRef & { added: number; cutoffScore: number | null }> {
  const what = compressTarget ? `keeping the ${k} most uncertain samples` : `acquiring ${k} samples`;
  tracker.enter('acquiring', what);
  const round = compressTarget ? state.round : state.round + 1;
  const input = {
    storageRoot: state.storageRoot,
    key: compressTarget ? `${artifactPaths.round(state.searchId, state.round)}/subset-${compressTarget}.json` : artifactPaths.subset(state.searchId, round),
    ensembleKey: `${artifactPaths.round(state.searchId, state.round)}/ensemble.json`,
    checkpoints,
    scoreShards,
    parentSubsetUri: compressTarget ? null : (state.subset?.uri ?? null),
    k,
    poolSize: state.pool.poolSize,
    seed: deriveSeed(config.seed, state.round, 3),
    fingerprint: state.pool.fingerprint,
    function: config.acquisition.function,
    round,
  };
  // A score shard damaged in storage (or gone) is scored again from the round's checkpoints, then acquire reruns.
  for (let repairs = 0; ; repairs++) {
    try {
      const next = await light.acquire(input);
      tracker.progress.subsetSize = next.count;
      return next;
    } catch (err) {
      const damaged = damagedScoreShardOf(err);
      const index = damaged === undefined ? -1 : scoreShards.indexOf(damaged);
      if (index < 0 || repairs >= maxRepairs) throw err;
      const shard = poolShards(state.pool.poolSize, config.shardSize)[index];
      tracker.enter('scoring', `scoring shard ${index} again: its stored scores were damaged`);
      await scoreShardsWindowed(scoreWork(config, state, checkpoints, [shard]));
      tracker.enter('acquiring', what);
    }
  }
}

/** Fresh models on the subset, on a random subset of equal size and (once) on the full set; test accuracy of each. */
export async function evaluateAt(config: SearchConfig, state: SearchState, subset: SubsetPointer, tracker: SearchTracker): Promise<void> {
  tracker.enter('evaluating', `evaluating the subset of ${subset.count} samples`);
  const base = `${state.searchId}/eval/size-${subset.count}`;
  const repeats = Array.from({ length: config.evaluation.repeats }, (_, r) => r);
  const trainAndTest = async (subsetUri: string | null, key: string, seed: number): Promise<number> => {
    const budget = trainingBudget(config.training, [config.training.epochs], subsetUri === null ? state.pool.poolSize : subset.count);
    const trained = await training.trainMember({
      storageRoot: state.storageRoot,
      dataset: config.dataset,
      model: { name: config.model, width: config.modelWidth },
      training: budget.training,
      subsetUri,
      memberKey: key,
      checkpointEpochs: budget.checkpointEpochs,
      seed,
      context: `search ${state.searchId}, evaluation ${key}`,
    });
    const metrics = await training.evaluate({ storageRoot: state.storageRoot, dataset: config.dataset, split: 'test', checkpoints: [trained.checkpoints[0].uri] });
    return metrics.accuracy;
  };
  const activeLearning = Promise.all(repeats.map((r) => trainAndTest(subset.uri, `${base}/al-${r}`, deriveSeed(config.seed, subset.count, r, 5))));
  const random = config.evaluation.randomBaseline
    ? light
        .drawRandomSubset({
          storageRoot: state.storageRoot,
          key: `${base}/random-subset.json`,
          size: subset.count,
          poolSize: state.pool.poolSize,
          seed: deriveSeed(config.seed, subset.count, 6),
          fingerprint: state.pool.fingerprint,
          round: state.round,
        })
        .then((r) => Promise.all(repeats.map((rep) => trainAndTest(r.uri, `${base}/random-${rep}`, deriveSeed(config.seed, subset.count, rep, 5)))))
    : undefined;
  const full =
    config.evaluation.fullBaseline && !state.full
      ? Promise.all(repeats.map((r) => trainAndTest(null, `${state.searchId}/eval/full-${r}`, deriveSeed(config.seed, 0, r, 5))))
      : undefined;
  const [al, rnd, fullRuns] = await Promise.all([activeLearning, random, full]);
  if (fullRuns) state.full = summarise(fullRuns);
  const row = {
    size: subset.count,
    fraction: subset.count / state.pool.poolSize,
    subsetUri: subset.uri,
    activeLearning: summarise(al),
    random: rnd ? summarise(rnd) : undefined,
  };
  state.evaluations.push(row);
  tracker.progress.evaluations = state.evaluations;
  tracker.progress.full = state.full as AccuracySummary | undefined;
}
