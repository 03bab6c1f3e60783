/** Maps errors from activity internals onto Temporal failures with the right type and retryability. */
import { ApplicationFailure } from '@temporalio/common';
import { nonRetryableFailureTypes, TypedTaskError, type FailureTypeName } from '../contracts/failures';

export function toApplicationFailure(err: unknown): unknown {
  if (err instanceof ApplicationFailure) return err;
  const failureType = (err as { failureType?: unknown } | null)?.failureType;
  if (err instanceof Error && typeof failureType === 'string') {
    const options = err instanceof TypedTaskError ? err.options : {};
    return ApplicationFailure.create({
      type: failureType,
      message: err.message,
      nonRetryable: options.nonRetryable ?? nonRetryableFailureTypes.includes(failureType as FailureTypeName),
      details: options.details,
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
