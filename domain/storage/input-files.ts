/**
 * Reads files that a user brings (a model.json and its weights), as opposed to
 * artifacts winnow wrote: they carry no recorded digest. file:// paths (or plain
 * paths) must lie inside the workers' data roots, gs:// objects inside the
 * worker's storage root, because a config can come from anyone who can start
 * a workflow. Every failure names the file.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FailureType, TypedTaskError } from '../../contracts/failures';
import { allowedDataRoots, confineTo } from '../data/data-roots';
import { createStorageClient } from './gcs-store';
import { defaultStorageRoot } from './roots';

export type InputFileReader = (uri: string) => Promise<Buffer>;

/** `relative` resolved against the folder of `uri` (file path, file:// or gs:// URI); refuses to climb out with "..". */
export function siblingUri(uri: string, relative: string): string {
  if (relative.split('/').some((segment) => segment === '..') || relative.startsWith('/')) {
    throw new TypedTaskError(
      FailureType.InvalidConfig,
      `${uri}: names the file "${relative}", which must lie in or below the model's folder`,
    );
  }
  const cut = uri.lastIndexOf('/');
  return cut < 0 ? relative : `${uri.slice(0, cut)}/${relative}`;
}

/** What the user must fix, as InvalidConfig (the config names a file that cannot be used). */
function unusable(uri: string, why: string): TypedTaskError {
  return new TypedTaskError(FailureType.InvalidConfig, `${uri}: ${why}`, { nonRetryable: true });
}

async function readLocal(uri: string, env: NodeJS.ProcessEnv): Promise<Buffer> {
  const file = uri.startsWith('file://') ? fileURLToPath(uri) : path.resolve(uri);
  await confineTo(allowedDataRoots(env)).check(file, 'input file');
  try {
    return await fs.readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw unusable(uri, 'file not found');
    if (code === 'EISDIR') throw unusable(uri, 'is a folder, expected a file');
    if (code === 'EACCES' || code === 'EPERM') throw unusable(uri, 'permission denied');
    throw err;
  }
}

/** Throws ForbiddenPath unless the gs:// `uri` lies inside the workers' gs:// storage root. */
export function checkGcsInputUri(uri: string, env: NodeJS.ProcessEnv = process.env): void {
  const root = defaultStorageRoot(env).replace(/\/+$/, '');
  const inside = root.startsWith('gs://') && (uri === root || uri.startsWith(`${root}/`));
  if (
    !inside ||
    uri
      .split('/')
      .slice(3)
      .some((segment) => segment === '..' || segment === '.')
  ) {
    throw new TypedTaskError(
      FailureType.ForbiddenPath,
      `${uri}: gs:// input files must lie inside the workers' storage root (${root}); set WINNOW_STORAGE_ROOT on the workers`,
    );
  }
}

async function readGcs(uri: string, env: NodeJS.ProcessEnv): Promise<Buffer> {
  checkGcsInputUri(uri, env);
  const [, , bucket, ...rest] = uri.split('/');
  try {
    const [bytes] = await createStorageClient().bucket(bucket).file(rest.join('/')).download();
    return bytes;
  } catch (err) {
    const status = (err as { code?: number }).code;
    if (status === 404) throw unusable(uri, 'object not found');
    if (status === 403) throw unusable(uri, 'permission denied');
    throw err;
  }
}

/** Reads one input file whole (model files are small: megabytes). */
export function readInputFile(uri: string, env: NodeJS.ProcessEnv = process.env): Promise<Buffer> {
  if (uri.startsWith('gs://')) return readGcs(uri, env);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(uri) && !uri.startsWith('file://')) {
    return Promise.reject(unusable(uri, 'only file:// and gs:// input files are supported'));
  }
  return readLocal(uri, env);
}
