import type { Client } from 'graphql-ws';
import type { GqlError } from './client';

export interface SubscriptionOutcome {
  data?: any;
  errors?: GqlError[];
  closeCode?: number;
}

/**
 * Subscribes and resolves with the first thing that happens: an event, GraphQL errors, or the
 * socket closing. `whenReady` runs once the server acknowledged the connection, to cause an event.
 * Bounded: a subscription that neither errors nor delivers within `ms` rejects.
 */
export function firstOutcome(client: Client, request: { query: string; variables?: Record<string, unknown> }, ms = 5000, whenReady?: () => Promise<unknown>): Promise<SubscriptionOutcome> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      dispose();
      reject(new Error(`no subscription outcome within ${ms} ms`));
    }, ms);
    const finish = (outcome: SubscriptionOutcome) => {
      clearTimeout(timer);
      dispose();
      resolve(outcome);
    };
    const offConnected = client.on('connected', () => {
      // The subscribe message is sent right after the acknowledgement; a round trip later it is registered.
      if (whenReady) setImmediate(() => void whenReady().catch(reject));
    });
    const unsubscribe = client.subscribe(request, {
      next: (value) => finish(value.errors ? { errors: value.errors as GqlError[] } : { data: value.data }),
      error: (error) => {
        if (Array.isArray(error)) finish({ errors: error as GqlError[] });
        else if (error && typeof (error as { code?: unknown }).code === 'number') finish({ closeCode: (error as { code: number }).code });
        else reject(error);
      },
      complete: () => undefined,
    });
    function dispose() {
      offConnected();
      unsubscribe();
      void client.dispose();
    }
  });
}
