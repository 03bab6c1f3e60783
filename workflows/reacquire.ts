/**
 * reacquireSubset: a finished round's subset selected again with another
 * acquisition function, from the accumulators its scoring kept, in one light
 * activity (no model runs). Startable from the Temporal UI with ONE JSON
 * object, e.g. {"searchId": "my-search", "function": "mutual-information"}
 * (contracts/reacquire-request.ts); `winnow reacquire` and reacquire() start it.
 */
import { ApplicationFailure } from '@temporalio/workflow';
import type { ReacquireResult } from '../activities';
import { FailureType } from '../contracts/failures';
import { formatReacquireProblems, parseReacquireRequest } from '../contracts/reacquire-request';
import { light } from './proxies';

export async function reacquireSubset(input: unknown): Promise<ReacquireResult> {
  const parsed = parseReacquireRequest(input);
  if (!parsed.ok) {
    throw ApplicationFailure.create({
      type: FailureType.InvalidConfig,
      message: formatReacquireProblems(parsed.problems),
      details: [parsed.problems],
      nonRetryable: true,
    });
  }
  return light.reacquire(parsed.request);
}
