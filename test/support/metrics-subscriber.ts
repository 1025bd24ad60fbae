import type { Client } from 'graphql-ws';
import type { GqlError } from './client';
import type { CorralPubSub } from '../../server/app/pubsub';
import { MetricsTopics } from '../../server/metrics/metrics.topics';

/** A probe sample: published straight to the pubsub to learn when a subscription is attached; never a real sample (negative CPU). */
const PROBE_CPU = -1;

/**
 * A `containerMetrics` subscription that keeps every event. `attached` resolves once a probe
 * published to the pubsub came through, so that what is published afterwards reaches it (the
 * subscription checks access in the database before it attaches).
 */
export function metricsSubscriber(client: Client, containerId: string, fields = 'containerId at cpuPercent memoryBytes diskBytes rxBytesPerSecond txBytesPerSecond') {
  const events: any[] = [];
  const errors: GqlError[][] = [];
  let probed = false;
  let closeCode: number | undefined;
  const unsubscribe = client.subscribe(
    { query: `subscription($id: ID!) { containerMetrics(containerId: $id) { ${fields} } }`, variables: { id: containerId } },
    {
      next: (value) => {
        if (value.errors) errors.push(value.errors as GqlError[]);
        const sample = (value.data as any)?.containerMetrics;
        if (!sample) return;
        if (sample.cpuPercent === PROBE_CPU) probed = true;
        else events.push(sample);
      },
      error: (error) => {
        if (Array.isArray(error)) errors.push(error as GqlError[]);
        else closeCode = (error as { code?: number }).code;
      },
      complete: () => undefined,
    },
  );
  const waitFor = async <T>(what: string, check: () => T | undefined, ms: number): Promise<T> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const value = check();
      if (value !== undefined) return value;
      if (errors.length) throw new Error(`subscription errors: ${JSON.stringify(errors)}`);
      if (closeCode !== undefined) throw new Error(`subscription closed with ${closeCode}`);
      if (Date.now() > deadline) throw new Error(`no ${what} within ${ms} ms`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  return {
    events,
    errors,
    /** Publishes probes until one arrives (bounded). */
    async attached(pubsub: CorralPubSub, ms = 5000) {
      const timer = setInterval(() => pubsub.publish(MetricsTopics.sampled, containerId, { containerId, at: Date.now(), cpuPercent: PROBE_CPU, memoryBytes: 0, diskBytes: null, rxBytesPerSecond: 0, txBytesPerSecond: 0 }), 20);
      try {
        await waitFor('probe', () => (probed ? true : undefined), ms);
      } finally {
        clearInterval(timer);
      }
    },
    /** The `n`-th real event (1-based), waiting for it at most `ms`. */
    nth(n: number, ms = 5000) {
      return waitFor(`event #${n}`, () => events[n - 1], ms);
    },
    /** The first real event that satisfies `test`, waiting at most `ms`. */
    find(test: (event: any) => boolean, ms = 30_000) {
      return waitFor('matching event', () => events.find(test), ms);
    },
    /** The first error or close code, waiting at most `ms`. */
    async refusal(ms = 5000): Promise<{ code?: string; closeCode?: number }> {
      return waitFor('refusal', () => (errors.length ? { code: errors[0]![0]?.extensions?.code } : closeCode !== undefined ? { closeCode } : undefined), ms);
    },
    dispose() {
      unsubscribe();
      void client.dispose();
    },
  };
}
