/**
 * Figures from one workflow run's history: how many events it holds, and
 * how its wall time splits between activities running, activities waiting
 * for a worker, child workflows, and orchestration (everything else: workflow
 * tasks, timers, gaps). Pure: takes the history events.
 */
import type { temporal } from '@temporalio/proto';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

export interface RunStats {
  events: number;
  seconds: number;
  /** Union of intervals in which at least one activity was running (started -> closed). */
  activitySeconds: number;
  /** Union of intervals in which an activity waited to be picked up (scheduled -> started), not overlapping running ones. */
  queuedSeconds: number;
  /** Union of intervals in which a child workflow ran, not overlapping the above. */
  childSeconds: number;
  /** The rest of the run's wall time: workflow tasks, signals, timers and gaps between steps. */
  orchestrationSeconds: number;
  activities: number;
}

function millis(event: HistoryEvent): number {
  const t = event.eventTime;
  if (!t) return 0;
  return Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6);
}

/** [start, end) in epoch milliseconds. */
export type Interval = [number, number];

/** Total length of the union of intervals, minus whatever `covered` already counts. */
function unionLength(intervals: Interval[], covered: Interval[] = []): { length: number; union: Interval[] } {
  const all = [...intervals].filter(([a, b]) => b > a).sort((x, y) => x[0] - y[0]);
  const union: Interval[] = [];
  for (const [a, b] of all) {
    const last = union.at(-1);
    if (last && a <= last[1]) last[1] = Math.max(last[1], b);
    else union.push([a, b]);
  }
  let length = 0;
  for (const [a, b] of union) {
    let free = b - a;
    for (const [c, d] of covered) free -= Math.max(0, Math.min(b, d) - Math.max(a, c));
    length += Math.max(0, free);
  }
  return { length, union };
}

function mergeIntervals(a: Interval[], b: Interval[]): Interval[] {
  return unionLength([...a, ...b]).union;
}

interface ActivityTimes {
  scheduled: number;
  started: number;
  closed: number;
}

/** Each closed activity's scheduled, started and closed times (epoch ms); missing events fall back to the next one. */
function activityTimes(events: readonly HistoryEvent[]): ActivityTimes[] {
  const scheduled = new Map<string, number>();
  const started = new Map<string, number>();
  const out: ActivityTimes[] = [];
  for (const e of events) {
    if (e.activityTaskScheduledEventAttributes) scheduled.set(String(e.eventId), millis(e));
    const startedAttrs = e.activityTaskStartedEventAttributes;
    if (startedAttrs) started.set(String(startedAttrs.scheduledEventId), millis(e));
    const closed =
      e.activityTaskCompletedEventAttributes ??
      e.activityTaskFailedEventAttributes ??
      e.activityTaskTimedOutEventAttributes ??
      e.activityTaskCanceledEventAttributes;
    if (closed) {
      const key = String(closed.scheduledEventId);
      const s = scheduled.get(key) ?? millis(e);
      out.push({ scheduled: s, started: started.get(key) ?? s, closed: millis(e) });
    }
  }
  return out;
}

/** When each activity of a run was running (started -> closed), in epoch milliseconds: to merge across runs. */
export function activityIntervals(events: readonly HistoryEvent[]): Interval[] {
  return activityTimes(events).map((a): Interval => [a.started, a.closed]);
}

/** Milliseconds covered by at least one of the intervals. */
export function coveredMillis(intervals: Interval[]): number {
  return unionLength(intervals).length;
}

export interface LargestPayload {
  /** Bytes of the payload's data and metadata. */
  bytes: number;
  /** Which event held it, e.g. `activityTaskCompleted #123`. */
  event: string;
}

/** The largest single payload (input, result, memo, heartbeat details...) of any event of a run. */
export function largestPayload(events: readonly HistoryEvent[]): LargestPayload {
  let best: LargestPayload = { bytes: 0, event: 'none' };
  const visit = (value: unknown, event: HistoryEvent): void => {
    if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return;
    const data = (value as { data?: unknown }).data;
    if (data instanceof Uint8Array) {
      let bytes = data.byteLength;
      const metadata = (value as { metadata?: Record<string, Uint8Array> | null }).metadata ?? {};
      for (const [k, v] of Object.entries(metadata)) bytes += k.length + (v?.byteLength ?? 0);
      if (bytes > best.bytes) best = { bytes, event: `${eventName(event)} #${String(event.eventId)}` };
      return;
    }
    for (const child of Array.isArray(value) ? value : Object.values(value)) visit(child, event);
  };
  for (const e of events) visit(e, e);
  return best;
}

function eventName(event: HistoryEvent): string {
  const attrs = Object.keys(event).find((k) => k.endsWith('EventAttributes') && event[k as keyof HistoryEvent]);
  return attrs ? attrs.replace(/EventAttributes$/, '') : 'event';
}

export function runStats(events: readonly HistoryEvent[]): RunStats {
  if (events.length === 0)
    return {
      events: 0,
      seconds: 0,
      activitySeconds: 0,
      queuedSeconds: 0,
      childSeconds: 0,
      orchestrationSeconds: 0,
      activities: 0,
    };
  const start = millis(events[0]);
  const end = millis(events[events.length - 1]);
  const activities = activityTimes(events);
  const running = activities.map((a): Interval => [a.started, a.closed]);
  const queued = activities.map((a): Interval => [a.scheduled, a.started]);
  const children: Interval[] = [];
  const childStarted = new Map<string, number>();
  for (const e of events) {
    const id = String(e.eventId);
    const childInitiated = e.startChildWorkflowExecutionInitiatedEventAttributes;
    if (childInitiated) childStarted.set(id, millis(e));
    const childClosed =
      e.childWorkflowExecutionCompletedEventAttributes ??
      e.childWorkflowExecutionFailedEventAttributes ??
      e.childWorkflowExecutionTerminatedEventAttributes;
    if (childClosed) children.push([childStarted.get(String(childClosed.initiatedEventId)) ?? millis(e), millis(e)]);
  }
  const run = unionLength(running);
  const wait = unionLength(queued, run.union);
  const child = unionLength(children, mergeIntervals(run.union, wait.union));
  const seconds = (end - start) / 1000;
  const activitySeconds = run.length / 1000;
  const queuedSeconds = wait.length / 1000;
  const childSeconds = child.length / 1000;
  return {
    events: events.length,
    seconds,
    activitySeconds,
    queuedSeconds,
    childSeconds,
    orchestrationSeconds: Math.max(0, seconds - activitySeconds - queuedSeconds - childSeconds),
    activities: running.length,
  };
}
