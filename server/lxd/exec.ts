import WebSocket from 'ws';
import { lxdPath, unavailableReason, type LxdClient, type LxdOperation, type LxdWebSocketTls } from './client';
import { LxdError, LxdOperationTimeoutError, LxdUnavailableError } from './errors';

/** What to run with {@link execInstance}. */
export interface ExecOptions {
  /** argv; the first element is looked up in LXD's default PATH. Never put secrets here: LXD publishes it on `/1.0/events`. */
  command: string[];
  /** Sent on fd 0, then EOF. The only channel that LXD does not publish: secrets go here. */
  stdin?: Buffer | string;
  /** Never put secrets here either: LXD publishes the environment on `/1.0/events` too. */
  environment?: Record<string, string>;
  /** Deadline for the whole exec: request, streams and the operation's end. */
  timeoutMs: number;
}

/** How the command ended: its exit code and everything it wrote (decoded as UTF-8). */
export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** The `POST /1.0/instances/{n}/exec` body: non-interactive, with websockets for fds 0, 1 and 2, no recording. */
export function execRequestBody(options: Pick<ExecOptions, 'command' | 'environment'>) {
  if (options.command.length === 0 || options.command[0] === '') throw new Error('exec needs a command');
  return { command: options.command, environment: options.environment ?? {}, 'wait-for-websocket': true, interactive: false, 'record-output': false };
}

/** The websocket secrets of a non-interactive exec operation (`metadata.fds`). Secrets: never log them. */
export interface ExecSecrets {
  stdin: string;
  stdout: string;
  stderr: string;
  control: string | null;
}

/** Reads `metadata.fds` of an exec operation; an LxdError when fds 0, 1 or 2 are missing. */
export function execSecretsOf(operation: LxdOperation): ExecSecrets {
  const fds = operation.metadata['fds'];
  const secret = (key: string) => {
    const value = fds && typeof fds === 'object' ? (fds as Record<string, unknown>)[key] : undefined;
    return typeof value === 'string' && value !== '' ? value : null;
  };
  const [stdin, stdout, stderr] = [secret('0'), secret('1'), secret('2')];
  if (stdin === null || stdout === null || stderr === null) {
    throw new LxdError('unexpected LXD reply to exec: metadata.fds lacks 0, 1 or 2', { status: 200, lxdCode: 0, operationId: operation.id });
  }
  return { stdin, stdout, stderr, control: secret('control') };
}

/** The exit code of a finished exec operation (`metadata.return`). */
export function exitCodeOf(operation: LxdOperation): number {
  const value = operation.metadata['return'];
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new LxdError('unexpected LXD reply to exec: metadata.return is not an exit code', { status: 200, lxdCode: 0, operationId: operation.id });
  }
  return value;
}

/** `wss://…/1.0/operations/{id}/websocket?secret=…`. The secret is the only credential: never log this URL. */
export function operationWebSocketUrl(clientUrl: string, operationId: string, secret: string): string {
  return `${clientUrl.replace(/^https:/, 'wss:')}${lxdPath`/1.0/operations/${operationId}/websocket`}?${new URLSearchParams({ secret }).toString()}`;
}

/**
 * Collects one output stream: binary frames are data; the server ends the stream with an empty
 * text frame (a non-empty text frame is data too, as LXD's own client treats it).
 */
export class OutputCollector {
  private readonly chunks: Buffer[] = [];
  private ended = false;

  /** Takes one frame; returns true once the stream has ended. */
  take(data: Buffer, isBinary: boolean): boolean {
    if (this.ended) return true;
    if (!isBinary && data.length === 0) this.ended = true;
    else this.chunks.push(data);
    return this.ended;
  }

  get done(): boolean {
    return this.ended;
  }

  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

const asBuffer = (data: WebSocket.RawData): Buffer => (Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data));

