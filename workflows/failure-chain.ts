/**
 * Reading failures in workflow code. Kept apart from failures.ts, which the
 * compute child processes import and which must stay free of the SDK.
 */
import { ApplicationFailure } from '@temporalio/common';

/** The `type` of the first ApplicationFailure down an error's cause chain (activity and child failures wrap it). */
export function failureTypeOf(err: unknown): string | undefined {
  for (let e: unknown = err; e instanceof Error; e = (e as { cause?: unknown }).cause) {
    if (e instanceof ApplicationFailure) return e.type ?? undefined;
  }
  return undefined;
}

/** The details of the first ApplicationFailure down an error's cause chain (empty when none). */
export function failureDetailsOf(err: unknown): unknown[] {
  for (let e: unknown = err; e instanceof Error; e = (e as { cause?: unknown }).cause) {
    if (e instanceof ApplicationFailure) return [...(e.details ?? [])];
  }
  return [];
}
