import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createLogger } from '../../server/app/logger';
import { newId } from '../../server/common/ids';
import { generateLicenceKeyPair, issueLicence } from '../../server/licences/licence-document';
import { drainHandlers, moveKey } from '../../server/nodes/drain.operations';
import { DRAIN } from '../../server/nodes/drain.service';
import { Operation, OperationState } from '../../server/operations/operation.entity';
import { requestHash } from '../../server/operations/operations.service';
import { codeOf } from '../support/client';
import { twoTenants } from '../support/factories';
import { FakeGateway } from '../support/fake-gateway';
import { forEachDatabase, sqlFor, startTestServer, type TestServer } from '../support/server';

const NODE = `id name status operation { id action state progress step errorCode errorMessage }`;
const DRAIN_NODE = `mutation($id: ID!, $k: String) { drainNode(id: $id, idempotencyKey: $k) { ${NODE} } }`;
const UNDRAIN_NODE = `mutation($id: ID!) { undrainNode(id: $id) { ${NODE} } }`;
const MIGRATE = `mutation($id: ID!, $t: ID!, $mode: MigrationMode, $k: String) { migrateContainer(id: $id, targetNodeId: $t, mode: $mode, idempotencyKey: $k) { id operation { id } } }`;
const GiB = 1024 ** 3;

