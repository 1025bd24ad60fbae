import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import WebSocket, { WebSocketServer } from 'ws';
import type { Actor, RequestMeta } from '../app/actor';
import { requirePermissions } from '../app/auth-checker';
import { authenticate, sessionSecretOf } from '../app/authenticate';
import { CorralError, ErrorCode } from '../app/errors';
import type { Logger } from '../app/logger';
import type { Services } from '../app/services';
import { Permission } from '../auth/permissions';
import { newId } from '../common/ids';
import type { ConsoleNodes, ConsoleStream } from './console.gateway';
import type { ConsoleCloseReason, ConsoleTarget } from './console.service';

/** `/console/<containerId>?cols=80&rows=24`. */
const CONSOLE_PATH = /^\/console\/([^/]+)$/;
/** Opening a console needs this permission (as setting the root password does: a console is a root shell). */
export const CONSOLE_PERMISSION = Permission.CONTAINERS_WRITE;
const MAX_FRAME_BYTES = 64 * 1024;
/** A browser that reads slower than the terminal writes is cut off past this much unsent output. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
/** Input that arrives while the shell is being started; more than this closes the console. */
const MAX_EARLY_FRAMES = 256;
const MAX_DIMENSION = 1000;

/**
 * WebSocket close codes of the console: 4000 + the HTTP status that fits, and the ErrorCode (or
 * the end's reason) as the close reason. Stable: browsers switch on them.
 */
export const ConsoleCloseCode: Record<string, number> = {
  [ErrorCode.BAD_USER_INPUT]: 4400,
  [ErrorCode.UNAUTHENTICATED]: 4401,
  [ErrorCode.FORBIDDEN]: 4403,
  [ErrorCode.NOT_FOUND]: 4404,
  IDLE_TIMEOUT: 4408,
  SIGNED_OUT: 4401,
  [ErrorCode.CONTAINER_NOT_RUNNING]: 4409,
  [ErrorCode.OPERATION_IN_PROGRESS]: 4409,
  SLOW_CLIENT: 4429,
  [ErrorCode.LXD_ERROR]: 4502,
  [ErrorCode.NODE_UNAVAILABLE]: 4503,
  [ErrorCode.IMAGE_UNSUPPORTED]: 4501,
  EXITED: 1000,
  SERVER_SHUTDOWN: 1001,
  [ErrorCode.INTERNAL_SERVER_ERROR]: 1011,
};

const ENDED_BECAUSE: Partial<Record<ConsoleCloseReason, string>> = {
  IDLE_TIMEOUT: 'the console was idle for too long',
  SIGNED_OUT: 'the session or token that opened the console has ended',
  SERVER_SHUTDOWN: 'Corral is shutting down',
  SLOW_CLIENT: 'the browser did not keep up with the terminal output',
};

/** A terminal size from the query string or a resize message: integers 1–1000. */
export function terminalSize(cols: unknown, rows: unknown): { cols: number; rows: number } {
  const check = (value: unknown, field: string) => {
    const n = typeof value === 'string' && /^\d{1,4}$/.test(value) ? Number(value) : value;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_DIMENSION) {
      throw new CorralError(ErrorCode.BAD_USER_INPUT, `${field} must be an integer from 1 to ${MAX_DIMENSION}`, { field });
    }
    return n;
  };
  return { cols: check(cols, 'cols'), rows: check(rows, 'rows') };
}

/** Node failures as NODE_UNAVAILABLE or LXD_ERROR; typed errors pass. */
function nodeFailure(error: unknown): CorralError {
  if (error instanceof CorralError) return error;
  const e = error as { name?: string; message?: string };
  if (e?.name === 'LxdUnavailableError') return new CorralError(ErrorCode.NODE_UNAVAILABLE, 'the node did not answer');
  if (e?.name === 'LxdOperationTimeoutError') return new CorralError(ErrorCode.NODE_UNAVAILABLE, 'the node did not start the shell in time');
  return new CorralError(ErrorCode.LXD_ERROR, `LXD refused: ${e?.message ?? String(error)}`);
}

/** The host of an Origin header; null for `null` or anything unparsable (which is then never same-origin). */
const hostOf = (origin: string): string | null => {
  try {
    return new URL(origin).host;
  } catch {
    return null;
  }
};

/** The container ID in the path, decoded; an undecodable one is just an ID that matches nothing. */
const idOf = (segment: string): string => {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
};

const asBuffer = (data: WebSocket.RawData): Buffer => (Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data));

