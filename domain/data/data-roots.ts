/**
 * The folders a dataset named in a search config may be read from. A config
 * can come from anyone who can start a workflow (the Temporal UI), so its
 * dataset.uri, and every file read through it, must lie inside a root the
 * worker allows: WINNOW_DATA_ROOTS (folders separated by ":"), else the
 * Debian dataset folder, the worker's file:// storage root and the OS temp
 * folder. Folders the operator sets per kind (WINNOW_FASHION_MNIST_DIR and
 * the like) are always allowed. Symbolic links are resolved before checking.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FailureType, TypedTaskError } from '../../contracts/failures';
import { defaultStorageRoot } from '../storage/roots';

export const DEBIAN_DATASETS_DIR = '/usr/share/datasets';

/** Per-kind folders the operator may set on the workers; trusted like WINNOW_DATA_ROOTS. */
export const operatorDataDirVars = [
  'WINNOW_FASHION_MNIST_DIR',
  'WINNOW_MNIST_DIR',
  'WINNOW_CIFAR10_DIR',
  'WINNOW_CIFAR100_DIR',
] as const;

export function allowedDataRoots(env: NodeJS.ProcessEnv = process.env): string[] {
  const roots: string[] = [];
  const listed = env.WINNOW_DATA_ROOTS;
  if (listed !== undefined && listed.trim() !== '') {
    roots.push(...listed.split(path.delimiter).filter((r) => r.trim() !== ''));
  } else {
    roots.push(DEBIAN_DATASETS_DIR, os.tmpdir());
    const storage = defaultStorageRoot(env);
    if (storage.startsWith('file://')) roots.push(fileURLToPath(storage));
  }
  for (const name of operatorDataDirVars) {
    const dir = env[name];
    if (dir) roots.push(dir.startsWith('file://') ? fileURLToPath(dir) : dir);
  }
  return [...new Set(roots.map((r) => path.resolve(r)))];
}

/** Pure: is `file` (absolute, normalised) equal to or below one of `roots` (absolute, normalised)? */
export function isInsideRoots(file: string, roots: readonly string[]): boolean {
  return roots.some((root) => {
    const rel = path.relative(root, file);
    return rel === '' || !(rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel));
  });
}

/** The real path of `p`, or of its nearest existing ancestor with the rest appended (the path need not exist yet). */
async function realPathOf(p: string): Promise<string> {
  const rest: string[] = [];
  for (let current = path.resolve(p); ; current = path.dirname(current)) {
    try {
      return path.join(await fs.realpath(current), ...rest.reverse());
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if ((code !== 'ENOENT' && code !== 'ENOTDIR') || path.dirname(current) === current) return path.resolve(p);
      rest.push(path.basename(current));
    }
  }
}

/** A checker for one list of roots; the roots' own symbolic links are resolved once. */
export interface DataConfinement {
  roots: readonly string[];
  /** Throws ForbiddenPath unless `file` (after following links) lies inside a root. `what` names it in the message. */
  check(file: string, what: string): Promise<void>;
  /** Cheap first pass without touching the disk: is the path itself, links not followed, inside a root? */
  lexicallyInside(file: string): boolean;
}

export function confineTo(roots: readonly string[]): DataConfinement {
  let realRoots: Promise<string[]> | undefined;
  return {
    roots,
    lexicallyInside: (file) => isInsideRoots(path.resolve(file), roots),
    async check(file, what) {
      realRoots ??= Promise.all(roots.map(realPathOf));
      const resolved = path.resolve(file);
      const real = await realPathOf(resolved);
      if (isInsideRoots(real, await realRoots)) return;
      const via = real !== resolved ? ` (through a symbolic link, ${real})` : '';
      throw new TypedTaskError(
        FailureType.ForbiddenPath,
        `${what} ${file} resolves to ${resolved}${via}, outside the folders this worker reads datasets from ` +
          `(${roots.join(', ')}); put the data inside one of them, or add its folder to WINNOW_DATA_ROOTS on the workers`,
      );
    },
  };
}
