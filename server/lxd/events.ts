import WebSocket from 'ws';
import { z } from 'zod';
import { buildRequestTarget, lxdPath, parseOperation, unavailableReason, type LxdClient, type LxdOperation, type LxdWebSocketTls } from './client';
import { LxdUnavailableError } from './errors';

/** Event types on `/1.0/events`; `logging` needs an admin client. */
export type LxdEventType = 'lifecycle' | 'operation' | 'logging';

/** One message from `/1.0/events`, parsed. `metadata` depends on `type`; see the helpers below. */
export interface LxdEvent {
  type: string;
  timestamp: string;
  /** Project the event belongs to (empty for node-wide events). */
  project: string;
  /** Cluster member; `none` on a standalone node. */
  location: string;
  metadata: unknown;
}

const eventSchema = z.object({
  type: z.string().min(1),
  timestamp: z.string().default(''),
  project: z.string().default(''),
  location: z.string().default(''),
  metadata: z.unknown(),
});

/** Parses one websocket message; null for anything that is not an LXD event. */
export function parseEvent(data: string): LxdEvent | null {
  let json: unknown;
  try {
    json = JSON.parse(data);
  } catch {
    return null;
  }
  const parsed = eventSchema.safeParse(json);
  if (!parsed.success) return null;
  const e = parsed.data;
  return { type: e.type, timestamp: e.timestamp, project: e.project, location: e.location, metadata: e.metadata ?? null };
}

const lifecycleSchema = z.object({
  action: z.string().min(1),
  source: z.string().default(''),
  context: z.record(z.string(), z.unknown()).nullable().default(null),
  requestor: z.object({ username: z.string().default(''), protocol: z.string().default(''), address: z.string().default('') }).nullable().default(null),
});

/** The metadata of a `lifecycle` event: `instance-created`, `instance-started`, … on `source`. */
export interface LxdLifecycle {
  action: string;
  /** e.g. `/1.0/instances/c1` (with `?project=p` outside the default project). */
  source: string;
  requestor: { username: string; protocol: string; address: string } | null;
}

/** The lifecycle metadata of an event, or null when it is not a (well-formed) lifecycle event. */
export function lifecycleOf(event: LxdEvent): LxdLifecycle | null {
  if (event.type !== 'lifecycle') return null;
  const parsed = lifecycleSchema.safeParse(event.metadata);
  if (!parsed.success) return null;
  return { action: parsed.data.action, source: parsed.data.source, requestor: parsed.data.requestor };
}

/** The operation of an `operation` event, or null. Operation events can carry exec secrets: never log them. */
export function operationOf(event: LxdEvent): LxdOperation | null {
  if (event.type !== 'operation') return null;
  try {
    return parseOperation(event.metadata);
  } catch {
    return null;
  }
}

/**
 * The instance name a lifecycle `source` points at (`/1.0/instances/c1?project=p` → `c1`),
 * or null for other resources. Snapshots and backups (`/1.0/instances/c1/snapshots/s`) give null.
 */
export function instanceNameOf(source: string): string | null {
  const match = /^\/1\.0\/instances\/([^/?]+)(?:\?.*)?$/.exec(source);
  return match?.[1] ? decodeURIComponent(match[1]) : null;
}

/** Which events to receive. */
export interface WatchOptions {
  types: LxdEventType[];
  /** One project, or… */
  project?: string;
  /** …every project (`all-projects=true`). */
  allProjects?: boolean;
  /** Deadline for the websocket handshake (default 10 s). */
  handshakeTimeoutMs?: number;
}

/** A running watcher. */
export interface EventWatch {
  /** Resolves once the websocket is open (send requests after this); rejects with LxdUnavailableError. */
  ready: Promise<void>;
  /** Closes the stream; `onClose` is then called without an error. */
  close(): void;
}

/**
 * Watches `GET /1.0/events?type=…` (`&project=…` or `&all-projects=true`) over a `ws` websocket
 * with the client's certificate and the node's pinned certificate (fetched through the pinned
 * HTTPS connection first when only the fingerprint is known).
 *
 * `onEvent` gets each parsed event; messages that are not LXD events are dropped. `onClose` is
 * called exactly once when the stream ends: without an error after `close()`, with an error
 * otherwise (handshake failure, pin mismatch, the node going away). Events are not replayed
 * after a reconnect: re-read state (`listInstances`) then. Open the watcher and await `ready`
 * before sending the requests whose events you need.
 *
 * Note: in LXD 5.0.2 any trusted client may watch every project; never hand node certificates out.
 */
export function watchEvents(client: LxdClient, options: WatchOptions, onEvent: (event: LxdEvent) => void, onClose: (error?: Error) => void): EventWatch {
  if (options.types.length === 0) throw new Error('watchEvents needs at least one event type');
  const target = buildRequestTarget(lxdPath`/1.0/events`, {
    ...(options.project === undefined ? {} : { project: options.project }),
    ...(options.allProjects ? { allProjects: true } : {}),
    query: { type: options.types.join(',') },
  });
  const url = client.url.replace(/^https:/, 'wss:') + target;

  let socket: WebSocket | null = null;
  let closedByUs = false;
  let finished = false;
  let opened = false;
  const finish = (error?: Error) => {
    if (finished) return;
    finished = true;
    onClose(closedByUs ? undefined : error);
  };

  const ready = (async () => {
    let tls: LxdWebSocketTls;
    try {
      tls = await client.webSocketTls();
    } catch (e) {
      finish(e instanceof Error ? e : new Error(String(e)));
      throw e;
    }
    if (closedByUs) {
      finish();
      return;
    }
    await new Promise<void>((resolve, reject) => {
      // ws hands these to tls.connect; @types/ws types checkServerIdentity with an older signature.
      const wsOptions = { ...tls, handshakeTimeout: options.handshakeTimeoutMs ?? 10_000, perMessageDeflate: false } as unknown as WebSocket.ClientOptions;
      const ws = new WebSocket(url, wsOptions);
      socket = ws;
      ws.on('open', () => {
        opened = true;
        resolve();
      });
      ws.on('message', (data, isBinary) => {
        if (isBinary) return;
        const event = parseEvent(Buffer.isBuffer(data) ? data.toString('utf8') : Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data).toString('utf8'));
        if (event) onEvent(event);
      });
      ws.on('unexpected-response', (_req, res) => {
        const error = new LxdUnavailableError(`LXD at ${client.url} refused the event stream: HTTP ${res.statusCode}`, { reason: 'connect' });
        res.resume();
        ws.terminate();
        reject(error);
        finish(error);
      });
      ws.on('error', (e) => {
        const error = new LxdUnavailableError(`LXD event stream at ${client.url} failed: ${e.message}`, { reason: unavailableReason(e), cause: e });
        if (!opened) reject(error);
        finish(error);
      });
      ws.on('close', (code, reason) => {
        if (!opened) reject(new LxdUnavailableError(`LXD event stream at ${client.url} closed before opening (${code})`, { reason: 'connect' }));
        finish(new LxdUnavailableError(`LXD event stream at ${client.url} closed (${code}${reason.length ? ` ${reason.toString()}` : ''})`, { reason: 'closed' }));
      });
    });
  })();
  // The caller may never await `ready`; its failure is reported through onClose as well.
  ready.catch(() => undefined);

  return {
    ready,
    close() {
      closedByUs = true;
      const ws: WebSocket | null = socket;
      if (ws === null) return;
      if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
      else ws.close(1000);
    },
  };
}