/**
 * The browser console: a WebSocket on `/console/<containerId>` bridged to an interactive shell in
 * the container (LXD exec on a pty). Protocol, to and from the browser:
 * - binary frames are terminal bytes, both ways;
 * - text frames are JSON control messages. Browser → Corral: `{"type":"resize","cols":100,"rows":30}`.
 *   Corral → browser: `{"type":"ready"}` once the shell runs, `{"type":"exit","exitCode":0}` when it
 *   ends, `{"type":"error","code":"…","message":"…"}` before a refusal or for a bad control message.
 * - close codes: see {@link ConsoleCloseCode}; the close reason is the ErrorCode.
 *
 * Authentication is the API's (session cookie, same origin only, or `Authorization: Bearer`).
 * Every check (permission, tenant, RUNNING) runs before anything reaches LXD. The shell is ended
 * when the browser goes away (close, lost connection found by ping, idle timeout, shutdown).
 */
export function attachConsole(deps: { services: Services; consoleNodes: ConsoleNodes; idleMs: number; recheckMs: number; log: Logger }) {
  const { services, consoleNodes, idleMs, recheckMs, log } = deps;
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES, perMessageDeflate: false });
  const sessions = new Set<{ end(reason: ConsoleCloseReason): Promise<void> }>();
  let closing = false;

  const pathOf = (req: IncomingMessage) => new URL(req.url ?? '/', 'http://corral.invalid');

  async function serve(ws: WebSocket, req: IncomingMessage, containerId: string, query: URLSearchParams) {
    const request: RequestMeta = { id: newId(), sourceAddress: req.socket.remoteAddress ?? null };
    const early: (Buffer | { cols: number; rows: number })[] = [];
    let stream: ConsoleStream | null = null;
    let ended: Promise<void> | null = null;
    // While the checks and the exec start run, an end (browser gone, shutdown) waits for them, so
    // that an open that was recorded is always followed by its close.
    let opening = true;
    let pendingEnd: ConsoleCloseReason | null = null;
    let openingDone!: () => void;
    const openingOver = new Promise<void>((resolve) => (openingDone = resolve));
    const startedAt = Date.now();
    let actor: Actor | null = null;
    let target: ConsoleTarget | null = null;

    const send = (message: Record<string, unknown>) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
    };
    const refuse = (error: CorralError) => {
      send({ type: 'error', code: error.code, message: error.message });
      if (ws.readyState === WebSocket.OPEN) ws.close(ConsoleCloseCode[error.code] ?? 1011, error.code);
    };

    // Idle: no bytes either way for idleMs.
    let idleTimer: NodeJS.Timeout | undefined;
    const touch = () => {
      clearTimeout(idleTimer);
      idleTimer = setTimeout(() => void session.end('IDLE_TIMEOUT'), idleMs);
      idleTimer.unref();
    };
    // Every recheckMs: a browser that vanished without closing (network gone) is found by a missed
    // pong, and a session or token that ended (logout, revoked, expired) ends the console.
    let alive = true;
    ws.on('pong', () => (alive = true));
    const pinger = setInterval(() => {
      if (!alive) return ws.terminate();
      alive = false;
      ws.ping();
      if (stream && !ended) {
        authenticate(services, request, req.headers).then(
          (still) => {
            if (!still || !still.permissions.has(CONSOLE_PERMISSION)) void session.end('SIGNED_OUT');
          },
          (error: unknown) => log.warn({ err: error, requestId: request.id }, 'could not recheck a console session'),
        );
      }
    }, recheckMs);
    pinger.unref();

    const session = {
      /** Ends the shell (if any), closes the socket and records the close event once. */
      end(reason: ConsoleCloseReason, error: CorralError | null = null): Promise<void> {
        if (opening) {
          pendingEnd ??= reason;
          return openingOver.then(() => session.end(pendingEnd ?? reason));
        }
        ended ??= (async () => {
          clearTimeout(idleTimer);
          clearInterval(pinger);
          let exitCode: number | null = null;
          if (stream) exitCode = await stream.terminate().catch(() => null);
          if (ws.readyState === WebSocket.OPEN) {
            if (reason === 'EXITED') send({ type: 'exit', exitCode });
            else if (error) send({ type: 'error', code: error.code, message: error.message });
            else if (reason !== 'CLIENT_CLOSED') send({ type: 'error', code: reason, message: ENDED_BECAUSE[reason] ?? reason });
            const code = error ? (ConsoleCloseCode[error.code] ?? 1011) : (ConsoleCloseCode[reason] ?? 1000);
            ws.close(code, error ? error.code : reason);
          }
          sessions.delete(session);
          if (actor && target) {
            await services.consoles.closed(actor, target, { durationMs: Date.now() - startedAt, reason, error }).catch((e: unknown) => log.error({ err: e, requestId: request.id }, 'could not record a console close'));
          }
        })();
        return ended;
      },
    };
    sessions.add(session);

    ws.on('message', (data, isBinary) => {
      const chunk = asBuffer(data);
      let item: Buffer | { cols: number; rows: number };
      if (isBinary) item = chunk;
      else {
        try {
          const message = JSON.parse(chunk.toString('utf8')) as { type?: unknown; cols?: unknown; rows?: unknown };
          if (message?.type !== 'resize') throw new CorralError(ErrorCode.BAD_USER_INPUT, 'unknown control message: send {"type":"resize","cols":…,"rows":…}', { field: 'type' });
          item = terminalSize(message.cols, message.rows);
        } catch (error) {
          const e = error instanceof CorralError ? error : new CorralError(ErrorCode.BAD_USER_INPUT, 'control messages are JSON text frames');
          send({ type: 'error', code: e.code, message: e.message });
          return;
        }
      }
      if (stream) {
        touch();
        if (Buffer.isBuffer(item)) stream.write(item);
        else stream.resize(item.cols, item.rows);
      } else if (early.length < MAX_EARLY_FRAMES) early.push(item);
      else void session.end('SLOW_CLIENT');
    });
    ws.on('close', () => void session.end('CLIENT_CLOSED'));
    ws.on('error', () => undefined);

    try {
      const size = terminalSize(query.get('cols') ?? '80', query.get('rows') ?? '24');
      const usesCookie = !!sessionSecretOf(req.headers) && !req.headers.authorization;
      // Browsers send cookies on cross-site WebSocket handshakes too: a cookie counts from our own origin only.
      if (usesCookie && req.headers.origin && hostOf(req.headers.origin) !== req.headers.host) throw new CorralError(ErrorCode.FORBIDDEN, 'a console opened with a session cookie must come from the same origin');
      actor = await authenticate(services, request, req.headers);
      requirePermissions({ actor }, [CONSOLE_PERMISSION]);
      if (pendingEnd) return finishOpening();
      target = await services.consoles.open(actor!, containerId);
      if (pendingEnd) return finishOpening();
      const opened = await consoleNodes.openConsole(target.node, target.lxdProject, target.name, size);
      stream = opened;
      if (pendingEnd) return finishOpening();
      opened.onOutput((chunk) => {
        if (ws.readyState !== WebSocket.OPEN) return;
        if (ws.bufferedAmount > MAX_BUFFERED_BYTES) return void session.end('SLOW_CLIENT');
        touch();
        ws.send(chunk, { binary: true });
      });
      void opened.ended.then(() => session.end('EXITED'));
      for (const item of early.splice(0)) {
        if (Buffer.isBuffer(item)) opened.write(item);
        else opened.resize(item.cols, item.rows);
      }
      finishOpening();
      touch();
      send({ type: 'ready' });
      log.info({ requestId: request.id, container: target.containerId, user: actor!.userId }, 'console opened');
    } catch (error) {
      const failure = target ? nodeFailure(error) : error instanceof CorralError ? error : null;
      if (!failure) log.error({ err: error, requestId: request.id }, 'internal error while opening a console');
      const typed = failure ?? new CorralError(ErrorCode.INTERNAL_SERVER_ERROR, 'Internal error');
      if (!target) {
        // Refused before the open was recorded (or the open's FAILURE event says why): nothing to close.
        sessions.delete(session);
        clearInterval(pinger);
        ended = Promise.resolve();
        refuse(typed);
      }
      finishOpening();
      if (target) void session.end('NODE_FAILED', typed);
    }

    function finishOpening() {
      opening = false;
      openingDone();
    }
  }

  return {
    /** Whether an upgrade request is for a console. */
    handles(req: IncomingMessage): boolean {
      return CONSOLE_PATH.test(pathOf(req).pathname);
    },
    upgrade(req: IncomingMessage, socket: Duplex, head: Buffer) {
      const url = pathOf(req);
      const id = idOf(CONSOLE_PATH.exec(url.pathname)?.[1] ?? '');
      if (closing) return void socket.destroy();
      wss.handleUpgrade(req, socket, head, (ws) => void serve(ws, req, id, url.searchParams));
    },
    /** How many consoles are open (tests and shutdown). */
    get open(): number {
      return sessions.size;
    },
    /** Ends every console (shell terminated, close recorded), then stops. */
    async close() {
      closing = true;
      await Promise.all([...sessions].map((s) => s.end('SERVER_SHUTDOWN')));
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
export type ConsoleEndpoint = ReturnType<typeof attachConsole>;
