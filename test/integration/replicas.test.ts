import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { ConfigError, loadConfig } from '../../server/app/config';
import { createDataSource } from '../../server/app/data-source';
import { createLogger } from '../../server/app/logger';
import { pubsubSerializer } from '../../server/app/redis';
import { newId } from '../../server/common/ids';
import { Operation, OperationState } from '../../server/operations/operation.entity';
import { OperationRunner, type OperationHandler } from '../../server/operations/runner';
import { Caller, codeOf } from '../support/client';
import { createAccount, createUser, PASSWORD, signInAsAdmin, unique } from '../support/factories';
import { eventually } from '../support/lab';
import { spawnCorral } from '../support/process';
import { startTestServer, type TestServer } from '../support/server';
import { collect, REDIS_URL, redisProxy, startReplicas, type Replicas } from '../support/replicas';

const AUDIT = { query: `subscription { auditEventCreated { id action targetType targetId actorEmail createdAt } }` };

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('REDIS_URL settings', () => {
  test('REDIS_URL must be a redis URL; without it nothing uses Redis', () => {
    assert.throws(() => loadConfig({ REDIS_URL: 'http://127.0.0.1:6379' }), (e: unknown) => e instanceof ConfigError && /REDIS_URL/.test(e.message));
    assert.equal(loadConfig({}).redis, null);
    assert.deepEqual(loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379', CORRAL_REDIS_PREFIX: 'x:' }).redis, { url: 'redis://127.0.0.1:6379', prefix: 'x:' });
    assert.equal(loadConfig({ REDIS_URL: 'rediss://r.example:6380' }).redis?.prefix, 'corral:');
  });

  test('payloads cross Redis with their Dates intact, and date-like strings stay strings', () => {
    const at = new Date('2026-01-02T03:04:05.678Z');
    const back = pubsubSerializer.parse(pubsubSerializer.stringify({ at, nested: [{ at }], text: at.toISOString(), n: 1, none: null })) as any;
    assert.ok(back.at instanceof Date && back.at.getTime() === at.getTime());
    assert.ok(back.nested[0].at instanceof Date);
    assert.equal(back.text, at.toISOString());
    assert.deepEqual([back.n, back.none], [1, null]);
  });
});

describe('several replicas with REDIS_URL: two real Corral processes, one PostgreSQL, one Redis', () => {
  let replicas: Replicas;
  let a: { url: string; process: import('../support/process').CorralProcess };
  let b: typeof a;
  before(async () => {
    replicas = await startReplicas({ CORRAL_LOGIN_MAX_FAILURES_PER_ACCOUNT: '3' });
    // One after the other: the first runs the migrations.
    a = await replicas.start();
    b = await replicas.start();
  });
  after(() => replicas.stop());

  test('both replicas say they share pubsub through Redis', async () => {
    for (const r of [a, b]) assert.equal(JSON.parse(await r.process.waitFor(/corral is listening/)).pubsub, 'redis');
  });

  test('a mutation on replica A reaches a subscriber on replica B', async () => {
    const adminA = await signInAsAdmin(a.url);
    const adminB = await signInAsAdmin(b.url);
    const sub = collect(adminB.ws(), AUDIT);
    try {
      // B's own events go through Redis too: once one arrives, B's SUBSCRIBE is in place.
      await eventually('the subscription on B to be live', async () => {
        if (!sub.connected()) return false;
        await adminB.ok(`mutation($i: CreateAccountInput!) { createAccount(input: $i) { id } }`, { i: { kind: 'CUSTOMER', name: unique('warm-up') } });
        return sub.events.some((e) => e.auditEventCreated.action === 'account.create');
      }, 15_000);
      const created = (await adminA.ok(`mutation($i: CreateAccountInput!) { createAccount(input: $i) { id } }`, { i: { kind: 'CUSTOMER', name: unique('on-a') } })).createAccount;
      const event = await eventually('the event from A on B', async () => sub.events.map((e) => e.auditEventCreated).find((e) => e.targetId === created.id), 10_000);
      assert.equal(event.action, 'account.create');
      assert.equal(event.targetType, 'account');
      assert.ok(!Number.isNaN(Date.parse(event.createdAt)));
      assert.deepEqual(sub.problems, []);
    } finally {
      await sub.stop();
    }
  });

  test('failed sign-ins count across both replicas, in Redis under the run\'s prefix', async () => {
    const admin = await signInAsAdmin(a.url);
    const account = await createAccount(admin, 'CUSTOMER');
    const { email } = await createUser(admin, account.id, 'CUSTOMER_OWNER');
    const login = (url: string, password: string) =>
      new Caller(url).gql(`mutation($e: String!, $p: String!) { login(email: $e, password: $p) { id } }`, { e: email, p: password });
    // The limit is 3 failures: two on A, one on B. Each replica alone has seen fewer than 3.
    for (const url of [a.url, b.url, a.url]) assert.equal(codeOf(await login(url, 'not the password')), 'UNAUTHENTICATED');
    for (const url of [b.url, a.url]) {
      const refused = await login(url, PASSWORD);
      assert.equal(codeOf(refused), 'RATE_LIMITED', JSON.stringify(refused));
    }
    const redis = new Redis(REDIS_URL);
    try {
      const counted = await redis.get(`${replicas.prefix}login:account:${email}`);
      assert.equal(counted, '3');
    } finally {
      redis.disconnect();
    }
  });

  test('a replica whose Redis goes away keeps serving, logs it, reconnects, and gets events again', async () => {
    const proxy = await redisProxy();
    try {
      const c = await replicas.start({ REDIS_URL: proxy.url });
      const adminA = await signInAsAdmin(a.url);
      const adminC = await signInAsAdmin(c.url);
      const sub = collect(adminC.ws(), AUDIT);
      const createOnA = async () => (await adminA.ok(`mutation($i: CreateAccountInput!) { createAccount(input: $i) { id } }`, { i: { kind: 'CUSTOMER', name: unique('from-a') } })).createAccount.id as string;
      try {
        await eventually('events from A on C', async () => {
          if (!sub.connected()) return false;
          const id = await createOnA();
          await new Promise((resolve) => setTimeout(resolve, 200));
          return sub.events.some((e) => e.auditEventCreated.targetId === id);
        }, 15_000);

        await proxy.cut();
        await c.process.waitFor(/redis connection lost/, 10_000);
        // Still serving: sign-in (counted in memory meanwhile) and a mutation (its event waits or is dropped).
        const stillThere = await signInAsAdmin(c.url);
        await stillThere.ok(`mutation($i: CreateAccountInput!) { createAccount(input: $i) { id } }`, { i: { kind: 'CUSTOMER', name: unique('while-cut') } });

        await proxy.restore();
        await c.process.waitFor(/redis connection restored/, 15_000);
        // The subscription made before the loss is subscribed again on its own.
        const id = await eventually('events from A on C after the reconnection', async () => {
          const created = await createOnA();
          await new Promise((resolve) => setTimeout(resolve, 300));
          return sub.events.some((e) => e.auditEventCreated.targetId === created) ? created : null;
        }, 15_000);
        assert.ok(id);
        assert.equal(c.process.child.exitCode, null, 'the replica is still running');
        assert.doesNotMatch(c.process.output(), /unhandled|uncaught/i);
      } finally {
        await sub.stop();
      }
    } finally {
      await proxy.close();
    }
  });

  test('with REDIS_URL set and Redis unreachable, Corral refuses to start with one clear line', async () => {
    const port = await closedPort();
    const child = spawnCorral({ ...replicas.env, REDIS_URL: `redis://:secret@127.0.0.1:${port}` });
    const code = await child.exited;
    assert.notEqual(code, 0);
    const lines = child.output().trim().split('\n');
    assert.equal(lines.length, 1, child.output());
    assert.match(lines[0]!, new RegExp(`^corral failed to start: Redis is not reachable at redis://:\\*\\*\\*@127\\.0\\.0\\.1:${port}`));
    assert.doesNotMatch(lines[0]!, /secret/);
  });
});

describe('two runners on one PostgreSQL database, as in two replicas, racing for the same operations', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer('postgres');
    // Only the two runners below take work.
    await server.services.runner.stop();
  });
  after(() => server.stop());

  test('each operation kicked on both runners at the same moment runs exactly once', async () => {
    const url = (server.db.options as { url: string }).url;
    const other = createDataSource({ kind: 'postgres', url });
    await other.initialize();
    try {
      const runs: { id: string; runner: string }[] = [];
      const handler = (runner: string): OperationHandler => {
        const work = async (operation: Operation) => {
          runs.push({ id: operation.id, runner });
          await new Promise((resolve) => setTimeout(resolve, 20));
        };
        return { run: work, recover: work };
      };
      const log = createLogger({ logLevel: 'silent' });
      const first = new OperationRunner(server.db, log, 5000, { 'test.count': handler('first') });
      const second = new OperationRunner(other, log, 5000, { 'test.count': handler('second') });
      const [account] = (await server.db.query(`SELECT id, path FROM accounts LIMIT 1`)) as { id: string; path: string }[];
      const ids = Array.from({ length: 30 }, () => newId());
      await server.db.manager.insert(
        Operation,
        ids.map((id) => ({ id, accountId: account!.id, accountPath: account!.path, containerId: null, nodeId: null, action: 'test.count', state: OperationState.PENDING, progress: 0, step: 'queued', idempotencyKey: null, requestHash: 'x', input: {}, errorCode: null, errorMessage: null, actorUserId: null, leaseOwner: null, leaseExpiresAt: null, finishedAt: null })),
      );
      for (const id of ids) {
        first.kick(id);
        second.kick(id);
      }
      await Promise.all(ids.flatMap((id) => [first.settled(id), second.settled(id)]));
      await eventually('every operation to succeed', async () => (await server.db.manager.countBy(Operation, { action: 'test.count', state: OperationState.SUCCEEDED })) === ids.length, 10_000);
      assert.equal(runs.length, ids.length, JSON.stringify(runs));
      assert.deepEqual(new Set(runs.map((r) => r.id)), new Set(ids));
      console.log(`# ${ids.length} operations kicked on both: ${runs.filter((r) => r.runner === 'first').length} ran on the first runner, ${runs.filter((r) => r.runner === 'second').length} on the second`);
      await Promise.all([first.stop(), second.stop()]);
    } finally {
      await other.destroy();
    }
  });
});
