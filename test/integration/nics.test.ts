import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { hwaddrOf } from '../../server/containers/nics.operations';
import { Caller, codeOf } from '../support/client';
import { createAccount, createProject, signInAsAdmin, signInAsNewUser, unique } from '../support/factories';
import { FakeGateway } from '../support/fake-gateway';
import { forEachDatabase, startTestServer, type TestServer } from '../support/server';

const ADD = `mutation($i: AddNetworkInterfaceInput!) { addNetworkInterface(input: $i) { id status operation { id action state } } }`;
const REMOVE = `mutation($i: RemoveNetworkInterfaceInput!) { removeNetworkInterface(input: $i) { id status operation { id action state } } }`;

/**
 * Corral's side of adding and removing network interfaces, with LXD replaced by the in-memory
 * fake: bad input, limits, other tenants, replays, concurrency and a node that disagrees. The
 * effect on real nodes is in test/e2e/nics.test.ts.
 */
forEachDatabase((TEST_DB) => {
  describe(`network interfaces, Corral's side (${TEST_DB})`, () => {
    let server: TestServer;
    let fake: FakeGateway;
    let owner: Caller;
    let stranger: Caller;
    let projectId: string;
    let imageId: string;
    let nodeId: string;
    let spareNodeId: string;
    let admin: Caller;
    before(async () => {
      const imageDir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-images-'));
      fs.writeFileSync(path.join(imageDir, 'tiny.tar.gz'), 'stand-in image');
      fake = new FakeGateway();
      server = await startTestServer(TEST_DB, { CORRAL_IMAGE_DIR: imageDir }, { gateway: fake });
      admin = await signInAsAdmin(server.url);
      imageId = (await admin.ok(`{ images { edges { node { id } } } }`)).images.edges[0].node.id;
      const clusterId = (await admin.ok(`mutation { createCluster(input: { name: "main" }) { id } }`)).createCluster.id;
      nodeId = (await admin.ok(`mutation($c: ID!) { addNode(input: { clusterId: $c, name: "n1", url: "https://198.18.0.201:8443", secret: "fake-secret" }) { id } }`, { c: clusterId })).addNode.id;
      spareNodeId = (await admin.ok(`mutation($c: ID!) { addNode(input: { clusterId: $c, name: "n2", url: "https://198.18.0.202:8443", secret: "fake-secret" }) { id } }`, { c: clusterId })).addNode.id;
      const customer = await createAccount(admin, 'CUSTOMER');
      owner = (await signInAsNewUser(admin, customer.id, 'CUSTOMER_OWNER')).caller;
      projectId = (await createProject(owner, customer.id)).id;
      const other = await createAccount(admin, 'CUSTOMER');
      stranger = (await signInAsNewUser(admin, other.id, 'CUSTOMER_OWNER')).caller;
      // Bridges the provider opened to every tenant.
      for (const name of ['tenants', 'net1', 'net2', 'net3', 'net4', 'net5', 'net6', 'net7', 'net8', 'net9']) {
        fake.networks.set(`${nodeId}/${name}`, { name, type: 'bridge', managed: true, attachable: true, project: null });
      }
    });
    const bridgeOf = (id: string) => `crb${id.replaceAll('-', '').slice(-12)}`;
    after(() => server.stop());

    const running = async () => {
      const name = unique('c');
      // On the first node (placing it is the provider's to choose).
      const created = (await admin.ok(`mutation($i: CreateContainerInput!) { createContainer(input: $i) { id operation { id } } }`, { i: { projectId, name, imageId, cpu: 1, memoryMiB: 128, diskMiB: 256, nodeId } })).createContainer;
      await server.services.runner.settled(created.operation.id);
      const key = [...fake.instances.keys()].find((k) => k.endsWith(`/${name}`))!;
      return { id: created.id as string, key, devices: () => fake.nicDevices.get(key) ?? {} };
    };
    /** Runs a mutation and waits for its operation; returns the response. */
    const run = async (doc: string, i: Record<string, unknown>, as = owner) => {
      const res = await as.gql(doc, { i });
      const op = res.data && (Object.values(res.data)[0] as any)?.operation;
      if (op) await server.services.runner.settled(op.id);
      return res;
    };
    const nics = async (id: string) => (await owner.ok(`query($id: ID!) { container(id: $id) { networkInterfaces { name kind network hwaddr } } }`, { id })).container.networkInterfaces;
    const history = async (id: string) => (await owner.ok(`query($id: ID!) { operations(containerId: $id) { edges { node { action state errorCode } } } }`, { id })).operations.edges.map((e: any) => e.node);

    test('added interfaces get the first free ethN, sit on the project’s bridge (or one the provider opened) with a stable MAC, and are listed on the container', async () => {
      const { id, devices } = await running();
      const first = await run(ADD, { containerId: id });
      assert.equal(first.errors, undefined, JSON.stringify(first.errors));
      assert.equal(first.data.addNetworkInterface.operation.action, 'container.addNetworkInterface');
      await run(ADD, { containerId: id, name: 'data0', network: 'tenants' });
      await run(ADD, { containerId: id, network: 'net1' });
      const listed = await nics(id);
      const own = bridgeOf(projectId);
      assert.deepEqual(listed.map((n: any) => [n.name, n.kind, n.network]), [['data0', 'BRIDGED', 'tenants'], ['eth1', 'BRIDGED', own], ['eth2', 'BRIDGED', 'net1']]);
      for (const nic of listed) {
        assert.match(nic.hwaddr, /^00:16:3e(:[0-9a-f]{2}){3}$/);
        assert.deepEqual(devices()[nic.name], { type: 'nic', network: nic.network, name: nic.name, hwaddr: nic.hwaddr });
      }
      assert.deepEqual(fake.networks.get(`${nodeId}/${own}`), { name: own, type: 'bridge', managed: true, attachable: false, project: projectId }, 'the project bridge was created on the node');
      assert.deepEqual((await history(id)).map((o: any) => o.state), ['SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED']);

      const removed = await run(REMOVE, { containerId: id, name: 'eth1' });
      assert.equal(removed.errors, undefined, JSON.stringify(removed.errors));
      assert.deepEqual((await nics(id)).map((n: any) => n.name), ['data0', 'eth2']);
      assert.equal(devices().eth1, undefined);
      // eth1 and the project bridge are free again: the next default takes them.
      await run(ADD, { containerId: id });
      assert.deepEqual((await nics(id)).map((n: any) => n.name), ['data0', 'eth1', 'eth2']);
    });

    test('bad and reserved names, eth0, duplicates, unknown interfaces and closed networks are refused before anything is recorded', async () => {
      const { id, devices } = await running();
      await run(ADD, { containerId: id, name: 'eth1' });
      fake.networks.set(`${nodeId}/mgmt`, { name: 'mgmt', type: 'bridge', managed: true, attachable: false, project: null });
      fake.networks.set(`${nodeId}/uplink`, { name: 'uplink', type: 'physical', managed: false, attachable: true, project: null });
      // Another tenant project's bridge.
      const foreign = 'crb0123456789ab';
      fake.networks.set(`${nodeId}/${foreign}`, { name: foreign, type: 'bridge', managed: true, attachable: false, project: '01a2b3c4-0000-7000-8000-0123456789ab' });
      const before = structuredClone(devices());
      const cases: [string, Record<string, unknown>, string, string | undefined][] = [
        [ADD, { name: '' }, 'BAD_USER_INPUT', 'name'],
        [ADD, { name: '1eth' }, 'BAD_USER_INPUT', 'name'],
        [ADD, { name: 'a'.repeat(16) }, 'BAD_USER_INPUT', 'name'],
        [ADD, { name: 'eth 1' }, 'BAD_USER_INPUT', 'name'],
        [ADD, { name: 'eth:1' }, 'BAD_USER_INPUT', 'name'],
        [ADD, { name: 'eth/1' }, 'BAD_USER_INPUT', 'name'],
        [ADD, { name: 'lo' }, 'BAD_USER_INPUT', 'name'],
        [ADD, { name: 'root' }, 'BAD_USER_INPUT', 'name'],
        [ADD, { name: 'eth0' }, 'BAD_USER_INPUT', 'name'],
        [ADD, { name: 'eth1', network: 'tenants' }, 'CONFLICT', 'name'],
        // LXD allows one NIC of an instance per managed bridge.
        [ADD, {}, 'CONFLICT', 'network'],
        [ADD, { name: 'eth5', network: bridgeOf(projectId) }, 'CONFLICT', 'network'],
        [ADD, { network: foreign }, 'BAD_USER_INPUT', 'network'],
        [ADD, { network: 'mgmt' }, 'BAD_USER_INPUT', 'network'],
        [ADD, { network: 'uplink' }, 'BAD_USER_INPUT', 'network'],
        [ADD, { network: 'nosuch' }, 'BAD_USER_INPUT', 'network'],
        [ADD, { network: 'bad name!' }, 'BAD_USER_INPUT', 'network'],
        [REMOVE, { name: 'eth0' }, 'BAD_USER_INPUT', 'name'],
        [REMOVE, { name: 'eth9' }, 'NOT_FOUND', undefined],
        [REMOVE, { name: 'bad name' }, 'BAD_USER_INPUT', 'name'],
        [ADD, { containerId: '00000000-0000-7000-8000-000000000000' }, 'NOT_FOUND', undefined],
        [REMOVE, { containerId: 'not-an-id', name: 'eth1' }, 'NOT_FOUND', undefined],
      ];
      for (const [doc, i, code, field] of cases) {
        const res = await owner.gql(doc, { i: { containerId: id, ...i } });
        assert.equal(codeOf(res), code, `${JSON.stringify(i)}: ${JSON.stringify(res.errors)}`);
        assert.equal(res.errors?.[0]?.extensions?.field, field, JSON.stringify(i));
      }
      assert.deepEqual(devices(), before);
      assert.deepEqual((await nics(id)).map((n: any) => n.name), ['eth1']);
      assert.deepEqual((await history(id)).map((o: any) => o.action), ['container.addNetworkInterface', 'container.create']);
      // A bridge the provider opened to containers is fine.
      assert.equal((await run(ADD, { containerId: id, network: 'tenants' })).errors, undefined);
      assert.equal(devices().eth2!.network, 'tenants');
    });

    test('a container takes at most 8 added interfaces: the ninth is QUOTA_EXCEEDED and nothing changes', async () => {
      const { id, devices } = await running();
      for (let n = 1; n <= 8; n++) assert.equal((await run(ADD, { containerId: id, network: `net${n}` })).errors, undefined);
      assert.equal((await nics(id)).length, 8);
      const refused = await owner.gql(ADD, { i: { containerId: id, name: 'extra', network: 'net9' } });
      assert.equal(codeOf(refused), 'QUOTA_EXCEEDED', JSON.stringify(refused.errors));
      assert.equal(refused.errors?.[0]?.extensions?.limit, 8);
      assert.equal(Object.keys(devices()).length, 8);
      // Removing one makes room again.
      await run(REMOVE, { containerId: id, name: 'eth3' });
      assert.equal((await run(ADD, { containerId: id, name: 'extra', network: 'net9' })).errors, undefined);
      assert.equal((await nics(id)).length, 8);
    });

    test('another tenant gets NOT_FOUND for both mutations and changes nothing', async () => {
      const { id, devices } = await running();
      await run(ADD, { containerId: id });
      for (const [doc, i] of [[ADD, { containerId: id }], [ADD, { containerId: id, name: 'eth0' }], [REMOVE, { containerId: id, name: 'eth1' }], [REMOVE, { containerId: id, name: 'eth0' }]] as const) {
        const res = await stranger.gql(doc, { i });
        assert.equal(codeOf(res), 'NOT_FOUND', JSON.stringify(res.errors));
        assert.equal(res.data, null);
      }
      assert.deepEqual(Object.keys(devices()), ['eth1']);
      assert.equal((await history(id)).length, 2);
    });

    test('an idempotency key replays the first add and remove and refuses other input', async () => {
      const { id, devices } = await running();
      const key = unique('key');
      const first = await run(ADD, { containerId: id, idempotencyKey: key });
      const again = await owner.gql(ADD, { i: { containerId: id, idempotencyKey: key } });
      assert.equal(again.errors, undefined, JSON.stringify(again.errors));
      assert.equal(again.data.addNetworkInterface.operation.id, first.data.addNetworkInterface.operation.id);
      assert.equal(codeOf(await owner.gql(ADD, { i: { containerId: id, name: 'eth1', idempotencyKey: key } })), 'IDEMPOTENCY_KEY_REUSED');
      assert.deepEqual(Object.keys(devices()), ['eth1']);
      const removeKey = unique('key');
      const removed = await run(REMOVE, { containerId: id, name: 'eth1', idempotencyKey: removeKey });
      // Replayed after the NIC is gone: the first result, not NOT_FOUND.
      const replayed = await owner.gql(REMOVE, { i: { containerId: id, name: 'eth1', idempotencyKey: removeKey } });
      assert.equal(replayed.errors, undefined, JSON.stringify(replayed.errors));
      assert.equal(replayed.data.removeNetworkInterface.operation.id, removed.data.removeNetworkInterface.operation.id);
      assert.deepEqual((await history(id)).map((o: any) => o.action), ['container.removeNetworkInterface', 'container.addNetworkInterface', 'container.create']);
    });

    test('while one interface change runs, another on the same container is OPERATION_IN_PROGRESS', async () => {
      const { id, devices } = await running();
      await run(ADD, { containerId: id });
      let release!: () => void;
      fake.gate = new Promise((resolve) => (release = resolve));
      try {
        const pending = await owner.gql(ADD, { i: { containerId: id, network: 'net1' } });
        assert.equal(pending.errors, undefined);
        for (const [doc, i] of [[ADD, { containerId: id, name: 'other', network: 'net2' }], [REMOVE, { containerId: id, name: 'eth1' }]] as const) {
          assert.equal(codeOf(await owner.gql(doc, { i })), 'OPERATION_IN_PROGRESS');
        }
        assert.equal(codeOf(await owner.gql(`mutation($id: ID!) { setContainerNetworkLimits(id: $id, input: { ingressMbit: 5 }) { id } }`, { id })), 'OPERATION_IN_PROGRESS');
        release();
        await server.services.runner.settled(pending.data.addNetworkInterface.operation.id);
      } finally {
        release();
        fake.gate = null;
      }
      assert.deepEqual(Object.keys(devices()).sort(), ['eth1', 'eth2']);
    });

    test('NIC limits set on the container carry over to an interface added later', async () => {
      const { id, devices } = await running();
      await run(ADD, { containerId: id });
      const limited = await owner.ok(`mutation($id: ID!) { setContainerNetworkLimits(id: $id, input: { ingressMbit: 5, egressMbit: 3 }) { operation { id } } }`, { id });
      await server.services.runner.settled(limited.setContainerNetworkLimits.operation.id);
      assert.equal(devices().eth1!['limits.ingress'], '5Mbit');
      await run(ADD, { containerId: id, network: 'tenants' });
      assert.equal(devices().eth2!['limits.ingress'], '5Mbit');
      assert.equal(devices().eth2!['limits.egress'], '3Mbit');
    });

    test('a cold migration creates the project’s bridge on the target, and fails cleanly (container back on the source) when a bridge it uses is missing there', async () => {
      const { id } = await running();
      await run(ADD, { containerId: id });
      await run(ADD, { containerId: id, network: 'tenants' });
      const migrate = async () => {
        const res = await admin.ok(`mutation($id: ID!, $t: ID!) { migrateContainer(id: $id, targetNodeId: $t) { operation { id } } }`, { id, t: spareNodeId });
        await server.services.runner.settled(res.migrateContainer.operation.id);
        return (await owner.ok(`query($id: ID!) { container(id: $id) { status operation { state errorCode errorMessage } } }`, { id })).container;
      };
      // 'tenants' exists only on the first node.
      const failed = await migrate();
      assert.deepEqual([failed.operation.state, failed.operation.errorCode, failed.status], ['FAILED', 'CONFLICT', 'RUNNING'], JSON.stringify(failed));
      assert.match(failed.operation.errorMessage, /tenants/);
      assert.equal((await server.db.query(`SELECT "nodeId" FROM containers WHERE id = '${id}'`))[0].nodeId, nodeId);
      fake.networks.set(`${spareNodeId}/tenants`, { name: 'tenants', type: 'bridge', managed: true, attachable: true, project: null });
      const moved = await migrate();
      assert.equal(moved.operation.state, 'SUCCEEDED', JSON.stringify(moved));
      assert.equal(fake.networks.get(`${spareNodeId}/${bridgeOf(projectId)}`)?.project, projectId);
      const key = [...fake.nicDevices.keys()].find((k) => k.startsWith(`${spareNodeId}/`) && k.endsWith(`/${[...fake.instances.entries()].find(([k2]) => k2.startsWith(`${spareNodeId}/`))![0].split('/')[2]}`));
      assert.ok(key, 'the devices moved with the container');
      assert.deepEqual(Object.keys(fake.nicDevices.get(key!)!).sort(), ['eth1', 'eth2']);
    });

    test('deleting a container removes its interfaces’ rows with it', async () => {
      const { id } = await running();
      await run(ADD, { containerId: id });
      const count = async () => Number((await server.db.query(`SELECT COUNT(*) AS n FROM container_nics WHERE "containerId" = '${id}'`))[0].n);
      assert.equal(await count(), 1);
      const deleted = await owner.ok(`mutation($id: ID!) { deleteContainer(id: $id) { operation { id } } }`, { id });
      await server.services.runner.settled(deleted.deleteContainer.operation.id);
      assert.equal(await count(), 0);
    });

    test('a device of the same name that Corral did not add fails the operation with CONFLICT and leaves it alone; Corral’s own device (same MAC) counts as added', async () => {
      const { id, key, devices } = await running();
      fake.nicDevices.set(key, { eth1: { type: 'nic', nictype: 'p2p', name: 'eth1' } });
      const res = await run(ADD, { containerId: id });
      assert.equal(res.errors, undefined);
      const [op] = await history(id);
      assert.deepEqual([op.action, op.state, op.errorCode], ['container.addNetworkInterface', 'FAILED', 'CONFLICT']);
      assert.deepEqual(devices().eth1, { type: 'nic', nictype: 'p2p', name: 'eth1' });
      assert.deepEqual(await nics(id), []);

      // A run that stopped after LXD added the device: carried out again, it finds its own MAC and only writes the row.
      fake.nicDevices.delete(key);
      const operationId = (await owner.ok(ADD, { i: { containerId: id } })).addNetworkInterface.operation.id;
      await server.services.runner.settled(operationId);
      const calls: string[] = [];
      const original = fake.nics.attach;
      fake.nics.attach = async (...args) => {
        calls.push(args[3]);
        return original(...args);
      };
      try {
        await server.db.query(`DELETE FROM container_nics WHERE "containerId" = '${id}'`);
        const handler = (server.services.runner as any).handlers['container.addNetworkInterface'];
        const operation = await server.db.query(`SELECT * FROM operations WHERE id = '${operationId}'`);
        const input = typeof operation[0].input === 'string' ? JSON.parse(operation[0].input) : operation[0].input;
        await handler.recover({ ...operation[0], input }, { progress: async () => undefined });
      } finally {
        fake.nics.attach = original;
      }
      assert.deepEqual(calls, []);
      assert.deepEqual((await nics(id)).map((n: any) => [n.name, n.hwaddr]), [['eth1', hwaddrOf(operationId)]]);
    });
  });
});
