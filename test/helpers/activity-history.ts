/**
 * What a workflow's recorded history says about its activities: for each
 * completed one, its type, input, result and the attempt that succeeded; and
 * what is pending right now (describe()). Fault tests read these to tell
 * which steps were retried and what the retries reused.
 */
import type { WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';

export interface CompletedActivity {
  type: string;
  input: unknown;
  result: unknown;
  /** 1 when the first attempt succeeded. */
  attempt: number;
  /** Why the attempt before the successful one failed (e.g. "activity Heartbeat timeout"). */
  lastFailure?: string;
  /** The worker that ran the successful attempt (pid@host unless set). */
  identity?: string;
}

type Payloads = temporal.api.common.v1.IPayloads | null | undefined;

function decodeFirst(payloads: Payloads): unknown {
  const first = payloads?.payloads?.[0];
  return first ? defaultPayloadConverter.fromPayload(first) : undefined;
}

export async function completedActivities(handle: WorkflowHandle): Promise<CompletedActivity[]> {
  const history = await handle.fetchHistory();
  const scheduled = new Map<string, temporal.api.history.v1.IActivityTaskScheduledEventAttributes>();
  const started = new Map<string, temporal.api.history.v1.IActivityTaskStartedEventAttributes>();
  const out: CompletedActivity[] = [];
  for (const event of history.events ?? []) {
    const id = String(event.eventId);
    if (event.activityTaskScheduledEventAttributes) scheduled.set(id, event.activityTaskScheduledEventAttributes);
    if (event.activityTaskStartedEventAttributes)
      started.set(
        String(event.activityTaskStartedEventAttributes.scheduledEventId),
        event.activityTaskStartedEventAttributes,
      );
    const done = event.activityTaskCompletedEventAttributes;
    if (done) {
      const key = String(done.scheduledEventId);
      const s = scheduled.get(key);
      const st = started.get(key);
      out.push({
        type: s?.activityType?.name ?? '?',
        input: decodeFirst(s?.input),
        result: decodeFirst(done.result),
        attempt: st?.attempt ?? 1,
        lastFailure: st?.lastFailure?.message ?? undefined,
        identity: st?.identity ?? undefined,
      });
    }
  }
  return out;
}

export interface PendingActivity {
  type: string;
  /** 'SCHEDULED', 'STARTED' or 'CANCEL_REQUESTED'. */
  state: string;
  attempt: number;
  heartbeat: unknown;
  lastFailure?: string;
  /** The worker that runs (or last ran) it. */
  worker?: string;
}

const pendingStates: Record<number, string> = { 1: 'SCHEDULED', 2: 'STARTED', 3: 'CANCEL_REQUESTED' };

export async function pendingActivities(handle: WorkflowHandle): Promise<PendingActivity[]> {
  const description = await handle.describe();
  return (description.raw.pendingActivities ?? []).map((p) => ({
    type: p.activityType?.name ?? '?',
    state: pendingStates[Number(p.state)] ?? String(p.state),
    attempt: p.attempt ?? 1,
    heartbeat: decodeFirst(p.heartbeatDetails),
    lastFailure: p.lastFailure?.message ?? undefined,
    worker: p.lastWorkerIdentity ?? undefined,
  }));
}

/** The failure of every failed activity attempt in a workflow's recorded history, in order. */
export async function failedAttempts(handle: WorkflowHandle): Promise<temporal.api.failure.v1.IFailure[]> {
  const history = await handle.fetchHistory();
  return (history.events ?? []).flatMap((e) => {
    const failure = e.activityTaskFailedEventAttributes?.failure;
    return failure ? [failure] : [];
  });
}
