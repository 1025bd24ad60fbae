import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { generateLicenceKeyPair, issueLicence } from '../../server/licences/licence-document';
import { routedHostName } from '../../server/network/routed-nic';
import { Caller, codeOf } from '../support/client';
import { createAccount, createProject, signInAsAdmin, signInAsNewUser, unique } from '../support/factories';
import { FakeGateway } from '../support/fake-gateway';
import { forEachDatabase, startTestServer, type TestServer } from '../support/server';

const ADD = `mutation($i: AddContainerAddressInput!) { addContainerAddress(input: $i) { id operation { id action state } addresses { family address } } }`;
const REMOVE = `mutation($i: RemoveContainerAddressInput!) { removeContainerAddress(input: $i) { id operation { id action state } } }`;
const CREATE = `mutation($i: CreateContainerInput!) { createContainer(input: $i) { id operation { id } } }`;

/**
 * Corral's side of container addresses, with LXD replaced by the in-memory fake: allocation,
 * each typed refusal (nothing changed: no row, no operation, no node call), the routed eth0 it
 * asks the node for, release on removal and delete, clones without addresses, and the
 * network-changed hook. The packets are in test/e2e/addresses.test.ts.
 */
forEachDatabase((TEST_DB) => {
  describe(`container addresses, Corral's side (${TEST_DB})`, () => {
    let server: TestServer;
    let fake: FakeGateway;
    let admin: Caller;
    let owner: Caller;
    let projectId: string;
    let imageId: string;
    let clusterId: string;
    let nodeId: string;
    let spareNodeId: string;
    let tinyClusterId: string;
    const hookCalls: string[] = [];
    before(async () => {
      const imageDir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-images-'));
      fs.writeFileSync(path.join(imageDir, 'tiny.tar.gz'), 'stand-in image');
      fake = new FakeGateway();
      const keys = generateLicenceKeyPair();
      server = await startTestServer(TEST_DB, { CORRAL_IMAGE_DIR: imageDir, CORRAL_LICENCE_PUBLIC_KEY: keys.publicKey }, { gateway: fake });
      admin = await signInAsAdmin(server.url);
      // Three nodes (two clusters) and some fifty containers: beyond the free tier.
      await admin.ok(`mutation($l: String!) { installLicence(licence: $l) { licensee } }`, {
        l: issueLicence({ licensee: 'Addresses', maxNodes: 5, maxContainers: 100, expiresAt: '2099-01-01T00:00:00Z' }, keys.privateKey),
      });
      imageId = (await admin.ok(`{ images { edges { node { id } } } }`)).images.edges[0].node.id;
      const addNode = async (c: string, name: string, host: string) =>
        (await admin.ok(`mutation($c: ID!, $n: String!, $u: String!) { addNode(input: { clusterId: $c, name: $n, url: $u, secret: "fake-secret" }) { id } }`, { c, n: name, u: `https://${host}:8443` })).addNode.id as string;
      clusterId = (await admin.ok(`mutation { createCluster(input: { name: "main" }) { id } }`)).createCluster.id;
      nodeId = await addNode(clusterId, 'n1', '198.18.0.201');
      spareNodeId = await addNode(clusterId, 'n2', '198.18.0.202');
      const pool = (c: string, name: string, cidr: string) => admin.ok(`mutation($c: ID!, $n: String!, $b: String!) { createIpPool(input: { clusterId: $c, name: $n, cidr: $b }) { id } }`, { c, n: name, b: cidr });
      await pool(clusterId, 'v4', '198.51.100.0/26');
      await pool(clusterId, 'v6', '2001:db8::/64');
      // Another cluster's pool: its addresses are outside the main cluster.
      const otherClusterId = (await admin.ok(`mutation { createCluster(input: { name: "other" }) { id } }`)).createCluster.id;
      await pool(otherClusterId, 'v4', '198.51.100.64/28');
      // A cluster whose only pool has two addresses, for exhaustion.
      tinyClusterId = (await admin.ok(`mutation { createCluster(input: { name: "tiny" }) { id } }`)).createCluster.id;
      await addNode(tinyClusterId, 't1', '198.18.0.203');
      await pool(tinyClusterId, 'small', '198.51.100.128/30');
      const customer = await createAccount(admin, 'CUSTOMER');
      owner = (await signInAsNewUser(admin, customer.id, 'CUSTOMER_OWNER')).caller;
      projectId = (await createProject(owner, customer.id)).id;
      server.services.containerAddresses.onNetworkChanged = (id) => void hookCalls.push(id);
    });
    after(() => server.stop());

    const create = async (addresses: unknown[] = [], extra: Record<string, unknown> = {}) => {
      const name = unique('c');
      const res = await admin.gql(CREATE, { i: { projectId, name, imageId, cpu: 1, memoryMiB: 64, diskMiB: 128, clusterId, nodeId, addresses, ...extra } });
      if (res.errors) return { res, id: '', key: '', name };
      await server.services.runner.settled(res.data.createContainer.operation.id);
      const key = [...fake.instances.keys()].find((k) => k.endsWith(`/${name}`))!;
      return { res, id: res.data.createContainer.id as string, key, name };
    };
    const run = async (doc: string, i: Record<string, unknown>, as = owner) => {
      const res = await as.gql(doc, { i });
      const op = res.data && (Object.values(res.data)[0] as any)?.operation;
      if (op) await server.services.runner.settled(op.id);
      return res;
    };
    const addressesOf = async (id: string) => (await owner.ok(`query($id: ID!) { container(id: $id) { addresses { family address } } }`, { id })).container.addresses as { family: number; address: string }[];
    const lastOperation = async (id: string) => (await owner.ok(`query($id: ID!) { operations(containerId: $id) { edges { node { action state errorCode } } } }`, { id })).operations.edges.map((e: any) => e.node)[0];
    const count = async (table: string) => Number((await server.db.query(`SELECT COUNT(*) AS n FROM ${table}`))[0].n);
    /** Everything a refusal must leave alone: address rows, containers, operations and calls to the node. */
    const state = async () => ({ addresses: await count('ip_addresses'), containers: await count('containers'), operations: await count('operations'), nodeCalls: fake.addressChanges.length, instances: fake.instances.size });

    test('a container created with addresses gets the lowest free ones on a routed eth0 with a fixed host-side name and host table 100, and cloud-init leaves eth0 alone', async () => {
      const { id, key, res } = await create([{ family: 'IPV4' }, { family: 'IPV6' }]);
      assert.equal(res.errors, undefined, JSON.stringify(res.errors));
      const addresses = await addressesOf(id);
      assert.deepEqual(addresses.map((a) => a.family), [4, 6]);
      const eth0 = fake.nicDevices.get(key)?.eth0;
      assert.deepEqual(eth0, {
        type: 'nic',
        nictype: 'routed',
        name: 'eth0',
        host_name: routedHostName(id),
        'ipv4.address': addresses[0]!.address,
        'ipv4.host_table': '100',
        'ipv6.address': addresses[1]!.address,
        'ipv6.host_table': '100',
      });
      assert.ok(routedHostName(id).length <= 15 && routedHostName(id).startsWith('cr'));
      assert.equal(fake.configs.get(key)?.config['cloud-init.network-config'], 'config: disabled\n');
      assert.ok(hookCalls.includes(nodeId), 'the create told the hook');
    });

    test('a container created without addresses has no eth0', async () => {
      const { id, key } = await create();
      assert.deepEqual(await addressesOf(id), []);
      assert.equal(fake.nicDevices.get(key)?.eth0, undefined);
    });

    test('adding to a running container allocates at once, sets eth0 live and tells the hook; removing takes it off and releases it; the last one takes eth0 away', async () => {
      const { id, key } = await create([{ family: 'IPV4' }]);
      const [first] = await addressesOf(id);
      hookCalls.length = 0;
      const added = await run(ADD, { containerId: id, family: 'IPV6', address: '2001:db8::abcd' });
      assert.equal(added.errors, undefined, JSON.stringify(added.errors));
      assert.equal(added.data.addContainerAddress.operation.action, 'container.addAddress');
      assert.ok(added.data.addContainerAddress.addresses.some((a: any) => a.address === '2001:db8::abcd'), 'allocated before the answer');
      assert.equal((await lastOperation(id)).state, 'SUCCEEDED');
      assert.equal(fake.nicDevices.get(key)?.eth0?.['ipv6.address'], '2001:db8::abcd');
      assert.equal(fake.addressChanges.at(-1)?.live, 'configured');
      assert.deepEqual(hookCalls, [nodeId]);

      // Any spelling of the address names it.
      const removed = await run(REMOVE, { containerId: id, address: '2001:0db8:0:0::abcd' });
      assert.equal(removed.errors, undefined, JSON.stringify(removed.errors));
      assert.deepEqual(await addressesOf(id), [first]);
      assert.equal(fake.nicDevices.get(key)?.eth0?.['ipv6.address'], undefined);
      assert.equal(fake.nicDevices.get(key)?.eth0?.['ipv4.address'], first!.address);
      await run(REMOVE, { containerId: id, address: first!.address });
      assert.deepEqual(await addressesOf(id), []);
      assert.equal(fake.nicDevices.get(key)?.eth0, undefined);
      assert.equal(hookCalls.length, 3);
    });

    test('a hook that throws does not fail the operation', async () => {
      const { id } = await create();
      server.services.containerAddresses.onNetworkChanged = () => {
        throw new Error('firewall down');
      };
      try {
        const res = await run(ADD, { containerId: id, family: 'IPV4' });
        assert.equal(res.errors, undefined);
        assert.equal((await lastOperation(id)).state, 'SUCCEEDED');
      } finally {
        server.services.containerAddresses.onNetworkChanged = (n) => void hookCalls.push(n);
      }
    });

    test('bad requests are typed errors and change nothing: no row, no operation, no call to the node', async () => {
      const { id: holder } = await create([{ family: 'IPV4', address: '198.51.100.40' }]);
      const { id } = await create();
      const cases: [Record<string, unknown>, string][] = [
        [{ family: 'IPV4', address: '198.51.100.70' }, 'ADDRESS_OUTSIDE_CLUSTER'], // another cluster's pool
        [{ family: 'IPV4', address: '198.51.100.200' }, 'ADDRESS_OUTSIDE_CLUSTER'], // no pool at all
        [{ family: 'IPV6', address: '2001:db8:1::1' }, 'ADDRESS_OUTSIDE_CLUSTER'],
        [{ family: 'IPV4', address: '198.51.100.40' }, 'ADDRESS_IN_USE'],
        [{ family: 'IPV4', address: 'not-an-address' }, 'BAD_USER_INPUT'],
        [{ family: 'IPV4', address: '2001:db8::5' }, 'BAD_USER_INPUT'], // family mismatch
        [{ family: 'IPV4', address: '198.51.100.0' }, 'BAD_USER_INPUT'], // the network address: in the block, never handed out
      ];
      for (const [request, code] of cases) {
        const before = await state();
        const res = await owner.gql(ADD, { i: { containerId: id, ...request } });
        assert.equal(codeOf(res), code, `${JSON.stringify(request)}: ${JSON.stringify(res.errors)}`);
        assert.equal(res.data, null);
        assert.deepEqual(await state(), before, `${JSON.stringify(request)} changed something`);
      }
      assert.equal((await addressesOf(holder)).length, 1);
      const before = await state();
      const missing = await owner.gql(REMOVE, { i: { containerId: id, address: '198.51.100.40' } });
      assert.equal(codeOf(missing), 'NOT_FOUND', 'another container’s address is not this one’s to remove');
      assert.deepEqual(await state(), before);
    });

    test('a create that asks for a bad address creates nothing', async () => {
      for (const [addresses, code] of [
        [[{ family: 'IPV4' }, { family: 'IPV4', address: '198.51.100.70' }], 'ADDRESS_OUTSIDE_CLUSTER'],
        [[{ family: 'IPV6', address: '2001:db8::77' }, { family: 'IPV6', address: '2001:db8::77' }], 'ADDRESS_IN_USE'],
      ] as const) {
        const before = await state();
        const { res } = await create([...addresses]);
        assert.equal(codeOf(res), code, JSON.stringify(res.errors));
        assert.deepEqual(await state(), before);
      }
      const before = await state();
      const { res } = await create(Array.from({ length: 9 }, () => ({ family: 'IPV6' })));
      assert.equal(codeOf(res), 'BAD_USER_INPUT', 'at most 8 at create');
      assert.deepEqual(await state(), before);
    });

    test('every pool of the family full is POOL_EXHAUSTED, and a family without a pool too', async () => {
      const { id, res } = await create([{ family: 'IPV4' }, { family: 'IPV4' }], { clusterId: tinyClusterId, nodeId: undefined });
      assert.equal(res.errors, undefined, JSON.stringify(res.errors));
      for (const family of ['IPV4', 'IPV6']) {
        const before = await state();
        const refused = await owner.gql(ADD, { i: { containerId: id, family } });
        assert.equal(codeOf(refused), 'POOL_EXHAUSTED', JSON.stringify(refused.errors));
        assert.deepEqual(await state(), before);
      }
      const before = await state();
      const atCreate = await create([{ family: 'IPV4' }], { clusterId: tinyClusterId, nodeId: undefined });
      assert.equal(codeOf(atCreate.res), 'POOL_EXHAUSTED');
      assert.deepEqual(await state(), before);
    });

    test('a container has at most 16 addresses', async () => {
      const { id } = await create(Array.from({ length: 8 }, () => ({ family: 'IPV6' })));
      for (let i = 0; i < 8; i++) assert.equal((await run(ADD, { containerId: id, family: 'IPV6' })).errors, undefined);
      assert.equal((await addressesOf(id)).length, 16);
      const before = await state();
      const refused = await owner.gql(ADD, { i: { containerId: id, family: 'IPV4' } });
      assert.equal(codeOf(refused), 'QUOTA_EXCEEDED');
      assert.deepEqual(await state(), before);
    });

    test('deleting a container releases its addresses: the next container gets the same lowest one', async () => {
      const { id } = await create([{ family: 'IPV4' }]);
      const [address] = await addressesOf(id);
      hookCalls.length = 0;
      const deleted = (await owner.ok(`mutation($id: ID!) { deleteContainer(id: $id) { operation { id } } }`, { id })).deleteContainer;
      await server.services.runner.settled(deleted.operation.id);
      assert.equal(Number((await server.db.query(`SELECT COUNT(*) AS n FROM ip_addresses WHERE address = '${address!.address}'`))[0].n), 0);
      assert.deepEqual(hookCalls, [nodeId]);
      const next = await create([{ family: 'IPV4' }]);
      assert.deepEqual(await addressesOf(next.id), [address]);
    });

    test('a clone gets no addresses (the original keeps them); a migrated container keeps its own and both nodes are told', async () => {
      const { id, key } = await create([{ family: 'IPV4' }, { family: 'IPV6' }]);
      const mine = await addressesOf(id);
      const cloneName = unique('clone');
      const cloned = (await owner.ok(`mutation($i: CloneContainerInput!) { cloneContainer(input: $i) { id operation { id } } }`, { i: { containerId: id, name: cloneName } })).cloneContainer;
      await server.services.runner.settled(cloned.operation.id);
      assert.equal((await lastOperation(cloned.id)).state, 'SUCCEEDED');
      assert.deepEqual(await addressesOf(cloned.id), []);
      const cloneKey = [...fake.instances.keys()].find((k) => k.endsWith(`/${cloneName}`))!;
      assert.equal(fake.nicDevices.get(cloneKey)?.eth0, undefined, 'the copy’s eth0 was taken off');
      assert.deepEqual(await addressesOf(id), mine);
      assert.equal(fake.nicDevices.get(key)?.eth0?.host_name, routedHostName(id));

      hookCalls.length = 0;
      const migrated = (await admin.ok(`mutation($id: ID!, $t: ID!) { migrateContainer(id: $id, targetNodeId: $t) { operation { id } } }`, { id, t: spareNodeId })).migrateContainer;
      await server.services.runner.settled(migrated.operation.id);
      assert.deepEqual(await addressesOf(id), mine);
      const movedKey = [...fake.instances.keys()].find((k) => k.startsWith(`${spareNodeId}/`) && k.endsWith(key.slice(key.indexOf('/'))))!;
      assert.equal(fake.nicDevices.get(movedKey)?.eth0?.['ipv4.address'], mine[0]!.address);
      assert.deepEqual(hookCalls.sort(), [nodeId, spareNodeId].sort());
    });
  });
});
