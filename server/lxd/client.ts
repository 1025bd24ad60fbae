import type { PeerCertificate, TLSSocket } from 'node:tls';
import type { Readable } from 'node:stream';
import { Agent, buildConnector, request, type Dispatcher } from 'undici';
import { z } from 'zod';
import {
  LxdError,
  LxdOperationTimeoutError,
  LxdPinMismatchError,
  LxdUnavailableError,
  isConflict,
  isNotFound,
  type LxdUnavailableReason,
} from './errors';
import { fingerprintOf, normaliseFingerprint, sha256Hex, type ClientIdentity } from './identity';

// ---------------------------------------------------------------------------------------------
// Paths

declare const lxdPathBrand: unique symbol;
/** A request path whose every interpolated segment went through {@link lxdPath}. */
export type LxdPath = string & { readonly [lxdPathBrand]: true };

/** Encodes one path segment. Empty, `.` and `..` are refused or escaped: each would change the URL's meaning. */
export function encodeSegment(segment: string): string {
  if (segment === '') throw new Error('an LXD path segment cannot be empty');
  if (segment === '.' || segment === '..') return segment.replace(/\./g, '%2E');
  return encodeURIComponent(segment);
}

/**
 * Tagged template for LXD paths: ``lxdPath`/1.0/instances/${name}/state` `` encodes every
 * interpolated value as one path segment, so a name can never add segments or a query.
 */
export function lxdPath(strings: TemplateStringsArray, ...segments: string[]): LxdPath {
  let path = strings[0] ?? '';
  segments.forEach((segment, i) => {
    path += encodeSegment(segment) + (strings[i + 1] ?? '');
  });
  if (!path.startsWith('/1.0')) throw new Error(`an LXD path starts with /1.0: ${path}`);
  return path as LxdPath;
}

/** Query values for {@link LxdClient.request}; `undefined` values are left out. */
export type LxdQuery = Record<string, string | number | boolean | undefined>;

/**
 * Builds `path?query`, adding `project=` (project-scoped calls) or `all-projects=true`.
 * A project and all-projects together are refused.
 */
export function buildRequestTarget(
  path: LxdPath,
  scope: { project?: string; allProjects?: boolean; query?: LxdQuery } = {},
): string {
  if (scope.project !== undefined && scope.allProjects) throw new Error('a request names one project or all projects, not both');
  const params = new URLSearchParams();
  if (scope.project !== undefined) {
    if (scope.project === '') throw new Error('an LXD project name cannot be empty');
    params.set('project', scope.project);
  }
  if (scope.allProjects) params.set('all-projects', 'true');
  for (const [key, value] of Object.entries(scope.query ?? {})) {
    if (value !== undefined) params.set(key, String(value));
  }
  const query = params.toString();
  return query ? `${path}?${query}` : path;
}

// ---------------------------------------------------------------------------------------------
// Envelopes and operations

const envelopeSchema = z.object({
  type: z.enum(['sync', 'async', 'error']),
  status: z.string().optional(),
  status_code: z.number().int().optional(),
  error_code: z.number().int().optional(),
  error: z.string().optional(),
  operation: z.string().optional(),
  metadata: z.unknown().optional(),
});

const operationSchema = z
  .object({
    id: z.string().min(1),
    class: z.string(),
    description: z.string().default(''),
    status: z.string(),
    status_code: z.number().int(),
    resources: z.record(z.string(), z.array(z.string())).nullable().default(null),
    metadata: z.record(z.string(), z.unknown()).nullable().default(null),
    may_cancel: z.boolean().default(false),
    err: z.string().default(''),
    location: z.string().default(''),
  })
  .transform((op) => ({
    id: op.id,
    class: op.class,
    description: op.description,
    status: op.status,
    statusCode: op.status_code,
    resources: op.resources ?? {},
    metadata: op.metadata ?? {},
    mayCancel: op.may_cancel,
    err: op.err,
    location: op.location,
  }));

/** An LXD background operation (`/1.0/operations/{id}`), parsed. */
export type LxdOperation = z.output<typeof operationSchema>;

