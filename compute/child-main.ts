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
const requestStop = (): void => {
  stopRequested = true;
};
process.on('SIGTERM', requestStop);
process.on('SIGINT', requestStop);

// Inputs are typed by the activity that sends them (activities/*.ts); the child trusts its parent.
const tasks: Record<string, Task> = {
  probe: () => probeComputeBackend(),
  describeModel: (input) => describeModel(input as DescribeModelInput),
  trainMember: (input, report) =>
    trainMember(input as TrainMemberInput, report, { stopRequested: () => stopRequested }),
  scoreShard: (input, report) => scoreShard(input as ScoreShardInput, report),
  evaluate: (input) => evaluateCheckpoints(input as EvaluateInput),
};

function send(msg: ChildMessage): void {
  process.send?.(msg);
}

let started = false;
process.on('message', (raw) => {
  const request = raw as ChildRequest;
  if (request.type === 'stop') {
    requestStop();
    return;
  }
  if (started) return;
  started = true;
  const task = tasks[request.task];
  const run = task
    ? task(request.input, (progress) => send({ type: 'progress', progress }))
    : Promise.reject(new Error(`unknown compute task "${request.task}"; known: ${Object.keys(tasks).join(', ')}`));
  run.then(
    (result) => send({ type: 'result', result }),
    (err: unknown) => {
      const e = err instanceof Error ? err : new Error(String(err));
      const failureType = (e as { failureType?: unknown }).failureType;
      send({
        type: 'error',
        error: {
          name: e.name,
          message: e.message,
          stack: e.stack,
          failureType: typeof failureType === 'string' ? failureType : undefined,
        },
      });
    },
  );
});

// The parent disconnects after the result; leave then, releasing all native memory.
process.on('disconnect', () => process.exit(0));
