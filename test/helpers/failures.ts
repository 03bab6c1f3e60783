/** What a failed search's error says: the ApplicationFailure at the bottom of a WorkflowFailedError. */
import assert from 'node:assert/strict';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';

/** Asserts `error` is a failed workflow and returns the ApplicationFailure in its cause chain. */
export function applicationFailureOf(error: unknown): ApplicationFailure {
  assert.ok(error instanceof WorkflowFailedError, `expected WorkflowFailedError, got ${String(error)}`);
  let cause: unknown = error.cause;
  while (cause instanceof Error && !(cause instanceof ApplicationFailure)) cause = cause.cause;
  assert.ok(cause instanceof ApplicationFailure, `an ApplicationFailure in ${String(error.cause)}`);
  return cause;
}
