/** The errors every artifact store raises, with messages that name the URI and say what to do. */
import { FailureType, TypedTaskError } from '../../contracts/failures';

/** The object's bytes do not match the digest recorded on write (or the one the caller expected). */
export function corruptArtifact(uri: string, expected: string, actual: string, detail = ''): TypedTaskError {
  return new TypedTaskError(
    FailureType.CorruptArtifact,
    `artifact ${uri} is corrupt: expected sha256 ${expected}, got ${actual}${detail}; rerun the step that produced it (its retry rewrites it)`,
  );
}

/** No sha256 was recorded for the object (written by something else, or a write interrupted before it finished). */
export function unrecordedArtifact(uri: string, where: string): TypedTaskError {
  return new TypedTaskError(
    FailureType.CorruptArtifact,
    `artifact ${uri} has no recorded sha256 (${where} is missing); it was not written by winnow's store or its write was interrupted: rerun the step that produces it`,
  );
}

/** The object does not exist. Retryable (plain error): a producer may still be writing it. */
export class MissingArtifact extends Error {
  constructor(readonly uri: string) {
    super(`artifact ${uri} does not exist; check the URI, or rerun the step that produces it`);
    this.name = 'MissingArtifact';
  }
}

/** A create-only put met a different existing object. */
export class ArtifactConflict extends TypedTaskError {
  constructor(
    readonly uri: string,
    readonly existingSha256: string,
    readonly newSha256: string,
  ) {
    super(
      FailureType.ArtifactConflict,
      `artifact ${uri} is immutable and already exists with different content (existing sha256 ${existingSha256}, new ${newSha256}); ` +
        'it was produced by another search or config with the same id: use a new searchId or delete the old artifacts (winnow store clean)',
    );
  }
}

export function isMissingArtifact(err: unknown): err is MissingArtifact {
  return err instanceof MissingArtifact;
}

/** Errors that say the store root cannot be used as configured, not that the disk is busy or full: no retry helps. */
const unusableRootCodes: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'the file system is read-only',
  ENOTDIR: 'a path component under the root is a regular file, not a folder',
  EEXIST: 'a path component under the root is a regular file, not a folder',
};

/**
 * Turns a file-system error met while writing or reading `uri` into a clear,
 * non-retryable InvalidConfig when the root itself is unusable (not writable,
 * read-only, a file); other errors (disk full, I/O) stay retryable with the
 * URI added.
 */
export function storageIoError(op: 'write' | 'read', uri: string, root: string, err: unknown): unknown {
  if (err instanceof TypedTaskError || err instanceof MissingArtifact) return err;
  const e = err as NodeJS.ErrnoException;
  const why = e?.code ? unusableRootCodes[e.code] : undefined;
  if (why !== undefined) {
    const uid = typeof process.getuid === 'function' ? ` (uid ${process.getuid()})` : '';
    return new TypedTaskError(
      FailureType.InvalidConfig,
      `cannot ${op} artifact ${uri}: ${why} (${e.message}); the store root ${root} is not ${op === 'write' ? 'writable' : 'readable'} by this worker${uid}: ` +
        `fix the folder's permissions or mount, or point WINNOW_STORAGE_ROOT (or the search's storageRoot) at a ${op === 'write' ? 'writable' : 'readable'} folder`,
    );
  }
  if (err instanceof Error) return new Error(`cannot ${op} artifact ${uri}: ${err.message}`, { cause: err });
  return err;
}
