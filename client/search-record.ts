/**
 * Everything known about one search, whatever its state: the result of a
 * finished one; for a running one its live progress; for a failed one the
 * state carried into its last run. Export and report read subsets and
 * evaluations from here.
 */
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { SearchResult } from '../workflows';
import { parseSearchConfig, type SearchConfig } from '../contracts/config';
import type { SearchProgress } from '../workflows/definitions';
import { deriveSearchId } from '../contracts/search-id';
import type { AccuracySummary, EvaluationRow, RoundSummary, SearchState } from '../workflows/search-plan';
import { describeSearch, failureOf, getProgress } from './search-client';

export interface SearchRecord {
  workflowId: string;
  status: string;
  searchId: string;
  config: SearchConfig;
  /** Known once the search has prepared (absent for a search that failed before its first round finished). */
  storageRoot?: string;
  poolSize?: number;
  numClasses?: number;
  evaluations: EvaluationRow[];
  full?: AccuracySummary;
  fullByModel?: Array<AccuracySummary | undefined>;
  /** Detection: the full set's mAP@.5. */
  fullMap50?: AccuracySummary;
  rounds: RoundSummary[];
  result?: SearchResult;
  progress?: SearchProgress;
  failure?: string;
}

async function lastRunInput(client: Client, workflowId: string): Promise<{ config: unknown; state?: SearchState }> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const payloads = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads ?? [];
  const [config, state] = payloads.map((p) => defaultPayloadConverter.fromPayload<unknown>(p));
  return { config, state: state as SearchState | undefined };
}

export async function loadSearchRecord(client: Client, workflowId: string): Promise<SearchRecord> {
  const summary = await describeSearch(client, workflowId);
  if (summary.status === 'COMPLETED') {
    const result = (await client.workflow.getHandle(workflowId).result()) as SearchResult;
    return { workflowId, status: summary.status, ...result, result };
  }
  const input = await lastRunInput(client, workflowId);
  const parsed = parseSearchConfig(input.config);
  if (!parsed.ok) {
    // A search refused at validation: nothing ran, so there is nothing to export or report.
    throw new SearchNotUsable(workflowId, `its config was invalid: ${parsed.problems.join('; ')}`);
  }
  const state = input.state;
  const record: SearchRecord = {
    workflowId,
    status: summary.status,
    searchId: state?.searchId ?? parsed.config.searchId ?? deriveSearchId(workflowId),
    config: parsed.config,
    storageRoot: state?.storageRoot,
    poolSize: state?.pool.poolSize,
    numClasses: state?.pool.numClasses,
    evaluations: state?.evaluations ?? [],
    full: state?.full,
    ...(state?.fullByModel ? { fullByModel: state.fullByModel } : {}),
    ...(state?.fullMap50 ? { fullMap50: state.fullMap50 } : {}),
    rounds: state?.rounds ?? [],
  };
  if (summary.status === 'RUNNING') {
    const progress = await getProgress(client, workflowId, 5).catch(() => undefined);
    if (progress) {
      record.progress = progress;
      record.evaluations = progress.evaluations;
      record.rounds = progress.rounds;
      record.full = progress.full;
      if (progress.fullByModel) record.fullByModel = progress.fullByModel;
      if (progress.fullMap50) record.fullMap50 = progress.fullMap50;
      record.poolSize = progress.poolSize ?? record.poolSize;
    }
  } else {
    record.failure = await failureOf(client, workflowId);
  }
  return record;
}

/** The search exists but holds nothing to export or report. */
export class SearchNotUsable extends Error {
  constructor(workflowId: string, why: string) {
    super(`search ${workflowId}: ${why}`);
    this.name = 'SearchNotUsable';
  }
}
