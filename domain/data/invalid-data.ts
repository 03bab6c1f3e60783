import { FailureType, TypedTaskError } from '../../contracts/failures';

/** An InvalidData failure: the message must say which file, where in it, what is wrong and what to do. */
export function invalidData(message: string): TypedTaskError {
  return new TypedTaskError(FailureType.InvalidData, message);
}

/** Turns a filesystem error on `file` into InvalidData (missing, unreadable), passing others through. */
export function fileError(file: string, err: unknown, hint: string): Error {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT') return invalidData(`${file}: file not found; ${hint}`);
  if (code === 'EACCES' || code === 'EPERM') return invalidData(`${file}: permission denied; ${hint}`);
  if (code === 'EISDIR') return invalidData(`${file}: is a folder, expected a file; ${hint}`);
  return err instanceof Error ? err : new Error(String(err));
}
