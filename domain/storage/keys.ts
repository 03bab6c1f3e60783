/**
 * Artifact keys: the part of an artifact URI below a store's root. Pure string
 * logic, no I/O. Keys are deliberately narrow (safe characters, no empty, "." or
 * ".." segments, nothing hidden) so that a key can never climb out of the root,
 * needs no URL encoding and means the same thing on a disk and in a bucket.
 */
import { FailureType, TypedTaskError } from '../../contracts/failures';

/** Suffix of the file store's checksum sidecars; keys may not end with it. */
export const sidecarSuffix = '.sha256';
/** Longest key GCS accepts (object names are at most 1024 bytes). */
export const maxKeyLength = 1024;

const segmentPattern = /^[A-Za-z0-9_=+@,~-][A-Za-z0-9._=+@,~-]*$/;
const schemePattern = /^[a-z][a-z0-9+.-]*:/i;

function forbidden(message: string): TypedTaskError {
  return new TypedTaskError(FailureType.ForbiddenPath, message);
}

/** Why `key` is not a valid artifact key, or undefined when it is. */
export function keyProblem(key: string): string | undefined {
  if (key.length === 0) return 'it is empty';
  if (key.length > maxKeyLength) return `it is ${key.length} characters long (at most ${maxKeyLength})`;
  if (key.startsWith('/')) return 'it is absolute (starts with "/")';
  for (const segment of key.split('/')) {
    if (segment === '') return 'it has an empty segment ("//" or a trailing "/")';
    if (segment === '..') return 'it has a ".." segment';
    if (segment === '.') return 'it has a "." segment';
    if (!segmentPattern.test(segment)) {
      return `segment "${segment}" is not made of A-Z a-z 0-9 . _ = + @ , ~ - (or starts with ".")`;
    }
  }
  if (key.endsWith(sidecarSuffix)) return `names ending in "${sidecarSuffix}" are reserved for checksum records`;
  return undefined;
}

/** Throws ForbiddenPath unless `key` is a valid artifact key; `where` names the store for the message. */
export function assertKey(key: string, where: string): string {
  const problem = keyProblem(key);
  if (problem !== undefined) {
    throw forbidden(
      `artifact key "${key}" in ${where} is refused: ${problem}. Keys are relative paths like "<searchId>/round-0/subset.json" and never leave the store root`,
    );
  }
  return key;
}

/**
 * Why `prefix` is not a valid listing prefix: like a key, but it may be empty,
 * end with "/" or stop in the middle of a segment.
 */
export function prefixProblem(prefix: string): string | undefined {
  if (prefix === '') return undefined;
  const trimmed = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  const problem = keyProblem(trimmed);
  // A prefix may stop halfway through a reserved suffix; only the path rules matter.
  if (problem !== undefined && !problem.includes('reserved')) return problem;
  return undefined;
}

export function assertPrefix(prefix: string, where: string): string {
  const problem = prefixProblem(prefix);
  if (problem !== undefined) throw forbidden(`artifact prefix "${prefix}" in ${where} is refused: ${problem}`);
  return prefix;
}

/** True when `ref` is a URI (has a scheme) rather than a bare key. */
export function isUri(ref: string): boolean {
  return schemePattern.test(ref);
}

/**
 * The key that `ref` names inside the store rooted at `root`: a bare key is
 * checked as it is; a URI must lie below the root.
 */
export function keyOfRef(ref: string, root: string): string {
  if (!isUri(ref)) return assertKey(ref, root);
  if (!ref.startsWith(`${root}/`)) {
    throw forbidden(`artifact URI ${ref} lies outside the store root ${root}; open a store at a root that contains it`);
  }
  return assertKey(ref.slice(root.length + 1), root);
}

/** Same as keyOfRef, for listing prefixes (a URI equal to the root is the empty prefix). */
export function prefixOfRef(ref: string, root: string): string {
  if (!isUri(ref)) return assertPrefix(ref, root);
  if (ref === root) return '';
  if (!ref.startsWith(`${root}/`)) {
    throw forbidden(
      `artifact URI prefix ${ref} lies outside the store root ${root}; open a store at a root that contains it`,
    );
  }
  return assertPrefix(ref.slice(root.length + 1), root);
}

const bucketPattern = /^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/;

/** Splits a gs:// root into bucket and object-name prefix ("" for the bucket's top). */
export function parseGsRoot(root: string): { bucket: string; prefix: string } {
  const match = /^gs:\/\/([^/]+)(?:\/(.*))?$/.exec(root.replace(/\/+$/, ''));
  if (!match || !bucketPattern.test(match[1])) {
    throw new TypedTaskError(
      FailureType.InvalidConfig,
      `storage root ${root} is not a gs:// URI with a valid bucket name (gs://BUCKET or gs://BUCKET/PREFIX; bucket names are 3-222 lower-case letters, digits, ".", "_" or "-")`,
    );
  }
  const prefix = match[2] ?? '';
  if (prefix !== '') assertKey(prefix, root);
  return { bucket: match[1], prefix };
}
