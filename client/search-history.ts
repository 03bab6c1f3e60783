/** History figures of every run of one search (continue-as-new makes one run per round), from the server. */
import type { Client } from '@temporalio/client';
import { runStats, type RunStats } from './history-stats';

export interface SearchHistoryStats {
  runs: (RunStats & { runId: string })[];
  total: RunStats;
}

export async function searchHistoryStats(client: Client, workflowId: string): Promise<SearchHistoryStats> {
  const runIds: string[] = [];
  for await (const info of client.workflow.list({ query: `WorkflowId = '${workflowId.replace(/'/g, "\\'")}'` }))
    runIds.push(info.runId);
  const runs: SearchHistoryStats['runs'] = [];
  for (const runId of runIds) {
    const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    runs.push({ runId, ...runStats(history.events ?? []) });
  }
  // Oldest run first.
  runs.reverse();
  const sum = (k: keyof RunStats) => runs.reduce((a, r) => a + r[k], 0);
  return {
    runs,
    total: {
      events: sum('events'),
      seconds: sum('seconds'),
      activitySeconds: sum('activitySeconds'),
      queuedSeconds: sum('queuedSeconds'),
      childSeconds: sum('childSeconds'),
      orchestrationSeconds: sum('orchestrationSeconds'),
      activities: sum('activities'),
    },
  };
}

export function formatHistoryStats(stats: SearchHistoryStats): string {
  const row = (name: string, r: RunStats) =>
    `${name.padEnd(6)} ${String(r.events).padStart(6)} ${String(r.activities).padStart(10)} ${r.seconds.toFixed(1).padStart(8)} ${r.activitySeconds.toFixed(1).padStart(8)} ${r.queuedSeconds.toFixed(1).padStart(7)} ${r.childSeconds.toFixed(1).padStart(6)} ${r.orchestrationSeconds.toFixed(1).padStart(8)} ${((100 * r.orchestrationSeconds) / Math.max(r.seconds, 1e-9)).toFixed(1).padStart(6)}%`;
  return [
    'run    events activities   wall s  in act.  queued  child   orch. s  orch.',
    ...stats.runs.map((r, i) => row(String(i), r)),
    row('all', stats.total),
  ].join('\n');
}