/** A parsed LXD reply: `sync` with its metadata, or `async` with the operation it started. */
export type LxdResponse =
  | { type: 'sync'; httpStatus: number; metadata: unknown; etag?: string }
  | { type: 'async'; httpStatus: number; operation: LxdOperation };

/** Operation `status_code`s below 200 (Created, Running, Pending, …) are not final. */
export const isFinalStatus = (statusCode: number) => statusCode >= 200;

/** Parses an operation object; a malformed one is an {@link LxdError}. */
export function parseOperation(value: unknown, httpStatus = 200): LxdOperation {
  const parsed = operationSchema.safeParse(value);
  if (!parsed.success) throw malformed(httpStatus, 'operation object expected');
  return parsed.data;
}

function malformed(httpStatus: number, what: string): LxdError {
  return new LxdError(`malformed LXD response (HTTP ${httpStatus}): ${what}`, { status: httpStatus, lxdCode: 0 });
}

/**
 * Turns an HTTP status and a decoded JSON body into an {@link LxdResponse}.
 * Throws {@link LxdError}: for `type: "error"` or any HTTP error status (keeping `error_code` and
 * `error`), and for anything that is not a well-formed envelope (`lxdCode` 0): a sync reply must
 * say `status_code` 200, an async one 100 with an operation in `metadata`.
 */
export function parseEnvelope(httpStatus: number, body: unknown, etag?: string): LxdResponse {
  const parsed = envelopeSchema.safeParse(body);
  if (!parsed.success) {
    if (httpStatus >= 400) throw new LxdError(`LXD answered HTTP ${httpStatus} without an LXD envelope`, { status: httpStatus, lxdCode: 0 });
    throw malformed(httpStatus, 'not an LXD envelope');
  }
  const envelope = parsed.data;
  if (envelope.type === 'error' || httpStatus >= 400) {
    const lxdCode = envelope.error_code || httpStatus;
    return throwError(envelope.error || envelope.status || `HTTP ${httpStatus}`, httpStatus >= 400 ? httpStatus : lxdCode, lxdCode);
  }
  if (envelope.error_code !== undefined && envelope.error_code !== 0) throw malformed(httpStatus, `error_code ${envelope.error_code} in a ${envelope.type} reply`);
  if (envelope.type === 'sync') {
    if (envelope.status_code !== 200) throw malformed(httpStatus, `sync reply with status_code ${envelope.status_code}`);
    return etag === undefined
      ? { type: 'sync', httpStatus, metadata: envelope.metadata ?? null }
      : { type: 'sync', httpStatus, metadata: envelope.metadata ?? null, etag };
  }
  if (envelope.status_code !== 100) throw malformed(httpStatus, `async reply with status_code ${envelope.status_code}`);
  return { type: 'async', httpStatus, operation: parseOperation(envelope.metadata, httpStatus) };
}

/**
 * Parses a reply's metadata with `schema`; a mismatch is an {@link LxdError} (`lxdCode` 0) naming
 * the endpoint and the first offending field, never a silently wrong object.
 */
export function parseMetadata<S extends z.ZodType>(schema: S, value: unknown, endpoint: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'invalid';
    throw new LxdError(`unexpected LXD reply to ${endpoint}: ${where}`, { status: 200, lxdCode: 0 });
  }
  return parsed.data;
}

function throwError(message: string, status: number, lxdCode: number): never {
  throw new LxdError(message, { status, lxdCode });
}

/**
 * How a waited operation ended, when it did not fail: `finished` with the final operation object,
 * or `gone` when LXD no longer knows the id (finished operations are dropped 5 s after they end):
 * the outcome is unknown, so re-read the resource.
 */
export type OperationOutcome = { kind: 'finished'; operation: LxdOperation } | { kind: 'gone'; operationId: string };

/**
 * Judges a final operation: success (200) is returned, anything else (400 Failure, 401 Cancelled)
 * becomes an {@link LxdError} with the operation's `err`, its `status_code` and its id.
 */
