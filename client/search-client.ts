/**
 * The typed client API of winnow: start, watch and steer subset searches
 * from other TypeScript code. Every function takes a connected Temporal
 * `Client` (see connectClient) and a search's workflow id. The `winnow` CLI is
 * built on these.
 */
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type Client,
  type WorkflowExecutionInfo,
} from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { reacquireSubset, subsetSearch, type SearchResult } from '../workflows';
import type { ReacquireResult } from '../activities';
import { formatReacquireProblems, parseReacquireRequest, type ReacquireRequest } from '../contracts/reacquire-request';
import {
  formatConfigProblems,
  parseSearchConfig,
  type SearchConfig,
  type SearchConfigInput,
} from '../contracts/config';
import {
  pauseSignal,
  progressQuery,
  setTargetsUpdate,
  stopAfterRoundSignal,
  unpauseSignal,
  type SearchProgress,
} from '../workflows/definitions';
import { deriveSearchId } from '../contracts/search-id';
import { WinnowDataset, WinnowRound, WinnowStatus, WinnowSubsetSize } from '../workflows/search-attributes';
import { TaskQueue } from '../contracts/task-queues';
import { restartFailedSearch, type RestartedSearch } from './restart';

/** The name RestartedSearch had before `restart` got its own name. */
type ResumedSearch = RestartedSearch;
export type { SearchConfigInput, SearchProgress, SearchResult, RestartedSearch, ResumedSearch };
export type { ReacquireRequest, ReacquireResult };

/** The config was refused before anything was started; `problems` names each bad field. */
export class InvalidSearchConfig extends Error {
  constructor(readonly problems: string[]) {
    super(formatConfigProblems(problems));
    this.name = 'InvalidSearchConfig';
  }
}

/** No search with this workflow id on the server (namespace from the client). */
export class SearchNotFound extends Error {
  constructor(readonly workflowId: string) {
    super(`no search with workflow id "${workflowId}" (check the id with \`winnow status\`, and TEMPORAL_NAMESPACE)`);
    this.name = 'SearchNotFound';
  }
}

/** A query got no answer in time: usually no orchestrator worker is running. */
export class NoWorkerAnswered extends Error {
  constructor(workflowId: string, seconds: number) {
    super(
      `search ${workflowId}: no orchestrator worker answered within ${seconds} s; start one with \`npm run worker:orchestrator\``,
    );
    this.name = 'NoWorkerAnswered';
  }
}

export interface StartedSearch {
  workflowId: string;
  runId: string;
  searchId: string;
  config: SearchConfig;
}

/** Validates the config here (so mistakes surface before anything starts), then starts the search. */
export async function startSearch(
  client: Client,
  config: SearchConfigInput | unknown,
  options: { workflowId?: string } = {},
): Promise<StartedSearch> {
  const parsed = parseSearchConfig(config);
  if (!parsed.ok) throw new InvalidSearchConfig(parsed.problems);
  const workflowId =
    options.workflowId ??
    parsed.config.searchId ??
    `search-${new Date().toISOString().slice(0, 10)}-${randomUUID().slice(0, 8)}`;
  const handle = await client.workflow.start(subsetSearch, {
    taskQueue: TaskQueue.orchestrator,
    workflowId,
    args: [config],
  });
  return {
    workflowId,
    runId: handle.firstExecutionRunId,
    searchId: parsed.config.searchId ?? deriveSearchId(workflowId),
    config: parsed.config,
  };
}

async function withNotFound<T>(workflowId: string, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError || (err as { name?: string }).name === 'WorkflowNotFoundError')
      throw new SearchNotFound(workflowId);
    throw err;
  }
}

function withTimeout<T>(promise: Promise<T>, seconds: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), seconds * 1000);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The live progress of a running search (follows continue-as-new to the latest run). */
export function getProgress(client: Client, workflowId: string, timeoutSeconds = 10): Promise<SearchProgress> {
  return withNotFound(workflowId, () =>
    withTimeout(
      client.workflow.getHandle(workflowId).query(progressQuery),
      timeoutSeconds,
      () => new NoWorkerAnswered(workflowId, timeoutSeconds),
    ),
  );
}

/** Pause after the step in flight finishes. */
export function pauseSearch(client: Client, workflowId: string): Promise<void> {
  return withNotFound(workflowId, () => client.workflow.getHandle(workflowId).signal(pauseSignal));
}

/** Go on after a pause. */
export function unpauseSearch(client: Client, workflowId: string): Promise<void> {
  return withNotFound(workflowId, () => client.workflow.getHandle(workflowId).signal(unpauseSignal));
}

/** Finish after the round in flight; its subset is still evaluated. */
export function stopSearchAfterRound(client: Client, workflowId: string): Promise<void> {
  return withNotFound(workflowId, () => client.workflow.getHandle(workflowId).signal(stopAfterRoundSignal));
}

/** Replace the remaining target sizes; resolves to the targets in force, rejects with the reason when refused. */
export function setSearchTargets(client: Client, workflowId: string, targets: number[]): Promise<number[]> {
  return withNotFound(workflowId, async () => {
    try {
      return await client.workflow.getHandle(workflowId).executeUpdate(setTargetsUpdate, { args: [targets] });
    } catch (err) {
      // The validator's reason travels as the cause of a generic "Workflow Update failed".
      const cause = (err as { cause?: unknown }).cause;
      if (err instanceof WorkflowUpdateFailedError && cause instanceof Error) throw new TargetsRefused(cause.message);
      throw err;
    }
  });
}

