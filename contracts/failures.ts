/**
 * The closed set of failure types winnow raises on purpose. Activities and
 * workflows throw ApplicationFailure with one of these as `type`; the
 * non-retryable ones are listed once, here, and every retry policy uses them.
 */
export const FailureType = {
  /** The search config is malformed: fix the input, retrying cannot help. */
  InvalidConfig: 'InvalidConfig',
  /** A data set file is missing, truncated or inconsistent. */
  InvalidData: 'InvalidData',
  /** A stored artifact fails its checksum or cannot be parsed. */
  CorruptArtifact: 'CorruptArtifact',
  /** Training produced non-finite values. */
  Diverged: 'Diverged',
  /** A URI points outside the roots this worker is allowed to touch. */
  ForbiddenPath: 'ForbiddenPath',
  /** A different immutable artifact already exists at the path: two writers disagree, retrying cannot help. */
  ArtifactConflict: 'ArtifactConflict',
  /** The storage service refused the workers' credentials (HTTP 401/403, not a rate limit): fix permissions, then resume. */
  AccessDenied: 'AccessDenied',
} as const;

export type FailureTypeName = (typeof FailureType)[keyof typeof FailureType];

/** Failure types that no retry can fix. CorruptArtifact is retryable: the producer rewrites it. */
export const nonRetryableFailureTypes: readonly FailureTypeName[] = [
  FailureType.InvalidConfig,
  FailureType.InvalidData,
  FailureType.Diverged,
  FailureType.ForbiddenPath,
  FailureType.ArtifactConflict,
  FailureType.AccessDenied,
];

/**
 * An error that domain code throws on purpose: its failure type crosses the
 * compute child's process boundary and becomes the ApplicationFailure type in
 * activities/to-application-failure.ts.
 */
export class TypedTaskError extends Error {
  constructor(
    readonly failureType: string,
    message: string,
    /** `details` travel with the failure (for the workflow to act on); `nonRetryable` overrides the type's default. */
    readonly options: { details?: unknown[]; nonRetryable?: boolean; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = failureType;
  }
}
