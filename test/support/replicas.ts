import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Client } from 'graphql-ws';
import { Redis } from 'ioredis';
import { createTempDatabase, type TempDatabase } from './postgres';
import { spawnCorral, type CorralProcess } from './process';
import { ADMIN_EMAIL, ADMIN_PASSWORD } from './server';

/** The machine's Redis (scripts/system-deps.sh starts it). */
export const REDIS_URL = process.env.CORRAL_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * Several real Corral processes (`node dist/server/main.js`) on one fresh PostgreSQL database and
 * the machine's Redis, with a key and channel prefix of their own so that parallel runs never see
 * each other's events or counters.
 */
export interface Replicas {
  db: TempDatabase;
  prefix: string;
  /** The environment every replica gets (before per-replica overrides). */
  env: Record<string, string>;
  /** Starts one more replica and waits until it listens. */
  start(overrides?: Record<string, string>): Promise<{ process: CorralProcess; url: string }>;
  /** Kills every replica started, drops the database and removes the prefix's keys from Redis. */
  stop(): Promise<void>;
}

export async function startReplicas(env: Record<string, string> = {}): Promise<Replicas> {
  const db = await createTempDatabase('replicas');
  const prefix = `corral-test-${process.pid}-${randomBytes(4).toString('hex')}:`;
  const base = {
    DATABASE_URL: db.url,
    REDIS_URL,
    CORRAL_REDIS_PREFIX: prefix,
    CORRAL_ADMIN_EMAIL: ADMIN_EMAIL,
    CORRAL_ADMIN_PASSWORD: ADMIN_PASSWORD,
    CORRAL_DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'corral-replicas-')),
    ...env,
  };
  const started: CorralProcess[] = [];
  return {
    db,
    prefix,
    env: base,
    async start(overrides = {}) {
      // Each replica its own data directory, as on separate machines.
      const child = spawnCorral({ ...base, CORRAL_DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'corral-replica-')), ...overrides });
      started.push(child);
      return { process: child, url: await child.url() };
    },
    async stop() {
      for (const child of started) {
        if (child.child.exitCode === null && child.child.signalCode === null) {
          child.child.kill('SIGKILL');
          await child.exited;
        }
      }
      await db.drop();
      const redis = new Redis(REDIS_URL);
      try {
        const keys = await redis.keys(`${prefix}*`);
        if (keys.length) await redis.del(...keys);
      } finally {
        redis.disconnect();
      }
    },
  };
}

/** Every event a subscription delivers, collected until `stop()`; errors and close codes kept too. */
export function collect(client: Client, request: { query: string; variables?: Record<string, unknown> }) {
  const events: any[] = [];
  const problems: unknown[] = [];
  let acknowledged = false;
  const offConnected = client.on('connected', () => (acknowledged = true));
  const unsubscribe = client.subscribe(request, {
    next: (value) => (value.errors ? problems.push(value.errors) : events.push(value.data)),
    error: (error) => problems.push(error),
    complete: () => undefined,
  });
  return {
    events,
    problems,
    /** The socket is acknowledged (the subscribe message is then on its way). */
    connected: () => acknowledged,
    async stop() {
      offConnected();
      unsubscribe();
      await client.dispose();
    },
  };
}

/**
 * A TCP proxy in front of Redis that a test can cut (every connection dropped, new ones refused)
 * and restore, to show what a replica does when it loses Redis.
 */
export async function redisProxy(target = REDIS_URL) {
  const { hostname, port } = new URL(target);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(port || 6379), hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => s.destroy());
    }
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  const listen = (p: number) => new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(p, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  await listen(0);
  const proxyPort = (server.address() as net.AddressInfo).port;
  return {
    url: `redis://127.0.0.1:${proxyPort}`,
    async cut() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
    },
    restore: () => listen(proxyPort),
    async close() {
      for (const s of sockets) s.destroy();
      if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