/** The search refused new targets; the message says why. */
export class TargetsRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TargetsRefused';
  }
}

/** Waits for the search to finish; rejects with the search's failure when it fails. */
export function waitForSearch(client: Client, workflowId: string): Promise<SearchResult> {
  return withNotFound(workflowId, () => client.workflow.getHandle(workflowId).result());
}

/** Start a new search from a failed, terminated or cancelled one's last state, keeping every completed round. */
export function restartSearch(client: Client, workflowId: string, newWorkflowId?: string): Promise<RestartedSearch> {
  return withNotFound(workflowId, () => restartFailedSearch(client, workflowId, newWorkflowId));
}

export interface SearchSummary {
  workflowId: string;
  runId: string;
  /** Temporal's execution status name: RUNNING, COMPLETED, FAILED, TERMINATED, ... */
  status: string;
  startTime: Date;
  closeTime?: Date;
  /** From the search attributes (kept up to date by the workflow). */
  round?: number;
  subsetSize?: number;
  dataset?: string;
  winnowStatus?: string;
}

function summaryOf(
  info: Pick<
    WorkflowExecutionInfo,
    'workflowId' | 'runId' | 'status' | 'startTime' | 'closeTime' | 'typedSearchAttributes'
  >,
): SearchSummary {
  const attrs = info.typedSearchAttributes;
  return {
    workflowId: info.workflowId,
    runId: info.runId,
    status: info.status.name,
    startTime: info.startTime,
    closeTime: info.closeTime,
    round: attrs.get(WinnowRound),
    subsetSize: attrs.get(WinnowSubsetSize),
    dataset: attrs.get(WinnowDataset),
    winnowStatus: attrs.get(WinnowStatus),
  };
}

/** Status and search attributes of one search (its latest run). */
export function describeSearch(client: Client, workflowId: string): Promise<SearchSummary> {
  return withNotFound(workflowId, async () => summaryOf(await client.workflow.getHandle(workflowId).describe()));
}

/** Recent searches, newest first (latest run of each). `query` is extra Temporal visibility filter text. */
export async function listSearches(
  client: Client,
  options: { limit?: number; query?: string } = {},
): Promise<SearchSummary[]> {
  const filter = `WorkflowType = 'subsetSearch'${options.query ? ` AND (${options.query})` : ''}`;
  const found: SearchSummary[] = [];
  const seen = new Set<string>();
  for await (const info of client.workflow.list({ query: filter })) {
    // Continue-as-new leaves one closed run per round; keep the newest run of each search.
    if (seen.has(info.workflowId)) continue;
    seen.add(info.workflowId);
    found.push(summaryOf(info));
    if (found.length >= (options.limit ?? 20)) break;
  }
  return found;
}

/** Why a search failed: the message of the innermost cause (e.g. the activity's ApplicationFailure). */
export async function failureOf(client: Client, workflowId: string): Promise<string | undefined> {
  try {
    await client.workflow.getHandle(workflowId).result();
    return undefined;
  } catch (err) {
    if (!(err instanceof WorkflowFailedError)) return (err as Error).message;
    const messages: string[] = [];
    for (let cause: unknown = err.cause; cause instanceof Error; cause = (cause as { cause?: unknown }).cause)
      messages.push(cause.message);
    return messages.at(-1) ?? err.message;
  }
}

/** A reacquire request was refused before anything was started; `problems` names each bad field. */
export class InvalidReacquireRequest extends Error {
  constructor(readonly problems: string[]) {
    super(formatReacquireProblems(problems));
    this.name = 'InvalidReacquireRequest';
  }
}

/** The reacquire workflow failed: the message is its innermost cause (e.g. a round without accumulators). */
export class ReacquireFailed extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReacquireFailed';
  }
}

export interface ReacquireOptions extends Omit<ReacquireRequest, 'searchId'> {
  /** The reacquire workflow's id; default: one per (search, round, function, size), so repeats reuse its subset. */
  workflowId?: string;
}

/**
 * Selects a finished round's subset again with another acquisition function, from the accumulators its scoring
 * kept (no model runs), through the reacquireSubset workflow on winnow-orchestrator; resolves to the new subset.
 * `searchId` is the search's artifact folder (SearchResult.searchId); pass its storageRoot when it has its own.
 */
export async function reacquire(client: Client, searchId: string, options: ReacquireOptions): Promise<ReacquireResult> {
  const { workflowId: requestedId, ...fields } = options;
  const parsed = parseReacquireRequest({ searchId, ...fields });
  if (!parsed.ok) throw new InvalidReacquireRequest(parsed.problems);
  const request = parsed.request;
  const workflowId =
    requestedId ??
    `reacquire-${searchId}-round-${request.round ?? 'latest'}-${request.function}${request.size ? `-size-${request.size}` : ''}`;
  let handle;
  try {
    handle = await client.workflow.start(reacquireSubset, {
      taskQueue: TaskQueue.orchestrator,
      workflowId,
      args: [request],
    });
  } catch (err) {
    // The same request is running already: wait for that one (it writes the same subset).
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    handle = client.workflow.getHandle<typeof reacquireSubset>(workflowId);
  }
  try {
    return await handle.result();
  } catch (err) {
    if (!(err instanceof WorkflowFailedError)) throw err;
    let message = err.message;
    for (let cause: unknown = err.cause; cause instanceof Error; cause = (cause as { cause?: unknown }).cause)
      message = cause.message;
    throw new ReacquireFailed(message);
  }
}