/** Draining a node and push-mode migration against the fake gateway: refusals, concurrency, failures, recovery. */
forEachDatabase((TEST_DB) => {
  describe(`node drain (${TEST_DB})`, () => {
    let server: TestServer;
    let fake: FakeGateway;
    let f: Awaited<ReturnType<typeof twoTenants>>;
    let nodes: Record<string, string>;
    let imageId: string;
    const keys = generateLicenceKeyPair();
    const sql = (text: string) => sqlFor(server)(text);

    before(async () => {
      const imageDir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-images-'));
      fs.writeFileSync(path.join(imageDir, 'tiny.tar.gz'), 'stand-in image');
      fake = new FakeGateway();
      // No background health check: the tests set node capacities and run checks themselves.
      server = await startTestServer(TEST_DB, { CORRAL_IMAGE_DIR: imageDir, CORRAL_LICENCE_PUBLIC_KEY: keys.publicKey, CORRAL_HEALTH_SECONDS: '3600' }, { gateway: fake });
      f = await twoTenants(server.url);
      await f.admin.ok(`mutation($l: String!) { installLicence(licence: $l) { licensee } }`, {
        l: issueLicence({ licensee: 'Drain', maxNodes: 20, maxContainers: 100, expiresAt: '2099-01-01T00:00:00Z' }, keys.privateKey),
      });
      imageId = (await f.admin.ok(`{ images { edges { node { id name } } } }`)).images.edges.find((e: any) => e.node.name === 'tiny').node.id;
      nodes = {};
    });
    after(() => server.stop());

    let clusters = 0;
    /** A fresh cluster of the named nodes, so that each test drains its own. */
    const cluster = async (...names: string[]) => {
      const id = (await f.admin.ok(`mutation($n: String!) { createCluster(input: { name: $n }) { id } }`, { n: `drain-${++clusters}` })).createCluster.id as string;
      for (const name of names) {
        nodes[name] = (await f.admin.ok(`mutation($c: ID!, $n: String!, $u: String!) { addNode(input: { clusterId: $c, name: $n, url: $u, secret: "fake-secret" }) { id } }`, { c: id, n: name, u: `https://198.18.0.${Object.keys(nodes).length + 10}:8443` })).addNode.id;
      }
      return id;
    };
    const create = async (name: string, node: string, clusterId: string, memoryMiB = 64) => {
      const created = (await f.admin.ok(`mutation($i: CreateContainerInput!) { createContainer(input: $i) { id operation { id } } }`, {
        i: { projectId: f.projectA.id, clusterId, nodeId: nodes[node], name, imageId, cpu: 1, memoryMiB, diskMiB: 128 },
      })).createContainer;
      await server.services.runner.settled(created.operation.id);
      return created.id as string;
    };
    const row = async (id: string) => (await server.db.query(sql(`SELECT "nodeId", status FROM containers WHERE id = ?`), [id]))[0];
    const nodeStatus = async (name: string) => (await server.db.query(sql(`SELECT status FROM nodes WHERE id = ?`), [nodes[name]]))[0].status;
    const operationCount = async () => Number((await server.db.query(`SELECT COUNT(*) AS n FROM operations`))[0].n);
    const key = (node: string, name: string) => `${nodes[node]}/corral-${f.projectA.id.replaceAll('-', '')}/${name}`;
    const setNode = (name: string, column: string, value: unknown) => server.db.query(sql(`UPDATE nodes SET "${column}" = ? WHERE id = ?`), [value, nodes[name]]);
    const history = async (containerId: string) =>
      (await f.admin.ok(`query($c: ID) { operations(containerId: $c) { edges { node { action state idempotencyKey } } } }`, { c: containerId })).operations.edges.map((e: any) => e.node);
    /** Waits for the node's drain to finish and returns the node. */
    const drained = async (operationId: string) => {
      await server.services.runner.settled(operationId);
      return (await f.admin.ok(`query($id: ID!) { node(id: $id) { ${NODE} } }`, { id: (await server.db.manager.findOneByOrFail(Operation, { id: operationId })).nodeId })).node;
    };
    /** Holds every fake node call until the returned function is called. */
    const hold = () => {
      let open!: () => void;
      fake.gate = new Promise<void>((resolve) => (open = resolve));
      return () => {
        fake.gate = null;
        open();
      };
    };
    const until = async (what: string, check: () => Promise<boolean>) => {
      for (let i = 0; i < 200; i++) {
        if (await check()) return;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      throw new Error(`gave up waiting for ${what}`);
    };

    test('a tenant, an unknown node, an offline node, and a cluster without another ready node are refused with nothing changed', async () => {
      const clusterId = await cluster('r1', 'r2');
      await create('r-web', 'r1', clusterId);
      const count = await operationCount();
      for (const [who, caller] of [
        ['a customer owner', f.ownerA.caller],
        ["a reseller's admin", f.resellerAdminA.caller],
      ] as const) {
        const res = await caller.gql(DRAIN_NODE, { id: nodes.r1 });
        assert.equal(codeOf(res), 'FORBIDDEN', `${who}: ${JSON.stringify(res.errors)}`);
        assert.equal(codeOf(await caller.gql(UNDRAIN_NODE, { id: nodes.r1 })), 'FORBIDDEN', who);
      }
      for (const id of [randomUUID(), 'nope']) {
        assert.equal(codeOf(await f.admin.gql(DRAIN_NODE, { id })), 'NOT_FOUND');
        assert.equal(codeOf(await f.admin.gql(UNDRAIN_NODE, { id })), 'NOT_FOUND');
      }
      await setNode('r1', 'status', 'OFFLINE');
      assert.equal(codeOf(await f.admin.gql(DRAIN_NODE, { id: nodes.r1 })), 'NODE_UNAVAILABLE');
      await setNode('r1', 'status', 'READY');
      await setNode('r2', 'status', 'OFFLINE');
      const alone = await f.admin.gql(DRAIN_NODE, { id: nodes.r1 });
      assert.equal(codeOf(alone), 'NODE_UNAVAILABLE', JSON.stringify(alone.errors));
      assert.match(alone.errors![0]!.message, /no other node/);
      await setNode('r2', 'status', 'READY');
      assert.equal(await operationCount(), count, 'no operation was recorded');
      assert.deepEqual([await nodeStatus('r1'), await nodeStatus('r2')], ['READY', 'READY']);
    });

    test('no node with room for a container: CAPACITY_EXCEEDED naming it, before anything changes', async () => {
      const clusterId = await cluster('c1', 'c2', 'c3');
      const small = await create('c-small', 'c1', clusterId, 64);
      const big = await create('c-big', 'c1', clusterId, 4096);
      // Each target has room for the small one only: 2 GiB of memory (no overcommit on the memory side is assumed).
      const overcommit = Number((await server.db.query(sql(`SELECT "memoryOvercommit" AS m FROM clusters WHERE id = ?`), [clusterId]))[0].m);
      for (const n of ['c2', 'c3']) await setNode(n, 'memoryBytes', Math.floor((2 * GiB) / overcommit));
      const count = await operationCount();
      const res = await f.admin.gql(DRAIN_NODE, { id: nodes.c1 });
      assert.equal(codeOf(res), 'CAPACITY_EXCEEDED', JSON.stringify(res.errors));
      assert.match(res.errors![0]!.message, /c-big/);
      assert.equal(res.errors![0]!.extensions?.container, 'c-big');
      assert.equal(await nodeStatus('c1'), 'READY', 'the node still takes containers');
      assert.equal(await operationCount(), count);
      assert.deepEqual([(await row(small)).nodeId, (await row(big)).nodeId], [nodes.c1, nodes.c1]);
    });

    test('a drain moves every container one at a time, keeps their state, refuses a second drain and user mutations of the container in flight, and ends in MAINTENANCE', async () => {
      const clusterId = await cluster('d1', 'd2', 'd3');
      const running = await create('d-run', 'd1', clusterId);
      const stopped = await create('d-stop', 'd1', clusterId);
      await server.services.runner.settled((await f.ownerA.caller.ok(`mutation($id: ID!) { stopContainer(id: $id) { operation { id } } }`, { id: stopped })).stopContainer.operation.id);
      const elsewhere = await create('d-else', 'd2', clusterId);

      const open = hold();
      const first = (await f.admin.ok(DRAIN_NODE, { id: nodes.d1, k: 'drain-d1' })).drainNode;
      assert.equal(first.status, 'DRAINING');
      assert.equal(first.operation.action, 'node.drain');
      try {
        await until('the first move to start', async () => (await history(running)).some((o: any) => o.action === 'container.migrate' && o.state === 'RUNNING'));
        // While it runs: a second drain, undrain, a user's mutation of the container being moved, and placement on the node are refused.
        assert.equal(codeOf(await f.admin.gql(DRAIN_NODE, { id: nodes.d1 })), 'OPERATION_IN_PROGRESS');
        assert.equal(codeOf(await f.admin.gql(UNDRAIN_NODE, { id: nodes.d1 })), 'OPERATION_IN_PROGRESS');
        assert.equal(codeOf(await f.ownerA.caller.gql(`mutation($id: ID!) { restartContainer(id: $id) { id } }`, { id: running })), 'OPERATION_IN_PROGRESS');
        assert.equal(codeOf(await f.admin.gql(MIGRATE, { id: running, t: nodes.d3 })), 'OPERATION_IN_PROGRESS');
        assert.equal(codeOf(await f.admin.gql(MIGRATE, { id: elsewhere, t: nodes.d1 })), 'NODE_UNAVAILABLE', 'nothing moves onto a draining node');
        const onNode = await f.admin.gql(`mutation($i: CreateContainerInput!) { createContainer(input: $i) { id } }`, {
          i: { projectId: f.projectA.id, clusterId, nodeId: nodes.d1, name: 'd-new', imageId, cpu: 1, memoryMiB: 64, diskMiB: 128 },
        });
        assert.equal(codeOf(onNode), 'NODE_UNAVAILABLE', JSON.stringify(onNode.errors));
        // The health check leaves a draining node alone.
        await server.services.nodes.checkHealth();
        assert.equal(await nodeStatus('d1'), 'DRAINING');
        const step = (await f.admin.ok(`query($id: ID!) { operation(id: $id) { step } }`, { id: first.operation.id })).operation.step;
        assert.match(step, /^moving d-run \(1 of 2\) to d[23]$/);
      } finally {
        open();
      }
      const done = await drained(first.operation.id);
      assert.deepEqual([done.status, done.operation.state, done.operation.progress], ['MAINTENANCE', 'SUCCEEDED', 100], JSON.stringify(done));

      assert.notEqual((await row(running)).nodeId, nodes.d1);
      assert.equal((await row(running)).status, 'RUNNING');
      assert.notEqual((await row(stopped)).nodeId, nodes.d1);
      assert.equal((await row(stopped)).status, 'STOPPED');
      assert.equal(fake.instances.has(key('d1', 'd-run')) || fake.instances.has(key('d1', 'd-stop')), false, 'nothing is left on the node');
      for (const id of [running, stopped]) {
        const moves = (await history(id)).filter((o: any) => o.action === 'container.migrate');
        assert.equal(moves.length, 1, 'one move per container, in its history');
        assert.equal(moves[0].state, 'SUCCEEDED');
      }
      // Placement skips a node in maintenance, the health check keeps it there, and draining it again changes nothing.
      await server.services.nodes.checkHealth();
      assert.equal(await nodeStatus('d1'), 'MAINTENANCE');
      const res = await f.admin.gql(`mutation($i: CreateContainerInput!) { createContainer(input: $i) { id node { name } operation { id } } }`, {
        i: { projectId: f.projectA.id, clusterId, name: 'd-placed', imageId, cpu: 1, memoryMiB: 64, diskMiB: 128 },
      });
      assert.notEqual(res.data?.createContainer.node.name, 'd1', JSON.stringify(res));
      const count = await operationCount();
      const again = (await f.admin.ok(DRAIN_NODE, { id: nodes.d1 })).drainNode;
      assert.deepEqual([again.status, again.operation.id], ['MAINTENANCE', first.operation.id]);
      assert.equal(await operationCount(), count, 'nothing recorded for a node already drained');
      // The same key replays the first answer.
      assert.equal((await f.admin.ok(DRAIN_NODE, { id: nodes.d1, k: 'drain-d1' })).drainNode.operation.id, first.operation.id);
      assert.equal(codeOf(await f.admin.gql(DRAIN_NODE, { id: nodes.d2, k: 'drain-d1' })), 'IDEMPOTENCY_KEY_REUSED');

      // Back in service: READY, and the health check keeps it so.
      assert.equal((await f.admin.ok(UNDRAIN_NODE, { id: nodes.d1 })).undrainNode.status, 'READY');
      await server.services.nodes.checkHealth();
      assert.equal(await nodeStatus('d1'), 'READY');
      assert.equal((await f.admin.ok(UNDRAIN_NODE, { id: nodes.d1 })).undrainNode.status, 'READY', 'undraining a node in service changes nothing');
    });

    test('an empty node goes straight to MAINTENANCE', async () => {
      await cluster('e1', 'e2');
      const res = (await f.admin.ok(DRAIN_NODE, { id: nodes.e1 })).drainNode;
      const done = await drained(res.operation.id);
      assert.deepEqual([done.status, done.operation.state, done.operation.progress], ['MAINTENANCE', 'SUCCEEDED', 100]);
    });

    test('when room runs out mid-drain: CAPACITY_EXCEEDED naming the container, moved ones stay moved, the node stays DRAINING; a new drain finishes', async () => {
      const clusterId = await cluster('f1', 'f2');
      const a = await create('f-a', 'f1', clusterId);
      const b = await create('f-b', 'f1', clusterId);
      const open = hold();
      const started = (await f.admin.ok(DRAIN_NODE, { id: nodes.f1 })).drainNode;
      try {
        await until('the first move to start', async () => (await history(a)).some((o: any) => o.action === 'container.migrate' && o.state === 'RUNNING'));
        // While f-a moves, f2 loses its disk room for anything more.
        await setNode('f2', 'diskBytes', 129 * 1024 * 1024);
      } finally {
        open();
      }
      const failed = await drained(started.operation.id);
      assert.equal(failed.operation.state, 'FAILED');
      assert.equal(failed.operation.errorCode, 'CAPACITY_EXCEEDED');
      assert.match(failed.operation.errorMessage, /f-b/);
      assert.equal(failed.status, 'DRAINING', 'still not accepting containers');
      assert.deepEqual(await row(a), { nodeId: nodes.f2, status: 'RUNNING' });
      assert.deepEqual(await row(b), { nodeId: nodes.f1, status: 'RUNNING' });
      assert.equal(fake.instances.get(key('f1', 'f-b'))?.status, 'Running', 'the container that did not fit was not touched');
      await server.services.nodes.checkHealth();
      assert.equal(await nodeStatus('f1'), 'DRAINING');
      // checkHealth read the fake's capacity back: there is room again. Draining again finishes the job.
      const again = (await f.admin.ok(DRAIN_NODE, { id: nodes.f1 })).drainNode;
      assert.notEqual(again.operation.id, started.operation.id);
      const done = await drained(again.operation.id);
      assert.deepEqual([done.status, done.operation.state], ['MAINTENANCE', 'SUCCEEDED'], JSON.stringify(done.operation));
      assert.deepEqual(await row(b), { nodeId: nodes.f2, status: 'RUNNING' });
      assert.equal((await history(a)).filter((o: any) => o.action === 'container.migrate').length, 1, 'the container moved before was not moved again');
    });

    test('a move that fails fails the drain with its error; the container is back where it was', async () => {
      const clusterId = await cluster('g1', 'g2');
      const id = await create('g-a', 'g1', clusterId);
      const copy = fake.copyInstance.bind(fake);
      fake.copyInstance = async () => {
        throw Object.assign(new Error('the network broke'), { status: 500 });
      };
      try {
        const started = (await f.admin.ok(DRAIN_NODE, { id: nodes.g1 })).drainNode;
        const failed = await drained(started.operation.id);
        assert.deepEqual([failed.status, failed.operation.state, failed.operation.errorCode], ['DRAINING', 'FAILED', 'LXD_ERROR'], JSON.stringify(failed.operation));
        assert.match(failed.operation.errorMessage, /moving g-a \(1 of 1\) to g2 failed: .*the network broke/);
      } finally {
        fake.copyInstance = copy;
      }
      assert.deepEqual(await row(id), { nodeId: nodes.g1, status: 'RUNNING' });
    });

    test('a drain recovered after a crash follows the move in flight and moves nothing twice', async () => {
      const clusterId = await cluster('h1', 'h2');
      const moved = await create('h-a', 'h1', clusterId);
      const inFlight = await create('h-b', 'h1', clusterId);
      const waiting = await create('h-c', 'h1', clusterId);
      // As a crash would leave it: the node DRAINING, a drain RUNNING whose runner died, h-a moved, h-b's move recorded and running.
      const account = (await server.db.query(sql(`SELECT id, path FROM accounts WHERE kind = 'PROVIDER'`)))[0];
      const drainId = newId();
      await setNode('h1', 'status', 'DRAINING');
      await server.db.manager.insert(Operation, {
        id: drainId,
        accountId: account.id,
        accountPath: account.path,
        containerId: null,
        nodeId: nodes.h1!,
        action: DRAIN,
        state: OperationState.RUNNING,
        progress: 33,
        step: 'moving h-b (2 of 3) to h2',
        idempotencyKey: null,
        requestHash: requestHash(DRAIN, { nodeId: nodes.h1 }),
        input: { nodeId: nodes.h1, total: 3 },
        errorCode: null,
        errorMessage: null,
        actorUserId: null,
        // Held by "another process" so that this process's sweep leaves it to the test.
        leaseOwner: 'dead-runner',
        leaseExpiresAt: new Date(Date.now() + 3_600_000),
        finishedAt: null,
      });
      const move = async (id: string) => (await f.admin.ok(MIGRATE, { id, t: nodes.h2, k: moveKey(drainId, id) })).migrateContainer.operation.id as string;
      await server.services.runner.settled(await move(moved));
      const open = hold();
      const held = await move(inFlight);
      const handler = drainHandlers(server.db, server.services.drains, server.services.operations, () => server.services.runner, createLogger({ logLevel: 'silent' }), 20)[DRAIN]!;
      const steps: string[] = [];
      const recovering = handler.recover(await server.db.manager.findOneByOrFail(Operation, { id: drainId }), { progress: async (_p, text) => void steps.push(text) });
      await new Promise((resolve) => setTimeout(resolve, 200));
      open();
      await recovering;
      await server.services.runner.settled(held);
      assert.equal(await nodeStatus('h1'), 'MAINTENANCE');
      for (const id of [moved, inFlight, waiting]) {
        assert.deepEqual(await row(id), { nodeId: nodes.h2, status: 'RUNNING' });
        assert.equal((await history(id)).filter((o: any) => o.action === 'container.migrate').length, 1, 'moved exactly once');
      }
      assert.ok(steps.includes('moving h-b (2 of 3) to h2'), JSON.stringify(steps));
      assert.ok(steps.includes('moving h-c (3 of 3) to h2'), JSON.stringify(steps));
      assert.equal(steps.some((s) => s.includes('h-a')), false, JSON.stringify(steps));
    });
  });

  describe(`push-mode migration (${TEST_DB})`, () => {
    let server: TestServer;
    let fake: FakeGateway;
    let f: Awaited<ReturnType<typeof twoTenants>>;
    const keys = generateLicenceKeyPair();

    before(async () => {
      const imageDir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-images-'));
      fs.writeFileSync(path.join(imageDir, 'tiny.tar.gz'), 'stand-in image');
      fake = new FakeGateway();
      server = await startTestServer(TEST_DB, { CORRAL_IMAGE_DIR: imageDir, CORRAL_LICENCE_PUBLIC_KEY: keys.publicKey }, { gateway: fake });
      f = await twoTenants(server.url);
      await f.admin.ok(`mutation($l: String!) { installLicence(licence: $l) { licensee } }`, {
        l: issueLicence({ licensee: 'Push', maxNodes: 5, maxContainers: 10, expiresAt: '2099-01-01T00:00:00Z' }, keys.privateKey),
      });
    });
    after(() => server.stop());

    test('the mode reaches the nodes; a call without mode hashes as before modes existed; a key reused with another mode is refused', async () => {
      const clusterId = (await f.admin.ok(`mutation { createCluster(input: { name: "push" }) { id } }`)).createCluster.id;
      const ids: string[] = [];
      for (const [name, ip] of [['p1', '221'], ['p2', '222']]) {
        ids.push((await f.admin.ok(`mutation($c: ID!, $n: String!, $u: String!) { addNode(input: { clusterId: $c, name: $n, url: $u, secret: "fake-secret" }) { id } }`, { c: clusterId, n: name, u: `https://198.18.0.${ip}:8443` })).addNode.id);
      }
      const imageId = (await f.admin.ok(`{ images { edges { node { id name } } } }`)).images.edges.find((e: any) => e.node.name === 'tiny').node.id;
      const created = (await f.admin.ok(`mutation($i: CreateContainerInput!) { createContainer(input: $i) { id operation { id } } }`, {
        i: { projectId: f.projectA.id, clusterId, nodeId: ids[0], name: 'pushed', imageId, cpu: 1, memoryMiB: 64, diskMiB: 128 },
      })).createContainer;
      await server.services.runner.settled(created.operation.id);

      fake.copyModes.length = 0;
      const pushed = (await f.admin.ok(MIGRATE, { id: created.id, t: ids[1], mode: 'PUSH', k: 'push-1' })).migrateContainer;
      await server.services.runner.settled(pushed.operation.id);
      assert.equal((await f.admin.ok(`query($id: ID!) { operation(id: $id) { state } }`, { id: pushed.operation.id })).operation.state, 'SUCCEEDED');
      const pulled = (await f.admin.ok(MIGRATE, { id: created.id, t: ids[0], k: 'pull-1' })).migrateContainer;
      await server.services.runner.settled(pulled.operation.id);
      assert.deepEqual(fake.copyModes, ['PUSH', 'PULL']);

      const hashOf = async (id: string) => (await server.db.query(server.db.options.type === 'postgres' ? `SELECT "requestHash" AS h FROM operations WHERE id = $1` : `SELECT "requestHash" AS h FROM operations WHERE id = ?`, [id]))[0].h;
      assert.equal(await hashOf(pulled.operation.id), requestHash('container.migrate', { id: created.id, targetNodeId: ids[0], live: false }), 'the hash of a call without mode is unchanged');
      // PULL named explicitly is the same request as no mode; PUSH under the same key is another.
      assert.equal((await f.admin.ok(MIGRATE, { id: created.id, t: ids[0], mode: 'PULL', k: 'pull-1' })).migrateContainer.operation.id, pulled.operation.id);
      assert.equal(codeOf(await f.admin.gql(MIGRATE, { id: created.id, t: ids[0], mode: 'PUSH', k: 'pull-1' })), 'IDEMPOTENCY_KEY_REUSED');
      assert.equal(codeOf(await f.admin.gql(MIGRATE, { id: created.id, t: ids[1], k: 'push-1' })), 'IDEMPOTENCY_KEY_REUSED');
      assert.equal(codeOf(await f.admin.gql(MIGRATE, { id: created.id, t: ids[1], mode: 'SIDEWAYS' })), 'BAD_USER_INPUT');
    });
  });
});
