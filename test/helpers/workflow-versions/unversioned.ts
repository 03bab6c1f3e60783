/**
 * @temporalio/workflow as if the patched changes had been made without
 * `patched()`: the new branch always, no marker. Replaying a search recorded
 * before the change on this must fail, which is why the change is versioned.
 */
export * from '@temporalio/workflow/lib/index';

export function patched(_patchId: string): boolean {
  return true;
}

export function deprecatePatch(_patchId: string): void {}
