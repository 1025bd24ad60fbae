import WebSocket from 'ws';
import type { Caller } from './client';

/** A browser-like console client: terminal bytes in binary frames, control as JSON text frames. */
export interface ConsoleClient {
  ws: WebSocket;
  /** Every terminal byte received so far, as text. */
  output(): string;
  /** JSON control messages received (`ready`, `exit`, `error`). */
  messages: Record<string, unknown>[];
  /** Resolves once the server says the shell runs; rejects when the socket closes first. */
  ready: Promise<void>;
  closed: Promise<{ code: number; reason: string }>;
  /** Waits until the output (after `from`, an index into output()) matches; bounded. */
  waitFor(pattern: RegExp, ms?: number, from?: number): Promise<RegExpMatchArray>;
  type(text: string): void;
  resize(cols: number, rows: number): void;
}

/**
 * Opens `/console/<id>` as `caller` (its cookie, or its token as `Authorization: Bearer`), or
 * anonymously with `caller` null.
 */
export function openConsole(baseUrl: string, caller: Caller | null, containerId: string, options: { cols?: number; rows?: number; origin?: string; query?: string; rawId?: boolean } = {}): ConsoleClient {
  const query = options.query ?? `cols=${options.cols ?? 80}&rows=${options.rows ?? 24}`;
  const headers: Record<string, string> = {};
  if (caller?.cookie) headers.cookie = caller.cookie;
  if (caller?.token) headers.authorization = `Bearer ${caller.token}`;
  if (options.origin) headers.origin = options.origin;
  const ws = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/console/${options.rawId ? containerId : encodeURIComponent(containerId)}?${query}`, { headers });
  const chunks: Buffer[] = [];
  const messages: Record<string, unknown>[] = [];
  let text = '';
  const watchers = new Set<() => void>();
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString('utf8') })));
  const ready = new Promise<void>((resolve, reject) => {
    ws.on('message', (data, isBinary) => {
      const buffer = Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer);
      if (isBinary) {
        chunks.push(buffer);
        text = Buffer.concat(chunks).toString('utf8');
        for (const w of watchers) w();
        return;
      }
      const message = JSON.parse(buffer.toString('utf8')) as Record<string, unknown>;
      messages.push(message);
      if (message.type === 'ready') resolve();
    });
    void closed.then(({ code, reason }) => reject(new Error(`console closed before ready: ${code} ${reason} ${JSON.stringify(messages)}`)));
  });
  ready.catch(() => undefined);
  ws.on('error', () => undefined);
  return {
    ws,
    output: () => text,
    messages,
    ready,
    closed,
    waitFor(pattern, ms = 10_000, from = 0) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = text.slice(from).match(pattern);
          if (match) {
            watchers.delete(check);
            clearTimeout(timer);
            resolve(match);
          }
        };
        const timer = setTimeout(() => {
          watchers.delete(check);
          reject(new Error(`no ${pattern} in the console within ${ms} ms; it showed: ${JSON.stringify(text.slice(from).slice(-500))}`));
        }, ms);
        watchers.add(check);
        check();
      });
    },
    type: (input) => ws.send(Buffer.from(input, 'utf8'), { binary: true }),
    resize: (cols, rows) => ws.send(JSON.stringify({ type: 'resize', cols, rows })),
  };
}
