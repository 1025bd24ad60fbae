/**
 * Stable error codes, sent as `extensions.code`. Clients switch on these; never rename one.
 * Domain folders raise them through `CorralError`; `error-mapping.ts` turns them into GraphQL errors.
 */
export const ErrorCode = {
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  CONFLICT: 'CONFLICT',
  RATE_LIMITED: 'RATE_LIMITED',
  QUERY_LIMIT_EXCEEDED: 'QUERY_LIMIT_EXCEEDED',
  LICENCE_LIMIT: 'LICENCE_LIMIT',
  QUOTA_EXCEEDED: 'QUOTA_EXCEEDED',
  CAPACITY_EXCEEDED: 'CAPACITY_EXCEEDED',
  NODE_UNAVAILABLE: 'NODE_UNAVAILABLE',
  OPERATION_IN_PROGRESS: 'OPERATION_IN_PROGRESS',
  IDEMPOTENCY_KEY_REUSED: 'IDEMPOTENCY_KEY_REUSED',
  /** The operation needs a running container (e.g. setting the root password): start it first. */
  CONTAINER_NOT_RUNNING: 'CONTAINER_NOT_RUNNING',
  /** The container's image lacks what the operation needs (e.g. `chpasswd`). */
  IMAGE_UNSUPPORTED: 'IMAGE_UNSUPPORTED',
  /** The node cannot enforce a limit that was asked for (see `Node.capabilities`); nothing was applied. */
  LIMIT_UNSUPPORTED: 'LIMIT_UNSUPPORTED',
  /** The nodes cannot do this kind of migration (live migration needs CRIU on both, see `Node.capabilities.liveMigration`); nothing was changed. */
  MIGRATION_UNSUPPORTED: 'MIGRATION_UNSUPPORTED',
  /** The operation needs a stopped container (e.g. restoring a backup in place): stop it first. */
  CONTAINER_RUNNING: 'CONTAINER_RUNNING',
  /** The backup is no longer on its node (deleted behind Corral's back, or lost with its node); the record is marked MISSING. */
  BACKUP_MISSING: 'BACKUP_MISSING',
  /** Corral's backup archive (CORRAL_BACKUP_ARCHIVE_DIR) could not store a backup (disk full, no permission); what needed it (a migration) did not go ahead. */
  BACKUP_ARCHIVE_FAILED: 'BACKUP_ARCHIVE_FAILED',
  /** connectNode: the node refused the SSH credentials (user, password or private key). */
  SSH_AUTH_FAILED: 'SSH_AUTH_FAILED',
  /** connectNode: nothing answered on the SSH address in time (refused, no route, timeout). */
  NODE_UNREACHABLE: 'NODE_UNREACHABLE',
  /** The node's SSH host key is not the one pinned at connectNode: Corral did not go on. */
  SSH_HOST_KEY_MISMATCH: 'SSH_HOST_KEY_MISMATCH',
  /** connectNode: the node runs an OS Corral does not set up (Debian 12, Ubuntu 20.04 or later are supported); the message names what was found. */
  UNSUPPORTED_OS: 'UNSUPPORTED_OS',
  /** connectNode: the node playbook (ansible-playbook) failed; `setup.step` names the failing task and `setup.output` holds its message and the recap. retryNodeSetup runs it again. */
  NODE_SETUP_FAILED: 'NODE_SETUP_FAILED',
  /** The IP pool has no free address left (reserved addresses and the gateway are never handed out); nothing was allocated. */
  POOL_EXHAUSTED: 'POOL_EXHAUSTED',
  /** The address asked for is already allocated (to this or another container); nothing was changed. */
  ADDRESS_IN_USE: 'ADDRESS_IN_USE',
  /** The address asked for is in none of the IP pools of the container's cluster (perhaps in another cluster's); nothing was changed. */
  ADDRESS_OUTSIDE_CLUSTER: 'ADDRESS_OUTSIDE_CLUSTER',
  INTERRUPTED: 'INTERRUPTED',
  LXD_ERROR: 'LXD_ERROR',
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export class CorralError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'CorralError';
  }
}

/** "Missing" and "not yours" are the same answer, so that no tenant can probe another's IDs. */
export const notFound = (what: string) => new CorralError(ErrorCode.NOT_FOUND, `${what} not found`);
export const badInput = (message: string, field?: string) =>
  new CorralError(ErrorCode.BAD_USER_INPUT, message, field ? { field } : {});
export const conflict = (message: string, field?: string) =>
  new CorralError(ErrorCode.CONFLICT, message, field ? { field } : {});
export const forbidden = (message = 'Not allowed') => new CorralError(ErrorCode.FORBIDDEN, message);
export const unauthenticated = () => new CorralError(ErrorCode.UNAUTHENTICATED, 'Sign in first');
