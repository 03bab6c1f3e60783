/**
 * Activities (winnow-orchestrator): the light, CPU-only steps of a search
 * (domain/acquisition/subset-steps.ts), with typed errors mapped to
 * ApplicationFailure, acquire heart-beating per score shard read and
 * reacquire per accumulator shard read.
 */
import { Context } from '@temporalio/activity';
import * as steps from '../domain/acquisition/subset-steps';
import { reacquireSubset, type ReacquireInput, type ReacquireResult } from '../domain/acquisition/reacquire';
import type {
  AcquireInput,
  AcquireResult,
  PoolInfo,
  RandomSubsetInput,
  SubsetRef,
} from '../domain/acquisition/subset-steps';
import type { DatasetSpec } from '../domain/data';
import type { DetectionDatasetSpec } from '../contracts/detection-data-spec';
import { withTypedFailures } from './to-application-failure';

export type { AcquireInput, AcquireResult, PoolInfo, RandomSubsetInput, ReacquireInput, ReacquireResult, SubsetRef };

export function describePool(input: { dataset: DatasetSpec | DetectionDatasetSpec }): Promise<PoolInfo> {
  return withTypedFailures(() => steps.describePool(input));
}

/** A seeded uniform random subset of `size` samples (the build-up start and the random baseline). */
export function drawRandomSubset(input: RandomSubsetInput): Promise<SubsetRef> {
  return withTypedFailures(() => steps.drawRandomSubset(input));
}

/** The round's score shards merged through an exact top-k into the next subset. */
export function acquire(input: AcquireInput): Promise<AcquireResult> {
  const ctx = Context.current();
  return withTypedFailures(() => steps.acquireSubset(input, (progress) => ctx.heartbeat(progress)));
}

/** A finished round's subset selected again with another function from its stored accumulators (no model runs). */
export function reacquire(input: ReacquireInput): Promise<ReacquireResult> {
  const ctx = Context.current();
  return withTypedFailures(() => reacquireSubset(input, (progress) => ctx.heartbeat(progress)));
}