function connect(url: string, tls: LxdWebSocketTls, clientUrl: string, timeoutMs: number): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    // ws hands these to tls.connect; @types/ws types checkServerIdentity with an older signature.
    const options = { ...tls, handshakeTimeout: Math.max(1, timeoutMs), perMessageDeflate: false } as unknown as WebSocket.ClientOptions;
    const ws = new WebSocket(url, options);
    // Error messages name the node, never the URL: it carries the secret.
    ws.once('open', () => {
      // Later stream errors end the stream (a 'close' follows); they must not be unhandled events.
      ws.on('error', () => undefined);
      resolve(ws);
    });
    ws.once('unexpected-response', (_req, res) => {
      res.resume();
      ws.terminate();
      reject(new LxdUnavailableError(`LXD at ${clientUrl} refused an exec stream: HTTP ${res.statusCode}`, { reason: 'connect' }));
    });
    ws.once('error', (e) => reject(new LxdUnavailableError(`an exec stream to LXD at ${clientUrl} failed: ${e.message.replaceAll(url, '(operation websocket)')}`, { reason: unavailableReason(e) })));
  });
}

/**
 * Runs a command in a running instance and returns its exit code and output:
 * `POST /1.0/instances/{n}/exec` (`wait-for-websocket`, non-interactive), then the websockets for
 * fds 0, 1, 2 and control (authenticated by their secrets only), stdin sent as binary frames and
 * ended by an empty text frame, stdout and stderr read until LXD's empty text frame, and the
 * exit code from the operation's `metadata.return` after waiting it.
 *
 * Security: LXD publishes `command`, `environment` and the fd secrets on `/1.0/events`; stdin is
 * never published. Pass secrets on stdin only.
 *
 * @throws LxdError when LXD refuses (e.g. the instance is not running) or the operation fails;
 * LxdOperationTimeoutError when `timeoutMs` passes first (the process is sent SIGKILL);
 * LxdUnavailableError when the node or a stream cannot be reached.
 */
export async function execInstance(client: LxdClient, project: string, name: string, options: ExecOptions): Promise<ExecResult> {
  const deadline = Date.now() + options.timeoutMs;
  const remaining = () => Math.max(0, deadline - Date.now());
  const response = await client.request('POST', lxdPath`/1.0/instances/${name}/exec`, { project, body: execRequestBody(options), timeoutMs: Math.max(1, remaining()) });
  if (response.type !== 'async') throw new LxdError(`unexpected LXD reply to exec: expected an operation (HTTP ${response.httpStatus})`, { status: response.httpStatus, lxdCode: 0 });
  const operation = response.operation;
  const secrets = execSecretsOf(operation);
  const tls = await client.webSocketTls();

  const sockets: WebSocket[] = [];
  let finished = false;
  let controlSocket: WebSocket | null = null;
  let timer: NodeJS.Timeout | undefined;
  try {
    const open = (secret: string) =>
      connect(operationWebSocketUrl(client.url, operation.id, secret), tls, client.url, remaining()).then((ws) => {
        // A stream that opens after we gave up is closed at once.
        if (finished) ws.terminate();
        else sockets.push(ws);
        return ws;
      });
    const timedOut = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new LxdOperationTimeoutError(`exec of ${options.command[0]} in ${name} did not finish within ${options.timeoutMs} ms`, { status: 103, operationId: operation.id })), remaining());
    });
    timedOut.catch(() => undefined);

    const work = (async () => {
      // The process starts once the required streams are connected; control is optional but lets us signal it.
      const [stdin, stdout, stderr, control] = await Promise.all([
        open(secrets.stdin),
        open(secrets.stdout),
        open(secrets.stderr),
        secrets.control === null ? Promise.resolve(null) : open(secrets.control),
      ]);
      controlSocket = control;
      const collect = (ws: WebSocket) => {
        const collector = new OutputCollector();
        const ended = new Promise<OutputCollector>((resolve) => {
          ws.on('message', (data, isBinary) => {
            if (collector.take(asBuffer(data), isBinary)) resolve(collector);
          });
          // A stream closed without its end frame still ends; the exit code decides.
          ws.once('close', () => resolve(collector));
          ws.once('error', () => resolve(collector));
        });
        return ended;
      };
      const out = collect(stdout);
      const err = collect(stderr);
      const input = options.stdin === undefined ? Buffer.alloc(0) : Buffer.isBuffer(options.stdin) ? options.stdin : Buffer.from(options.stdin, 'utf8');
      if (input.length > 0) stdin.send(input, { binary: true });
      // EOF: an empty text frame ("message barrier" in LXD's log).
      stdin.send('', { binary: false });
      const [outText, errText] = await Promise.all([out, err]);
      const outcome = await client.wait(operation, { project, timeoutMs: Math.max(1, remaining()) });
      if (outcome.kind === 'gone') {
        throw new LxdError('the exec operation ended before its exit code could be read', { status: 200, lxdCode: 0, operationId: operation.id });
      }
      return { exitCode: exitCodeOf(outcome.operation), stdout: outText.text(), stderr: errText.text() };
    })();
    try {
      return await Promise.race([work, timedOut]);
    } catch (error) {
      if (error instanceof LxdOperationTimeoutError) {
        const ctl = controlSocket as WebSocket | null;
        if (ctl && ctl.readyState === WebSocket.OPEN) ctl.send(JSON.stringify({ command: 'signal', signal: 9 }));
      }
      work.catch(() => undefined);
      throw error;
    }
  } finally {
    finished = true;
    clearTimeout(timer);
    for (const ws of sockets) {
      if (ws.readyState === WebSocket.OPEN) ws.close(1000);
      else if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
    }
  }
}

