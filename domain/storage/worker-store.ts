/**
 * The store an activity may use for a root named in workflow input: the root
 * must lie inside this worker's own root (WINNOW_STORAGE_ROOT), because a
 * config can come from anyone who can start a workflow.
 */
import { defaultStorageRoot, resolveStorageRoot } from './roots';
import { type ArtifactStore } from './store';
import { openStore } from './open-store';

export function openWorkerStore(
  requestedRoot: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): ArtifactStore {
  return openStore(resolveStorageRoot(requestedRoot, defaultStorageRoot(env)));
}
