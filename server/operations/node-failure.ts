import { CorralError, ErrorCode } from '../app/errors';

/**
 * What an operation reports when a node lets it down: NODE_UNAVAILABLE when the node did not
 * answer, LXD_ERROR (keeping what LXD said, and its HTTP status) when LXD refused or did not
 * finish in time. Corral's own typed errors pass unchanged. `what` names the step, e.g.
 * `copying the container`.
 */
export function nodeFailure(error: unknown, what?: string): CorralError {
  if (error instanceof CorralError) return error;
  const e = error as { name?: string; message?: string; status?: number };
  if (e?.name === 'LxdUnavailableError') return new CorralError(ErrorCode.NODE_UNAVAILABLE, `the node did not answer${what ? ` while ${what}` : ''}: ${e.message}`);
  if (e?.name === 'LxdOperationTimeoutError') return new CorralError(ErrorCode.LXD_ERROR, `${what ?? 'the LXD operation'} did not finish in time: ${e.message}`);
  return new CorralError(ErrorCode.LXD_ERROR, `LXD refused${what ? ` ${what}` : ''}: ${e?.message ?? String(error)}`, e?.status ? { lxdStatus: e.status } : {});
}
