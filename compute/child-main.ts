/**
 * Entry point of the compute child process: receives one task request over
 * IPC, runs it, reports progress and the result, and exits.
 */
import type { ChildMessage, ChildRequest } from './child-protocol';
import { probeComputeBackend } from './probe';
import { describeModel, type DescribeModelInput } from './tasks/describe-model';
import { evaluateCheckpoints, type EvaluateInput } from './tasks/evaluate';
import { scoreShard, type ScoreShardInput } from './tasks/score-shard';
import { trainMember, type TrainMemberInput } from './tasks/train-member';

type Report = (progress: unknown) => void;
type Task = (input: unknown, report: Report) => Promise<unknown>;

// Set by the parent's stop request, or by SIGTERM/SIGINT reaching this process directly (e.g. Ctrl-C to the
// whole process group): the task in flight finishes early instead of the child dying mid-write.
let stopRequested = false;
let running = false;
let terminating = false;
const requestStop = (): void => {
  stopRequested = true;
};
const onTerminate = (): void => {
  terminating = true;
  requestStop();
  if (!running) process.exit(0);
};
process.on('SIGTERM', onTerminate);
process.on('SIGINT', onTerminate);

// Inputs are typed by the activity that sends them (activities/*.ts); the child trusts its parent.
const tasks: Record<string, Task> = {
  probe: () => probeComputeBackend(),
  describeModel: (input) => describeModel(input as DescribeModelInput),
  trainMember: (input, report) =>
    trainMember(input as TrainMemberInput, report, { stopRequested: () => stopRequested }),
  scoreShard: (input, report) => scoreShard(input as ScoreShardInput, report),
  evaluate: (input) => evaluateCheckpoints(input as EvaluateInput),
};

/** The last message of a task; a child told to terminate leaves once it is sent. */
function send(msg: ChildMessage, last = false): void {
  process.send?.(msg, undefined, undefined, () => {
    if (last && terminating) process.exit(0);
  });
}

// One task at a time: the parent sends the next request only after this one's result (a warm child serves many).
process.on('message', (raw) => {
  const request = raw as ChildRequest;
  if (request.type === 'stop') {
    requestStop();
    return;
  }
  if (running) return;
  running = true;
  stopRequested = terminating;
  const task = tasks[request.task];
  const run = task
    ? task(request.input, (progress) => send({ type: 'progress', progress }))
    : Promise.reject(new Error(`unknown compute task "${request.task}"; known: ${Object.keys(tasks).join(', ')}`));
  run
    .then(
      (result) => ({ type: 'result', result }) satisfies ChildMessage,
      (err: unknown): ChildMessage => {
        const e = err instanceof Error ? err : new Error(String(err));
        const failureType = (e as { failureType?: unknown }).failureType;
        return {
          type: 'error',
          error: {
            name: e.name,
            message: e.message,
            stack: e.stack,
            failureType: typeof failureType === 'string' ? failureType : undefined,
          },
        };
      },
    )
    .then((msg) => {
      running = false;
      send(msg, true);
    });
});

// The parent disconnects when it lets this child go (idle too long, stopped, or the parent itself exited):
// leave then, releasing all native memory.
process.on('disconnect', () => process.exit(0));
send({ type: 'ready' });