/**
 * The command does not exist in the instance. LXD 5.0.2 fails the exec operation with
 * `Command not found` (the CLI's exit code 127); a shell that cannot find it exits with 127.
 */
export function isCommandNotFound(error: unknown): boolean {
  return error instanceof LxdError && !(error instanceof LxdOperationTimeoutError) && /command not found/i.test(error.message);
}

/** What to run with {@link openInteractiveExec}: a process on a pseudo-terminal of `width`×`height`. */
export interface InteractiveExecOptions {
  /** argv; published on `/1.0/events` like any exec: no secrets. */
  command: string[];
  environment?: Record<string, string>;
  width: number;
  height: number;
  /** Deadline for starting: the request and connecting both streams. The session itself has none. */
  timeoutMs: number;
}

/** The `POST /1.0/instances/{n}/exec` body of an interactive exec: one pty stream (fd 0) plus control. */
export function interactiveExecRequestBody(options: Pick<InteractiveExecOptions, 'command' | 'environment' | 'width' | 'height'>) {
  if (options.command.length === 0 || options.command[0] === '') throw new Error('exec needs a command');
  return {
    command: options.command,
    environment: options.environment ?? {},
    'wait-for-websocket': true,
    interactive: true,
    'record-output': false,
    width: options.width,
    height: options.height,
  };
}

/** A running interactive exec: terminal bytes both ways, resize, and its end. */
export interface InteractiveExec {
  /** Receives the terminal's output; output that arrived before a listener was set is delivered to the first one. */
  onOutput(listener: (data: Buffer) => void): void;
  /** Sends keystrokes (terminal input) to the process. Ignored once it has ended. */
  write(data: Buffer): void;
  /** Resizes the pseudo-terminal (the process gets SIGWINCH). */
  resize(width: number, height: number): void;
  /** Settles once the process has ended and LXD finished the operation: its exit code, or null when LXD did not say. */
  readonly ended: Promise<number | null>;
  /**
   * Ends the process (SIGHUP, then SIGKILL after `graceMs`), closes the streams and waits (bounded)
   * for LXD to finish the operation. Safe to call more than once and after the process ended.
   */
  terminate(graceMs?: number): Promise<number | null>;
}

const SIGHUP = 1;
const SIGKILL = 9;
/** How long to wait for LXD to finish the operation once the streams are closed. */
const FINISH_WAIT_MS = 10_000;

/**
 * Starts `options.command` on a pty in a running instance: `POST /1.0/instances/{n}/exec`
 * (`interactive: true`, `wait-for-websocket`), then the operation's websockets for fd 0 (the pty,
 * binary frames both ways) and control (`window-resize`, `signal`).
 *
 * LXD 5.0.2 protocol (docs/reference LXD-NOTES §17): when the process exits, LXD closes the
 * control websocket; the client must then close the pty websocket, and only then does the
 * operation finish with `metadata.return`.
 *
 * @throws LxdError when LXD refuses (e.g. the instance is not running); LxdUnavailableError when
 * the node or a stream cannot be reached; LxdOperationTimeoutError when starting takes longer than `timeoutMs`.
 */
