/**
 * The input of the reacquireSubset workflow: ONE JSON object, as the Temporal
 * UI's "Start Workflow" form sends it, e.g.
 *   {"searchId": "my-search", "function": "mutual-information"}
 * Validated here, by the workflow and by the client before it starts one.
 */
import { z } from 'zod';
import { acquisitionFunctions } from './config';

export const ensembleFunctions = acquisitionFunctions.filter((f) => f !== 'random');

export const reacquireRequestSchema = z.strictObject({
  /** The search's id (its artifact folder), as in search.json and every subset's URI. */
  searchId: z.string().min(1),
  /** The scored round to select from again; default: the latest with stored accumulators. */
  round: z.number().int().min(0).optional(),
  /** The new acquisition function (random needs no ensemble, so it has nothing to reacquire). */
  function: z.enum(acquisitionFunctions).refine((f) => f !== 'random', {
    message: `random uses no ensemble; use one of ${ensembleFunctions.join(', ')}`,
  }),
  /** Samples in the new subset; default: as many as the round's own subset. */
  size: z.number().int().min(1).optional(),
  /** The search's store root; default: the orchestrator worker's (WINNOW_STORAGE_ROOT). */
  storageRoot: z.string().min(1).optional(),
});

export type ReacquireRequest = z.infer<typeof reacquireRequestSchema>;

export type ReacquireRequestParse = { ok: true; request: ReacquireRequest } | { ok: false; problems: string[] };

export function parseReacquireRequest(input: unknown): ReacquireRequestParse {
  const result = reacquireRequestSchema.safeParse(input);
  if (result.success) return { ok: true, request: result.data };
  return {
    ok: false,
    problems: result.error.issues.map((issue) => {
      const where = issue.path.length === 0 ? '(request)' : issue.path.map(String).join('.');
      if (issue.code === 'unrecognized_keys') return `${issue.keys.join(', ')}: unknown field`;
      return `${where}: ${issue.message}`;
    }),
  };
}

export function formatReacquireProblems(problems: string[]): string {
  return `invalid reacquire request (${problems.length} problem${problems.length > 1 ? 's' : ''}): ${problems.join('; ')}`;
}
