/**
 * The phases a compute task's time is split into (compute/phase-clock.ts
 * measures them; round summaries and the report sum them). Process start is
 * measured by the parent: forking the child and loading its modules.
 */
export const taskPhases = [
  'processStart',
  'backendInit',
  'modelBuild',
  'dataRead',
  'checkpointRead',
  'compute',
  'write',
] as const;
export type TaskPhase = (typeof taskPhases)[number];