export async function openInteractiveExec(client: LxdClient, project: string, name: string, options: InteractiveExecOptions): Promise<InteractiveExec> {
  const deadline = Date.now() + options.timeoutMs;
  const remaining = () => Math.max(1, deadline - Date.now());
  const response = await client.request('POST', lxdPath`/1.0/instances/${name}/exec`, { project, body: interactiveExecRequestBody(options), timeoutMs: remaining() });
  if (response.type !== 'async') throw new LxdError(`unexpected LXD reply to exec: expected an operation (HTTP ${response.httpStatus})`, { status: response.httpStatus, lxdCode: 0 });
  const operation = response.operation;
  const fds = operation.metadata['fds'];
  const secret = (key: string) => {
    const value = fds && typeof fds === 'object' ? (fds as Record<string, unknown>)[key] : undefined;
    return typeof value === 'string' && value !== '' ? value : null;
  };
  const [ptySecret, controlSecret] = [secret('0'), secret('control')];
  if (ptySecret === null || controlSecret === null) {
    throw new LxdError('unexpected LXD reply to interactive exec: metadata.fds lacks 0 or control', { status: 200, lxdCode: 0, operationId: operation.id });
  }
  const tls = await client.webSocketTls();
  const open = (s: string) => connect(operationWebSocketUrl(client.url, operation.id, s), tls, client.url, remaining());
  const opened = await Promise.allSettled([open(ptySecret), open(controlSecret)]);
  const failed = opened.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    // LXD is still waiting for its streams: whatever did open is closed, and the process never starts.
    for (const r of opened) if (r.status === 'fulfilled') r.value.terminate();
    throw failed.reason;
  }
  const [pty, control] = opened.map((r) => (r as PromiseFulfilledResult<WebSocket>).value) as [WebSocket, WebSocket];
  return new InteractiveExecSession(client, project, operation, pty, control);
}

class InteractiveExecSession implements InteractiveExec {
  readonly ended: Promise<number | null>;
  private listener: ((data: Buffer) => void) | null = null;
  private pending: Buffer[] = [];
  private finishing = false;
  private resolveEnded!: (code: number | null) => void;

  constructor(
    private readonly client: LxdClient,
    private readonly project: string,
    private readonly operation: LxdOperation,
    private readonly pty: WebSocket,
    private readonly control: WebSocket,
  ) {
    this.ended = new Promise((resolve) => (this.resolveEnded = resolve));
    pty.on('message', (data, isBinary) => {
      const chunk = asBuffer(data);
      // An empty text frame is LXD's end-of-stream barrier, not output.
      if (!isBinary && chunk.length === 0) return;
      if (this.listener) this.listener(chunk);
      else this.pending.push(chunk);
    });
    // The process exited (LXD closes control) or the node went away: close our side and read the exit code.
    control.once('close', () => void this.finish());
    pty.once('close', () => void this.finish());
  }

  onOutput(listener: (data: Buffer) => void): void {
    this.listener = listener;
    const pending = this.pending;
    this.pending = [];
    for (const chunk of pending) listener(chunk);
  }

  write(data: Buffer): void {
    if (!this.finishing && this.pty.readyState === WebSocket.OPEN) this.pty.send(data, { binary: true });
  }

  resize(width: number, height: number): void {
    this.sendControl({ command: 'window-resize', args: { width: String(width), height: String(height) } });
  }

  async terminate(graceMs = 2000): Promise<number | null> {
    if (!this.finishing && this.control.readyState === WebSocket.OPEN) {
      this.sendControl({ command: 'signal', signal: SIGHUP });
      const exited = await Promise.race([this.ended.then(() => true), new Promise<false>((resolve) => setTimeout(() => resolve(false), graceMs).unref())]);
      if (!exited) this.sendControl({ command: 'signal', signal: SIGKILL });
    }
    void this.finish();
    return this.ended;
  }

  private sendControl(message: unknown) {
    if (this.control.readyState === WebSocket.OPEN) this.control.send(JSON.stringify(message));
  }

  private async finish() {
    if (this.finishing) return;
    this.finishing = true;
    for (const ws of [this.pty, this.control]) {
      if (ws.readyState === WebSocket.OPEN) ws.close(1000);
      else if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
    }
    let code: number | null = null;
    try {
      const outcome = await this.client.wait(this.operation, { project: this.project, timeoutMs: FINISH_WAIT_MS });
      if (outcome.kind === 'finished') code = exitCodeOf(outcome.operation);
    } catch {
      // A failed or unreadable operation still ended the session; the caller only needs to know it is over.
    }
    this.resolveEnded(code);
  }
}