export function settleOperation(operation: LxdOperation): OperationOutcome {
  if (operation.statusCode === 200) return { kind: 'finished', operation };
  throw new LxdError(operation.err || `operation ${operation.description || operation.id}: ${operation.status}`, {
    status: operation.statusCode,
    operationId: operation.id,
  });
}

// ---------------------------------------------------------------------------------------------
// Trust tokens

/** The parts of an LXD trust token (`lxc config trust add`) Corral uses. */
export interface TrustToken {
  fingerprint: string;
  addresses: string[];
  clientName?: string;
}

const trustTokenSchema = z.object({
  fingerprint: z.string(),
  addresses: z.array(z.string()).default([]),
  secret: z.string().min(1),
  client_name: z.string().optional(),
});

/**
 * Decodes an LXD 5.0 trust token: base64 of JSON `{client_name, fingerprint, addresses, secret,
 * expires_at}`. Returns null for anything else (then the secret is a trust password).
 */
export function decodeTrustToken(secret: string): TrustToken | null {
  const text = secret.trim();
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) return null;
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(text, 'base64').toString('utf8'));
  } catch {
    return null;
  }
  const parsed = trustTokenSchema.safeParse(json);
  if (!parsed.success) return null;
  let fingerprint: string;
  try {
    fingerprint = normaliseFingerprint(parsed.data.fingerprint);
  } catch {
    return null;
  }
  return parsed.data.client_name === undefined
    ? { fingerprint, addresses: parsed.data.addresses }
    : { fingerprint, addresses: parsed.data.addresses, clientName: parsed.data.client_name };
}

// ---------------------------------------------------------------------------------------------
// Transport errors

const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

function causes(e: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let current = e; current !== undefined && current !== null && chain.length < 8; ) {
    chain.push(current);
    current = current instanceof Error ? current.cause : undefined;
  }
  return chain;
}

