/**
 * Which storage roots a worker may write to, and how a config's storageRoot is
 * checked against them. A config can come from the Temporal UI, so it may only
 * name a root inside one the worker was configured with.
 */
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { FailureType, TypedTaskError } from '../../contracts/failures';

/** The worker's default root: WINNOW_STORAGE_ROOT, else ./state/artifacts. */
export function defaultStorageRoot(env: NodeJS.ProcessEnv = process.env): string {
  const raw = env.WINNOW_STORAGE_ROOT;
  if (raw) return normaliseRoot(raw);
  return pathToFileURL(path.resolve('state', 'artifacts')).href;
}

/** A plain path becomes a file:// URI; URIs are kept. Trailing slashes dropped. */
export function normaliseRoot(raw: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(raw)) return raw.replace(/\/+$/, '');
  return pathToFileURL(path.resolve(raw)).href;
}

/**
 * Resolves the root a search writes under. `requested` (from the config) must
 * be the allowed root or lie inside it; anything else is refused.
 */
export function resolveStorageRoot(requested: string | undefined, allowedRoot: string): string {
  if (requested === undefined) return allowedRoot;
  const wanted = normaliseRoot(requested);
  const scheme = (uri: string) => uri.slice(0, uri.indexOf('://') + 3);
  if (scheme(wanted) !== scheme(allowedRoot) || !['file://', 'gs://'].includes(scheme(allowedRoot))) {
    throw new TypedTaskError(
      FailureType.InvalidConfig,
      `storageRoot ${requested}: this worker stores artifacts under ${allowedRoot}, so only ${scheme(allowedRoot)} roots inside it are supported`,
    );
  }
  if (!isInside(wanted, allowedRoot)) {
    throw new TypedTaskError(
      FailureType.ForbiddenPath,
      `storageRoot ${requested} lies outside the worker's storage root ${allowedRoot}; use a path inside it or change WINNOW_STORAGE_ROOT on the workers`,
    );
  }
  return wanted;
}

function isInside(wanted: string, allowedRoot: string): boolean {
  if (allowedRoot.startsWith('file://')) {
    const rel = path.relative(fileURLToPath(allowedRoot), fileURLToPath(wanted));
    return !(rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel));
  }
  // gs:// names are not paths: no "." or ".." segment may appear, and the prefix must match whole segments.
  if (
    wanted
      .split('/')
      .slice(3)
      .some((segment) => segment === '.' || segment === '..')
  )
    return false;
  return wanted === allowedRoot || wanted.startsWith(`${allowedRoot}/`);
}
