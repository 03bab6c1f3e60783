/**
 * Restart a search that failed, was terminated or timed out: start a new
 * workflow with the exact input of the failed search's last run, i.e. its
 * config and the state carried into the round that did not finish. Every
 * completed round (subsets, evaluations, summaries) is kept, and since
 * artifact paths are deterministic, finished checkpoints and score shards of
 * the interrupted round are reused rather than recomputed.
 */
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { subsetSearch } from '../workflows';
import { deriveSearchId } from '../contracts/search-id';
import type { SearchState } from '../workflows/search-plan';
import { TaskQueue } from '../contracts/task-queues';

const restartable = new Set(['FAILED', 'TERMINATED', 'TIMED_OUT', 'CANCELLED']);

export interface RestartedSearch {
  workflowId: string;
  /** Round the new search starts with (0 when the failed one never finished a round). */
  round: number;
}

export async function restartFailedSearch(
  client: Client,
  failedWorkflowId: string,
  newWorkflowId?: string,
): Promise<RestartedSearch> {
  const handle = client.workflow.getHandle(failedWorkflowId);
  const description = await handle.describe();
  if (!restartable.has(description.status.name)) {
    throw new Error(
      `search ${failedWorkflowId} is ${description.status.name}; only a failed, terminated, timed-out or cancelled search can be restarted`,
    );
  }
  const history = await handle.fetchHistory();
  const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
  const payloads = started?.input?.payloads ?? [];
  if (payloads.length === 0)
    throw new Error(`search ${failedWorkflowId}: its last run has no recorded input to restart from`);
  const [config, state] = payloads.map((p) => defaultPayloadConverter.fromPayload<unknown>(p)) as [
    Record<string, unknown>,
    SearchState | undefined,
  ];
  // Keep the artifact folder: without a carried state the search id would otherwise follow the new workflow id.
  const searchId =
    state?.searchId ?? (typeof config.searchId === 'string' ? config.searchId : deriveSearchId(failedWorkflowId));
  const args: Parameters<typeof subsetSearch> = state ? [{ ...config, searchId }, state] : [{ ...config, searchId }];
  const workflowId = newWorkflowId ?? `${failedWorkflowId}-restarted-${Date.now().toString(36)}`;
  await client.workflow.start(subsetSearch, { taskQueue: TaskQueue.orchestrator, workflowId, args });
  return { workflowId, round: state?.round ?? 0 };
}
