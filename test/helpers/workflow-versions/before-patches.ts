/**
 * @temporalio/workflow as the workflow code saw it before any patch in
 * workflows/patches.ts existed: every `patched()` takes the old branch and
 * records no marker. Bundled in place of the SDK module (workflow-versions.ts),
 * it turns today's code into the previous release's.
 */
export * from '@temporalio/workflow/lib/index';

export function patched(_patchId: string): boolean {
  return false;
}

export function deprecatePatch(_patchId: string): void {}
