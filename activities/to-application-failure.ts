/** Maps errors from activity internals onto Temporal failures with the right type and retryability. */
import { ApplicationFailure } from '@temporalio/common';
import { nonRetryableFailureTypes, type FailureTypeName } from '../contracts/failures';

export function toApplicationFailure(err: unknown): unknown {
  if (err instanceof ApplicationFailure) return err;
  const failureType = (err as { failureType?: unknown } | null)?.failureType;
  if (err instanceof Error && typeof failureType === 'string') {
    return ApplicationFailure.create({
      type: failureType,
      message: err.message,
      nonRetryable: nonRetryableFailureTypes.includes(failureType as FailureTypeName),
      cause: err,
    });
  }
  return err;
}

/** Runs an activity body, converting typed errors on the way out. */
export async function withTypedFailures<T>(body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (err) {
    throw toApplicationFailure(err);
  }
}
