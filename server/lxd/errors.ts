/**
 * LXD answered, and the answer was a refusal or a failed operation.
 *
 * `status` is the HTTP status of a synchronous error, or the operation's `status_code` when a
 * background operation failed (400 Failure, 401 Cancelled). `lxdCode` is the envelope's
 * `error_code`; an operation carries none, so for a failed operation it repeats `status`.
 * LXD 5.0.2 reports many validation errors as 500 and asynchronous failures (e.g. a duplicate
 * instance name) as 400, so callers match on the predicates below, not on the HTTP class.
 */
export class LxdError extends Error {
  readonly status: number;
  readonly lxdCode: number;
  readonly operationId?: string;

  constructor(message: string, details: { status: number; lxdCode?: number; operationId?: string }) {
    super(message);
    this.name = 'LxdError';
    this.status = details.status;
    this.lxdCode = details.lxdCode ?? details.status;
    if (details.operationId !== undefined) this.operationId = details.operationId;
  }
}

/**
 * A background operation was still running when the caller's deadline passed. It may still
 * succeed or fail on the node: re-read the resource (or keep following the operation id) before
 * deciding anything. `status` is the operation's last `status_code` (103 Running, 105 Pending, …).
 */
export class LxdOperationTimeoutError extends LxdError {
  constructor(message: string, details: { status: number; operationId: string }) {
    super(message, details);
    this.name = 'LxdOperationTimeoutError';
  }
}

/** Why a node could not be talked to. */
export type LxdUnavailableReason = 'connect' | 'timeout' | 'tls' | 'pin-mismatch' | 'closed';

/**
 * The node did not answer: connection refused or reset, DNS, a timeout, a TLS failure, or a
 * server certificate that does not match the pinned one (`reason: 'pin-mismatch'`). Nothing
 * reached LXD, or we cannot know whether it did. The underlying error is in `cause`.
 */
export class LxdUnavailableError extends Error {
  readonly reason: LxdUnavailableReason;

  constructor(message: string, details: { reason: LxdUnavailableReason; cause?: unknown }) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'LxdUnavailableError';
    this.reason = details.reason;
  }
}

/** Raised inside a TLS handshake when the server's certificate is not the pinned one. */
export class LxdPinMismatchError extends Error {
  constructor(
    readonly expected: string,
    readonly actual: string | null,
  ) {
    super(`LXD server certificate fingerprint mismatch: expected ${expected}, got ${actual ?? 'no certificate'}`);
    this.name = 'LxdPinMismatchError';
  }
}

const isLxdError = (e: unknown): e is LxdError => e instanceof LxdError;

// The predicates return plain booleans, not `e is LxdError`: a false answer must not tell the
// compiler that `e` is no LxdError at all.


/** The thing asked for does not exist: HTTP 404 or `error_code` 404 ("Instance not found", …). */
export function isNotFound(e: unknown): boolean {
  return isLxdError(e) && !(e instanceof LxdOperationTimeoutError) && (e.status === 404 || e.lxdCode === 404);
}

const CONFLICT_MESSAGES = [
  /already exists/i, // duplicate instance, project, image ("This \"instances\" entry already exists")
  /already running/i, // "The instance is already running"
  /already stopped/i,
  /already trusted/i, // "Client is already trusted"
  /already in use/i,
];

/**
 * The request clashes with the current state rather than being wrong in itself: HTTP 409, or a
 * message LXD uses for "exists already" / "already running", whatever status it came with.
 */
export function isConflict(e: unknown): boolean {
  if (!isLxdError(e) || e instanceof LxdOperationTimeoutError) return false;
  return e.status === 409 || e.lxdCode === 409 || CONFLICT_MESSAGES.some((re) => re.test(e.message));
}

/** The node could not be reached or failed the pin (see {@link LxdUnavailableError}). */
export function isUnavailable(e: unknown): e is LxdUnavailableError {
  return e instanceof LxdUnavailableError;
}
