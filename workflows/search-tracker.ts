/**
 * Progress of one search (what the progress query answers), its search
 * attributes and the current details shown in the Temporal UI, kept in step
 * as the round moves from phase to phase.
 */
import { condition, patched, setCurrentDetails, upsertMemo, upsertSearchAttributes } from '@temporalio/workflow';
import type { SearchConfig } from '../contracts/config';
import type { PhaseSeconds } from '../contracts/task-phases';
import { deriveSearchId } from '../contracts/search-id';
import type { SearchPhase, SearchProgress } from './definitions';
import {
  acquisitionSize,
  addTaskSeconds,
  type SearchControl,
  type SearchState,
  type SubsetPointer,
  type TaskSeconds,
  type TaskStep,
} from './search-plan';
import { Patches } from './patches';
import { WinnowRound, WinnowStatus, WinnowSubsetSize } from './search-attributes';

/** Progress, search attributes and current details of one search, kept in step. */
export class SearchTracker {
  readonly progress: SearchProgress;
  /** Set by the signals and the update; carried across continue-as-new in SearchState. */
  readonly control: SearchControl;
  private phaseStarted = Date.now();
  private roundSeconds = { train: 0, score: 0, acquire: 0, evaluate: 0 };
  private taskSeconds: TaskSeconds = {};

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
      ...(carried?.fullByModel ? { fullByModel: carried.fullByModel } : {}),
      ...(carried?.fullMap50 ? { fullMap50: carried.fullMap50 } : {}),
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
    setCurrentDetails(
      `**round ${this.progress.round} · ${phase}** · subset ${this.progress.subsetSize}${this.progress.poolSize ? ` of ${this.progress.poolSize}` : ''}\n\n${details}`,
    );
  }

  /** What the progress query answers: the tracked progress with the controls' current values. */
  snapshot(): SearchProgress {
    return {
      ...this.progress,
      targets: this.control.targets,
      paused: this.control.paused,
      stopping: this.control.stopAfterRound,
    };
  }

  /** Between steps: wait here while paused. */
  async gate(): Promise<void> {
    if (!this.control.paused) return;
    const before = this.progress.phase;
    this.enter('paused', `paused before the next step after ${before}; send the unpause signal to go on`);
    await condition(() => !this.control.paused);
  }

  /** Adds a compute task's reported phase seconds to the round's summary. */
  addTaskPhases(step: TaskStep, phases: PhaseSeconds | undefined): void {
    addTaskSeconds(this.taskSeconds, step, phases);
  }

  touch(): void {
    this.progress.updatedAt = new Date().toISOString();
  }

  finishRound(
    state: SearchState,
    next: SubsetPointer & { added: number; cutoffScore: number | null },
    meanTrainLoss: number,
  ): void {
    this.enter(this.progress.phase, 'round finished');
    state.rounds.push({
      round: state.round,
      subsetSize: next.count,
      added: next.added,
      cutoffScore: next.cutoffScore,
      meanTrainLoss,
      seconds: { ...this.roundSeconds },
      ...(Object.keys(this.taskSeconds).length > 0 ? { taskSeconds: this.taskSeconds } : {}),
    });
    this.roundSeconds = { train: 0, score: 0, acquire: 0, evaluate: 0 };
    this.taskSeconds = {};
    this.progress.subsetSize = next.count;
    upsertSearchAttributes([
      { key: WinnowRound, value: state.round + 1 },
      { key: WinnowSubsetSize, value: next.count },
    ]);
    // A new command in the round step: searches recorded before it replay without it.
    if (patched(Patches.roundMemo)) {
      upsertMemo({
        lastRound: { round: state.round, subsetSize: next.count, added: next.added, cutoffScore: next.cutoffScore },
      });
    }
  }

  private eta(config: SearchConfig, state: SearchState): void {
    const done = state.rounds;
    if (done.length === 0) return;
    const perRound =
      done.reduce((a, r) => a + r.seconds.train + r.seconds.score + r.seconds.acquire + r.seconds.evaluate, 0) /
      done.length;
    let size = state.subset?.count ?? 0;
    let left = 0;
    for (
      let k = acquisitionSize(config, size, state.control.targets);
      k > 0;
      k = acquisitionSize(config, size, state.control.targets)
    ) {
      size += k;
      left++;
    }
    this.progress.etaSeconds = Math.round(perRound * left);
  }

  /** The search is done: phase, ETA and the status attribute say so. */
  finish(state: SearchState): void {
    this.enter('done', `finished: ${state.evaluations.length} target size(s) evaluated`);
    this.progress.etaSeconds = 0;
    upsertSearchAttributes([{ key: WinnowStatus, value: 'completed' }]);
  }

  fail(err: unknown): void {
    upsertSearchAttributes([{ key: WinnowStatus, value: 'failed' }]);
    setCurrentDetails(`**failed** in round ${this.progress.round}, ${this.progress.phase}: ${(err as Error).message}`);
  }
}
