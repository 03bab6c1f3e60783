/**
 * Reading failures in workflow code. Kept apart from failures.ts, which the
 * compute child processes import and which must stay free of the SDK.
 */
import { ApplicationFailure } from '@temporalio/common';

/** The first ApplicationFailure down an error's cause chain (activity and child failures wrap it). */
function applicationFailureIn(err: unknown): ApplicationFailure | undefined {
  for (let e: unknown = err; e instanceof Error; e = (e as { cause?: unknown }).cause) {
    if (e instanceof ApplicationFailure) return e;
  }
  return undefined;
}

/** The `type` of the first ApplicationFailure down an error's cause chain. */
export function failureTypeOf(err: unknown): string | undefined {
  return applicationFailureIn(err)?.type ?? undefined;
}

/** The details of the first ApplicationFailure down an error's cause chain (empty when none). */
export function failureDetailsOf(err: unknown): unknown[] {
  return [...(applicationFailureIn(err)?.details ?? [])];
}
