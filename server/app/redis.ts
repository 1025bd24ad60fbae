import { createRedisEventTarget } from '@graphql-yoga/redis-event-target';
import { Redis } from 'ioredis';
import type { Logger } from './logger';

/**
 * Corral's link to Redis when REDIS_URL is set: one connection for commands and publishing, one
 * for subscribing (a subscribed connection can do nothing else). Both reconnect on their own
 * (ioredis retries with backoff and subscribes again); a loss is logged, never fatal.
 */
export interface RedisLink {
  /** Commands and PUBLISH; the login rate limiters keep their counters here. */
  commands: Redis;
  subscriber: Redis;
  /** Put before every key and channel, so that several Corral installations (or test runs) share one Redis. */
  prefix: string;
  close(): Promise<void>;
}

export class RedisUnavailableError extends Error {}

/** The URL without its password, for messages. */
export function redactedRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'an unparseable URL';
  }
}

const CONNECT_TIMEOUT_MS = 5000;

/**
 * Checks that Redis answers (once, no retries: a replica that cannot reach it must not start and
 * then quietly keep its events to itself), then opens the long-lived connections.
 */
export async function connectRedis(settings: { url: string; prefix: string }, log: Logger): Promise<RedisLink> {
  const where = redactedRedisUrl(settings.url);
  const probe = new Redis(settings.url, { lazyConnect: true, connectTimeout: CONNECT_TIMEOUT_MS, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    await probe.ping();
  } catch (error) {
    throw new RedisUnavailableError(`Redis is not reachable at ${where} (${(error as Error).message || 'connection failed'})`, { cause: error });
  } finally {
    probe.disconnect();
  }

  // The subscriber waits for Redis however long it takes (a SUBSCRIBE must not be dropped); a
  // command gives up after a few reconnection attempts, and its caller handles the failure.
  let closing: Promise<void> | undefined;
  const open = (role: string, maxRetriesPerRequest: number | null) => {
    const client = new Redis(settings.url, { connectTimeout: CONNECT_TIMEOUT_MS, lazyConnect: true, maxRetriesPerRequest, retryStrategy: (attempt) => Math.min(attempt * 200, 2000) });
    let lost = false;
    client.on('error', (error: Error) => log.warn({ redis: role, err: { message: error.message } }, 'redis error'));
    client.on('close', () => {
      if (lost || closing) return;
      lost = true;
      log.warn({ redis: role, url: where }, 'redis connection lost; reconnecting');
    });
    client.on('ready', () => {
      if (!lost) return;
      lost = false;
      log.info({ redis: role, url: where }, 'redis connection restored');
    });
    return client;
  };
  const commands = open('commands', 5);
  const subscriber = open('subscriber', null);
  try {
    await Promise.all([commands.connect(), subscriber.connect()]);
  } catch (error) {
    commands.disconnect();
    subscriber.disconnect();
    throw new RedisUnavailableError(`Redis is not reachable at ${where} (${(error as Error).message})`, { cause: error });
  }
  log.info({ url: where, prefix: settings.prefix }, 'redis connected: pubsub and login limits are shared');
  return {
    commands,
    subscriber,
    prefix: settings.prefix,
    close: () =>
      (closing ??= (async () => {
        await Promise.allSettled([commands.quit(), subscriber.quit()]);
        commands.disconnect();
        subscriber.disconnect();
      })()),
  };
}

/**
 * Payloads travel as JSON; Dates are tagged on the way out and revived on the way in so that a
 * subscriber on another replica sees the same values as one in the publishing process.
 */
const DATE_TAG = '$corralDate';
export const pubsubSerializer = {
  stringify(value: unknown): string {
    return JSON.stringify(value, function (this: Record<string, unknown>, key, v: unknown) {
      const original = this[key];
      return original instanceof Date ? { [DATE_TAG]: original.toISOString() } : v;
    });
  },
  parse(text: string): unknown {
    return JSON.parse(text, (_key, v: unknown) => {
      if (v && typeof v === 'object' && !Array.isArray(v)) {
        const keys = Object.keys(v);
        const tagged = (v as Record<string, unknown>)[DATE_TAG];
        if (keys.length === 1 && typeof tagged === 'string') return new Date(tagged);
      }
      return v;
    });
  },
};

/**
 * The event target for @graphql-yoga/subscription's createPubSub: the stock Redis one, given
 * connections that put the prefix on channel names and never let a failed PUBLISH or SUBSCRIBE
 * become an unhandled rejection (which would end the process while Redis is away).
 */
export function redisEventTarget(link: RedisLink, log: Logger) {
  const channelPrefix = `${link.prefix}pubsub:`;
  const logFailure = (what: string, channel: string) => (error: unknown) => log.warn({ err: { message: (error as Error).message }, channel }, `redis ${what} failed`);
  const publishClient = {
    publish: (channel: string, message: string) => link.commands.publish(channelPrefix + channel, message).catch(logFailure('publish', channel)),
  };
  const subscribeClient = {
    on(event: 'message', listener: (channel: string, message: string) => void) {
      link.subscriber.on(event, (channel: string, message: string) => {
        if (channel.startsWith(channelPrefix)) listener(channel.slice(channelPrefix.length), message);
      });
      return subscribeClient;
    },
    subscribe: (channel: string) => link.subscriber.subscribe(channelPrefix + channel).catch(logFailure('subscribe', channel)),
    unsubscribe: (channel: string) => link.subscriber.unsubscribe(channelPrefix + channel).catch(logFailure('unsubscribe', channel)),
  };
  return createRedisEventTarget({
    publishClient: publishClient as unknown as Redis,
    subscribeClient: subscribeClient as unknown as Redis,
    serializer: pubsubSerializer,
  });
}
