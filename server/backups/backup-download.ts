import type { Express } from 'express';
import { pipeline } from 'node:stream/promises';
import { authenticate } from '../app/authenticate';
import type { RequestMeta } from '../app/actor';
import { CorralError, ErrorCode } from '../app/errors';
import type { Logger } from '../app/logger';
import type { Services } from '../app/services';
import { Permission } from '../auth/permissions';
import { newId } from '../common/ids';

const STATUS: Partial<Record<string, number>> = {
  [ErrorCode.NOT_FOUND]: 404,
  [ErrorCode.BACKUP_MISSING]: 404,
  [ErrorCode.OPERATION_IN_PROGRESS]: 409,
  [ErrorCode.CONFLICT]: 409,
  [ErrorCode.NODE_UNAVAILABLE]: 503,
};

/**
 * `GET /backups/:id/download`: the backup's gzip tarball, streamed from its node through Corral
 * (or from Corral's archive file once the backup was carried off its node).
 * Authenticated like `/graphql` (session cookie or bearer token) with CONTAINERS_READ and access
 * to the container; another tenant's backup is 404, exactly like a missing one. A GET changes
 * nothing, so the session cookie (SameSite=Lax) needs no CSRF guard here.
 */
export function mountBackupDownload(app: Express, services: Services, log: Logger): void {
  app.get('/backups/:id/download', async (req, res) => {
    const request: RequestMeta = { id: newId(), sourceAddress: req.ip ?? null };
    res.setHeader('x-request-id', request.id);
    const fail = (status: number, code: string, message: string) => res.status(status).json({ errors: [{ message, extensions: { code } }] });
    try {
      const actor = await authenticate(services, request, req.headers);
      if (!actor) return fail(401, ErrorCode.UNAUTHENTICATED, 'Sign in first');
      if (!actor.permissions.has(Permission.CONTAINERS_READ)) return fail(403, ErrorCode.FORBIDDEN, 'missing permission CONTAINERS_READ');
      const { filename, stream } = await services.backups.download({ ...actor, request }, String(req.params.id));
      res.status(200);
      res.setHeader('content-type', 'application/gzip');
      res.setHeader('content-disposition', `attachment; filename="${filename.replace(/[^A-Za-z0-9._-]/g, '_')}"`);
      if (stream.size !== null) res.setHeader('content-length', String(stream.size));
      res.setHeader('cache-control', 'no-store');
      try {
        await pipeline(stream.body, res);
      } catch (error) {
        // Headers are gone: the client sees a cut-off body (shorter than Content-Length).
        log.warn({ err: error, requestId: request.id }, 'a backup download broke off');
      }
    } catch (error) {
      if (error instanceof CorralError) return fail(STATUS[error.code] ?? 400, error.code, error.message);
      const e = error as { name?: string };
      if (e?.name === 'LxdUnavailableError') return fail(503, ErrorCode.NODE_UNAVAILABLE, 'the node did not answer');
      log.error({ err: error, requestId: request.id }, 'internal error in backup download');
      if (!res.headersSent) fail(500, ErrorCode.INTERNAL_SERVER_ERROR, 'Internal error');
    }
  });
}