/** Classifies a failure to get an answer from the node (exported for tests). */
export function unavailableReason(e: unknown): LxdUnavailableReason {
  const chain = causes(e);
  if (chain.some((c) => c instanceof LxdPinMismatchError)) return 'pin-mismatch';
  for (const c of chain) {
    if (!(c instanceof Error)) continue;
    const code = (c as { code?: unknown }).code;
    if (c.name === 'TimeoutError' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') return 'timeout';
    if (code === 'UND_ERR_DESTROYED' || code === 'UND_ERR_CLOSED') return 'closed';
    if (typeof code === 'string' && (TLS_CODES.has(code) || code.startsWith('ERR_TLS_') || code.startsWith('ERR_SSL_'))) return 'tls';
  }
  return 'connect';
}

function unavailable(url: string, e: unknown): LxdUnavailableError {
  const reason = unavailableReason(e);
  const detail = e instanceof Error ? e.message : String(e);
  return new LxdUnavailableError(`LXD at ${url} is unavailable (${reason}): ${detail}`, { reason, cause: e });
}

// ---------------------------------------------------------------------------------------------
// TLS

/** Where to reach a node and how to recognise it. At least one of the two pins is required. */
export interface LxdEndpoint {
  /** `https://host:8443`; any path is ignored. */
  url: string;
  /** The node's server certificate (PEM), as pinned at enrolment. */
  serverCertificate?: string;
  /**
   * SHA-256 of the node's server certificate. Without a PEM it is the only pin; with one, the
   * PEM is the only CA and the presented certificate must also have this fingerprint.
   */
  fingerprint?: string;
}

/** Timeouts for one {@link LxdClient}. */
export interface LxdClientOptions {
  /** Deadline for one HTTP request, connect to last byte (default 30 s). */
  requestTimeoutMs?: number;
  /** Default deadline for waiting on a background operation (default 120 s). */
  operationTimeoutMs?: number;
}

/** The TLS options for a websocket (`ws`) to the same node, with the same client certificate and pin. */
export interface LxdWebSocketTls {
  cert: string;
  key: string;
  ca: string;
  checkServerIdentity: (host: string, peer: PeerCertificate) => Error | undefined;
}

type Pin =
  | { kind: 'certificate'; pem: string; fingerprint: string }
  | { kind: 'fingerprint'; fingerprint: string }
  | { kind: 'first-use'; seen: string | null };

const FIRST_USE = Symbol('trust on first use');
type FirstUseEndpoint = { url: string; [FIRST_USE]: true };

function checkPeer(pinned: string, peer: PeerCertificate | undefined): LxdPinMismatchError | undefined {
  const raw = peer?.raw;
  const actual = raw && raw.length > 0 ? sha256Hex(raw) : null;
  return actual === pinned ? undefined : new LxdPinMismatchError(pinned, actual);
}

/**
 * A connector that compares the peer certificate's SHA-256 with the pin after the handshake and
 * before any byte of the request is written. Chain verification is off because LXD certificates
 * are self-signed and we do not have the PEM; the fingerprint comparison is the whole check.
 * `maxCachedSessions: 0`: a resumed TLS session has no peer certificate to compare.
 */
function pinningConnector(identity: ClientIdentity, timeoutMs: number, expected: () => string | null, record: (fp: string) => void): buildConnector.connector {
  const connect = buildConnector({ cert: identity.certificate, key: identity.key, rejectUnauthorized: false, maxCachedSessions: 0, timeout: timeoutMs });
  return (options, callback) => {
    connect(options, (error, socket) => {
      if (error) return callback(error, null);
      const peer = (socket as TLSSocket).getPeerCertificate?.();
      const pinned = expected();
      if (pinned === null) {
        const raw = peer?.raw;
        if (!raw || raw.length === 0) {
          socket.destroy();
          return callback(new LxdPinMismatchError('(first use)', null), null);
        }
        record(sha256Hex(raw));
        return callback(null, socket);
      }
      const mismatch = checkPeer(pinned, peer);
      if (mismatch) {
        socket.destroy();
        return callback(mismatch, null);
      }
      return callback(null, socket);
    });
  };
}

function createDispatcher(pin: Pin, identity: ClientIdentity, connectTimeoutMs: number): Agent {
  const common = { keepAliveTimeout: 4_000, connections: 8 };
  if (pin.kind === 'certificate') {
    // LXD's certificate is self-signed: as the only CA it makes the chain valid; the fingerprint
    // check replaces the host name check (the certificate names "vm", 127.0.0.1, …).
    return new Agent({
      ...common,
      connect: {
        cert: identity.certificate,
        key: identity.key,
        ca: pin.pem,
        maxCachedSessions: 0,
        timeout: connectTimeoutMs,
        checkServerIdentity: (_host: string, peer: PeerCertificate) => checkPeer(pin.fingerprint, peer),
      },
    });
  }
  if (pin.kind === 'fingerprint') {
    return new Agent({ ...common, connect: pinningConnector(identity, connectTimeoutMs, () => pin.fingerprint, () => undefined) });
  }
  // First use: the first certificate seen becomes the pin for every later connection.
  return new Agent({
    ...common,
    connect: pinningConnector(
      identity,
      connectTimeoutMs,
      () => pin.seen,
      (fp) => {
        pin.seen = fp;
      },
    ),
  });
}

// ---------------------------------------------------------------------------------------------
// The client

/** Options for one request. `project` or `allProjects` must be given for project-scoped endpoints. */
export interface LxdRequestOptions {
  project?: string;
  allProjects?: boolean;
  query?: LxdQuery;
  /** Sent as JSON. */
  body?: unknown;
  /** Sent as is (e.g. an image tarball); `headers` should carry its Content-Type. */
  stream?: Readable;
  headers?: Record<string, string>;
  /** Overrides the client's request timeout for this request. */
  timeoutMs?: number;
}

/** What {@link LxdClient.enrol} learnt: the node's certificate and its fingerprint, to store and pin. */
export interface LxdEnrolment {
  serverCertificate: string;
  fingerprint: string;
}

const serverCertificateSchema = z.object({
  auth: z.string(),
  environment: z.object({ certificate: z.string().min(1) }).optional(),
});

const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
const DEFAULT_OPERATION_TIMEOUT_MS = 120_000;
/** Longest single `/wait` call; longer deadlines loop. */
const MAX_WAIT_SECONDS = 60;

/**
 * One LXD node over HTTPS with mutual TLS: Corral's client certificate, the node's server
 * certificate pinned (by PEM, or by fingerprint only before the PEM is known). One per node.
 *
 * Every method throws {@link LxdError} when LXD refuses (status and `error_code` kept) and
 * {@link LxdUnavailableError} when the node cannot be reached, times out or fails the pin.
 */
export class LxdClient {
  /** `https://host:port` of the node. */
  readonly url: string;
  /** The pinned SHA-256 fingerprint of the node's server certificate. */
  readonly fingerprint: string;
  private readonly identity: ClientIdentity;
  private readonly dispatcher: Agent;
  private readonly pin: Pin;
  private readonly requestTimeoutMs: number;
  /** Default deadline for operation waits. */
  readonly operationTimeoutMs: number;
  private serverPem: string | null;

  /**
   * Builds the client; no network traffic yet. Throws unless the URL is `https:` and a pin is
   * given: talking to a node without one would trust whoever answers.
   */
  constructor(endpoint: LxdEndpoint | FirstUseEndpoint, identity: ClientIdentity, options: LxdClientOptions = {}) {
    const url = new URL(endpoint.url);
    if (url.protocol !== 'https:') throw new Error(`LXD is reached over https, not ${url.protocol}`);
    this.url = url.origin;
    this.identity = identity;
    this.requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.operationTimeoutMs = options.operationTimeoutMs ?? DEFAULT_OPERATION_TIMEOUT_MS;
    if (FIRST_USE in endpoint) {
      this.pin = { kind: 'first-use', seen: null };
      this.fingerprint = '';
      this.serverPem = null;
    } else if (endpoint.serverCertificate) {
      const fingerprint = endpoint.fingerprint ? normaliseFingerprint(endpoint.fingerprint) : fingerprintOf(endpoint.serverCertificate);
      this.pin = { kind: 'certificate', pem: endpoint.serverCertificate, fingerprint };
      this.fingerprint = fingerprint;
      this.serverPem = endpoint.serverCertificate;
    } else if (endpoint.fingerprint) {
      this.fingerprint = normaliseFingerprint(endpoint.fingerprint);
      this.pin = { kind: 'fingerprint', fingerprint: this.fingerprint };
      this.serverPem = null;
    } else {
      throw new Error('an LXD endpoint needs the server certificate or its fingerprint to pin');
    }
    this.dispatcher = createDispatcher(this.pin, identity, Math.min(this.requestTimeoutMs, 10_000));
  }

  /**
   * Sends one request and parses the envelope. Does not wait for operations: an `async` reply
   * is returned with its operation (see {@link LxdClient.wait}).
   * @throws LxdError for LXD's refusals and malformed replies; LxdUnavailableError otherwise.
   */
  async request(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: LxdPath, options: LxdRequestOptions = {}): Promise<LxdResponse> {
    const target = this.url + buildRequestTarget(path, options);
    const headers: Record<string, string> = { ...options.headers };
    let body: string | Readable | undefined;
    if (options.stream !== undefined) {
      body = options.stream;
    } else if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] = 'application/json';
    }
    let response: Dispatcher.ResponseData;
    let text: string;
    try {
      response = await request(target, {
        dispatcher: this.dispatcher,
        method,
        headers,
        body,
        signal: AbortSignal.timeout(options.timeoutMs ?? this.requestTimeoutMs),
      });
      text = await response.body.text();
    } catch (e) {
      throw unavailable(this.url, e);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      if (response.statusCode >= 400) throw new LxdError(`LXD answered HTTP ${response.statusCode}: ${text.slice(0, 200)}`, { status: response.statusCode, lxdCode: 0 });
      throw malformed(response.statusCode, 'body is not JSON');
    }
    const etag = response.headers['etag'];
    return parseEnvelope(response.statusCode, json, typeof etag === 'string' ? etag : undefined);
  }

  /**
   * A GET whose answer is a file, not an envelope (e.g. a backup export): resolves once the
   * headers arrived, with the body as a stream that the caller must consume or destroy. The body
   * may take up to `timeoutMs` between chunks (default 10 minutes).
   * @throws LxdError when LXD answers with an error envelope (e.g. 404 for a missing backup);
   *   LxdUnavailableError when the node cannot be reached.
   */
  async download(path: LxdPath, options: { project?: string; timeoutMs?: number } = {}): Promise<{ size: number | null; body: Readable }> {
    const target = this.url + buildRequestTarget(path, options.project === undefined ? {} : { project: options.project });
    let response: Dispatcher.ResponseData;
    try {
      response = await request(target, { dispatcher: this.dispatcher, method: 'GET', headersTimeout: this.requestTimeoutMs, bodyTimeout: options.timeoutMs ?? 600_000 });
    } catch (e) {
      throw unavailable(this.url, e);
    }
    if (response.statusCode !== 200) {
      const text = await response.body.text().catch(() => '');
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        throw new LxdError(`LXD answered HTTP ${response.statusCode}: ${text.slice(0, 200)}`, { status: response.statusCode, lxdCode: 0 });
      }
      parseEnvelope(response.statusCode, json);
      throw malformed(response.statusCode, `expected a file from GET ${path}`);
    }
    const length = Number(response.headers['content-length']);
    return { size: Number.isSafeInteger(length) && length >= 0 ? length : null, body: response.body };
  }

  /**
   * A request that LXD answers synchronously; returns its metadata (and ETag).
   * @throws LxdError, also when LXD unexpectedly started an operation instead.
   */
  async sync(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: LxdPath, options: LxdRequestOptions = {}): Promise<{ metadata: unknown; etag?: string }> {
    const response = await this.request(method, path, options);
    if (response.type !== 'sync') throw malformed(response.httpStatus, `expected a sync reply to ${method} ${path}`);
    return response.etag === undefined ? { metadata: response.metadata } : { metadata: response.metadata, etag: response.etag };
  }

  /**
   * A request that starts a background operation, waited right away (see {@link LxdClient.wait}).
   * @throws LxdError for a synchronous refusal or a failed operation; LxdOperationTimeoutError
   * when the deadline passes first.
   */
  async operation(method: 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: LxdPath, options: LxdRequestOptions & { waitMs?: number } = {}): Promise<OperationOutcome> {
    const response = await this.request(method, path, options);
    if (response.type !== 'async') throw malformed(response.httpStatus, `expected an operation from ${method} ${path}`);
    return this.wait(response.operation, { project: options.project, timeoutMs: options.waitMs });
  }

  /**
   * Waits for an operation with `GET /1.0/operations/{id}/wait?timeout=N`, looping while it is
   * still running, until `timeoutMs` (default: the client's operation timeout) has passed.
   * The wait answers HTTP 200 for failed operations too, so the operation's own `status_code`
   * decides: 200 is returned as `finished`; anything else throws {@link LxdError} with its `err`.
   * A 404 means LXD already dropped the finished operation: returns `gone`; re-read the resource.
   * @throws LxdOperationTimeoutError when the deadline passes with the operation still running.
   */
  async wait(operation: LxdOperation | string, options: { project?: string | undefined; timeoutMs?: number | undefined } = {}): Promise<OperationOutcome> {
    const deadline = Date.now() + (options.timeoutMs ?? this.operationTimeoutMs);
    const id = typeof operation === 'string' ? operation : operation.id;
    let current = typeof operation === 'string' ? null : operation;
    for (;;) {
      if (current && isFinalStatus(current.statusCode)) return settleOperation(current);
      const remainingMs = deadline - Date.now();
      if (remainingMs <= 0) {
        throw new LxdOperationTimeoutError(`operation ${id} still ${current?.status ?? 'running'} at the deadline`, { status: current?.statusCode ?? 103, operationId: id });
      }
      const seconds = Math.min(MAX_WAIT_SECONDS, Math.ceil(remainingMs / 1000));
      try {
        const reply = await this.sync('GET', lxdPath`/1.0/operations/${id}/wait`, {
          ...(options.project === undefined ? {} : { project: options.project }),
          query: { timeout: seconds },
          timeoutMs: seconds * 1000 + this.requestTimeoutMs,
        });
        current = parseOperation(reply.metadata);
      } catch (e) {
        if (isNotFound(e)) return { kind: 'gone', operationId: id };
        throw e;
      }
    }
  }

  /**
   * The node's server certificate (PEM): the pinned one, or, for a client pinned by fingerprint
   * only, read once from `GET /1.0` (`environment.certificate`, visible to trusted clients) over
   * the pinned connection and checked against the fingerprint.
   * @throws LxdError (403) when this client is not trusted by the node.
   */
  async serverCertificate(): Promise<string> {
    if (this.serverPem) return this.serverPem;
    const { metadata } = await this.sync('GET', lxdPath`/1.0`);
    const parsed = serverCertificateSchema.safeParse(metadata);
    if (!parsed.success) throw malformed(200, 'GET /1.0 without auth');
    if (parsed.data.auth !== 'trusted' || !parsed.data.environment) throw new LxdError('this client is not trusted by the LXD node', { status: 403 });
    const pem = parsed.data.environment.certificate;
    const fingerprint = this.pin.kind === 'first-use' ? this.pin.seen : this.fingerprint;
    if (fingerprint === null || fingerprintOf(pem) !== fingerprint) {
      throw new LxdUnavailableError(`LXD at ${this.url} reports a certificate other than the one it presented`, {
        reason: 'pin-mismatch',
        cause: new LxdPinMismatchError(fingerprint ?? '(none)', fingerprintOf(pem)),
      });
    }
    this.serverPem = pem;
    return pem;
  }

  /**
   * TLS options for a `ws` websocket to this node (events, exec, console): the client
   * certificate, the server PEM as the only CA and the fingerprint check. May call
   * {@link LxdClient.serverCertificate} first.
   */
  async webSocketTls(): Promise<LxdWebSocketTls> {
    const ca = await this.serverCertificate();
    // The pin, not the PEM's own hash: a PEM given with a different fingerprint must still fail.
    const pinned = this.pin.kind === 'first-use' ? fingerprintOf(ca) : this.fingerprint;
    return {
      cert: this.identity.certificate,
      key: this.identity.key,
      ca,
      checkServerIdentity: (_host, peer) => checkPeer(pinned, peer),
    };
  }

  /** Closes the connection pool; later requests fail with LxdUnavailableError (`closed`). */
  async close(): Promise<void> {
    await this.dispatcher.close();
  }

  /**
   * Makes `identity` a trusted client of the node at `url` and returns the node's certificate to
   * pin from now on. `secret` is a trust token (`lxc config trust add`, LXD's `certificate_token`
   * extension) or the node's `core.trust_password`.
   *
   * With a token, its `fingerprint` is pinned from the first byte. A password carries no pin,
   * so the first certificate seen is trusted (TOFU) and pinned for the rest of the enrolment.
   * Then `POST /1.0/certificates {"type":"client","password":secret}` (sync; "Client is already
   * trusted" counts as success) and `GET /1.0` as a trusted client, whose
   * `environment.certificate` must be the certificate the connection presented.
   * @throws LxdError (e.g. 403 for a wrong secret); LxdUnavailableError (also a token's pin failing).
   */
  static async enrol(url: string, identity: ClientIdentity, secret: string, options: LxdClientOptions = {}): Promise<LxdEnrolment> {
    const token = decodeTrustToken(secret);
    const client = token ? new LxdClient({ url, fingerprint: token.fingerprint }, identity, options) : new LxdClient({ url, [FIRST_USE]: true }, identity, options);
    try {
      try {
        await client.sync('POST', lxdPath`/1.0/certificates`, { body: { type: 'client', password: secret } });
      } catch (e) {
        if (!(e instanceof LxdError && isConflict(e) && /already trusted/i.test(e.message))) throw e;
      }
      const serverCertificate = await client.serverCertificate();
      return { serverCertificate, fingerprint: fingerprintOf(serverCertificate) };
    } finally {
      await client.close();
    }
  }
}
