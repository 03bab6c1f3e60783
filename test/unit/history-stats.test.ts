import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { temporal } from '@temporalio/proto';
import { activityIntervals, coveredMillis, largestPayload, runStats } from '../../client/history-stats';

type Event = temporal.api.history.v1.IHistoryEvent;
// Plain numbers stand in for protobuf Longs: the code under test reads them through Number().
type EventId = Event['eventId'];
const long = (n: number) => n as unknown as EventId & object;
const at = (ms: number) => ({ seconds: long(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1e6 });
let id = 0;
function event(ms: number, attrs: Partial<Event>): Event {
  return { eventId: long(++id), eventTime: at(ms), ...attrs };
}

describe('history stats', () => {
  it('splits a run into activities running, queued, children and orchestration', () => {
    id = 0;
    // 0 s start; activity A scheduled at 1 s, started 2 s, done 5 s; B scheduled 1 s, started 4 s, done 6 s
    // (overlaps A); child from 7 s to 9 s; end at 10 s.
    const events: Event[] = [event(0, { workflowExecutionStartedEventAttributes: {} })];
    const a = event(1000, { activityTaskScheduledEventAttributes: {} });
    const b = event(1000, { activityTaskScheduledEventAttributes: {} });
    events.push(a, b);
    events.push(event(2000, { activityTaskStartedEventAttributes: { scheduledEventId: a.eventId } }));
    events.push(event(4000, { activityTaskStartedEventAttributes: { scheduledEventId: b.eventId } }));
    events.push(event(5000, { activityTaskCompletedEventAttributes: { scheduledEventId: a.eventId } }));
    events.push(event(6000, { activityTaskCompletedEventAttributes: { scheduledEventId: b.eventId } }));
    const child = event(7000, { startChildWorkflowExecutionInitiatedEventAttributes: {} });
    events.push(
      child,
      event(9000, { childWorkflowExecutionCompletedEventAttributes: { initiatedEventId: child.eventId } }),
    );
    events.push(event(10000, { workflowExecutionCompletedEventAttributes: {} }));
    const stats = runStats(events);
    assert.equal(stats.events, 10);
    assert.equal(stats.seconds, 10);
    assert.equal(stats.activitySeconds, 4, 'running: 2..6 s');
    assert.equal(stats.queuedSeconds, 1, 'queued: 1..2 s (B waited 1..4 s, but 2..4 s something ran)');
    assert.equal(stats.childSeconds, 2);
    assert.equal(stats.orchestrationSeconds, 3, '0..1, 6..7 and 9..10 s');
    assert.equal(stats.activities, 2);
  });

  it('merges activity intervals across runs (a search and its scoring children)', () => {
    id = 0;
    const a = event(1000, { activityTaskScheduledEventAttributes: {} });
    const parent = [
      a,
      event(2000, { activityTaskStartedEventAttributes: { scheduledEventId: a.eventId } }),
      event(5000, { activityTaskCompletedEventAttributes: { scheduledEventId: a.eventId } }),
    ];
    const b = event(4000, { activityTaskScheduledEventAttributes: {} });
    const child = [
      b,
      event(4000, { activityTaskStartedEventAttributes: { scheduledEventId: b.eventId } }),
      event(8000, { activityTaskFailedEventAttributes: { scheduledEventId: b.eventId } }),
    ];
    assert.deepEqual(activityIntervals(parent), [[2000, 5000]]);
    assert.equal(coveredMillis([...activityIntervals(parent), ...activityIntervals(child)]), 6000, '2..8 s');
  });

  it('finds the largest payload of any event, metadata included', () => {
    id = 0;
    const payload = (bytes: number) => ({ metadata: { encoding: new Uint8Array(16) }, data: new Uint8Array(bytes) });
    const events: Event[] = [
      event(0, { workflowExecutionStartedEventAttributes: { input: { payloads: [payload(100)] } } }),
      event(1, { activityTaskScheduledEventAttributes: { input: { payloads: [payload(10), payload(5000)] } } }),
      event(2, { activityTaskCompletedEventAttributes: { result: { payloads: [payload(300)] } } }),
    ];
    assert.deepEqual(largestPayload(events), {
      bytes: 5000 + 'encoding'.length + 16,
      event: 'activityTaskScheduled #2',
    });
    assert.deepEqual(largestPayload([]), { bytes: 0, event: 'none' });
  });

  it('is all zeros for an empty history', () => {
    assert.equal(runStats([]).seconds, 0);
  });
});
