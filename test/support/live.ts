import type { Client } from 'graphql-ws';
import type { GqlError } from './client';

/** One subscription kept open: every event it delivers, and how it ended. */
export interface LiveSubscription {
  readonly events: any[];
  /** When each event arrived (Date.now()), index for index with `events`. */
  readonly arrivals: number[];
  /** Set when the server ended it: `complete`, GraphQL errors, or a close code. */
  ended: { complete?: true; errors?: GqlError[]; closeCode?: number } | null;
  /** Resolves with the first event (from the start) that `match`es, or rejects after `ms`, saying what it saw. */
  until(what: string, match: (data: any) => boolean, ms?: number): Promise<any>;
  /** Resolves once the server ended the subscription, or rejects after `ms`. */
  end(ms?: number): Promise<NonNullable<LiveSubscription['ended']>>;
  /**
   * Calls `poke` (something that makes the server announce an event) every 100 ms until the
   * first event arrives: afterwards the subscription is known to be registered on the server.
   */
  ready(poke: () => unknown, ms?: number): Promise<void>;
  close(): Promise<void>;
}

/** Subscribes with a real graphql-ws client and records everything the server sends. */
export function subscribe(client: Client, request: { query: string; variables?: Record<string, unknown> }): LiveSubscription {
  const waiters = new Set<() => void>();
  const changed = () => waiters.forEach((w) => w());
  const sub: LiveSubscription = {
    events: [],
    arrivals: [],
    ended: null,
    until(what, match, ms = 5000) {
      return wait(ms, () => sub.events.find(match), () => `${what}; got ${JSON.stringify(sub.events)}${sub.ended ? `, ended ${JSON.stringify(sub.ended)}` : ''}`);
    },
    end(ms = 5000) {
      return wait(ms, () => sub.ended ?? undefined, () => `the subscription to end; got ${JSON.stringify(sub.events)}`);
    },
    async ready(poke, ms = 5000) {
      const timer = setInterval(() => void Promise.resolve(poke()).catch(() => undefined), 100);
      try {
        await wait(ms, () => (sub.events.length > 0 || sub.ended ? true : undefined), () => `a first event; ended ${JSON.stringify(sub.ended)}`);
      } finally {
        clearInterval(timer);
      }
    },
    async close() {
      unsubscribe();
      await client.dispose();
    },
  };
  const unsubscribe = client.subscribe(request, {
    next: (value) => {
      if (value.errors) sub.ended = { errors: value.errors as GqlError[] };
      else {
        sub.events.push(value.data);
        sub.arrivals.push(Date.now());
      }
      changed();
    },
    error: (error) => {
      if (Array.isArray(error)) sub.ended = { errors: error as GqlError[] };
      else sub.ended = { closeCode: (error as { code?: number }).code ?? -1 };
      changed();
    },
    complete: () => {
      sub.ended ??= { complete: true };
      changed();
    },
  });
  function wait<T>(ms: number, check: () => T | undefined, describe: () => string): Promise<T> {
    return new Promise((resolve, reject) => {
      const done = () => {
        const value = check();
        if (value === undefined) return;
        clearTimeout(timer);
        waiters.delete(done);
        resolve(value);
      };
      const timer = setTimeout(() => {
        waiters.delete(done);
        reject(new Error(`gave up after ${ms} ms waiting for ${describe()}`));
      }, ms);
      waiters.add(done);
      done();
    });
  }
  return sub;
}
