/** Activity (winnow-gpu): run the compute probe in a child process. */
import { Context } from '@temporalio/activity';
import { runInChild } from '../compute/run-child';
import type { ComputeProbe } from '../compute/probe';
import { withTypedFailures } from './to-application-failure';

export type { ComputeProbe };

export async function probeCompute(): Promise<ComputeProbe> {
  const ctx = Context.current();
  return withTypedFailures(() =>
    runInChild<ComputeProbe>('probe', {}, { signal: ctx.cancellationSignal, onProgress: (p) => ctx.heartbeat(p) }),
  );
}
