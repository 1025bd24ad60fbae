import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CorralError } from '../../server/app/errors';
import { Caller, codeOf } from '../support/client';
import { createAccount, createProject, signInAsAdmin, signInAsNewUser, unique } from '../support/factories';
import { FakeGateway } from '../support/fake-gateway';
import { forEachDatabase, startTestServer, type TestServer } from '../support/server';

const CREATE = `mutation($i: CreateIpPoolInput!) { createIpPool(input: $i) { id name family cidr firstAddress lastAddress gateway reserved size allocatedCount } }`;
const POOL = `query($id: ID!) { ipPool(id: $id) { id name cidr size allocatedCount } }`;
const DELETE = `mutation($id: ID!) { deleteIpPool(id: $id) { id } }`;
const WORKER = path.resolve(__dirname, '../support/ipam-worker.js');

/** Runs the allocation worker in a process of its own; resolves with what it printed. */
function allocateInChild(env: Record<string, string>): Promise<{ addresses: string[]; errors: string[]; racesLost?: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WORKER], { env: { PATH: process.env.PATH, ...env } as unknown as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`worker exited ${code}: ${err}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').pop()!));
      } catch (e) {
        reject(new Error(`worker printed ${out} ${err}: ${e}`));
      }
    });
  });
}

/**
 * IP pools and IPAM, on both databases, with LXD replaced by the in-memory fake (allocation
 * touches no node). Addresses are the lab's documentation ranges only: 198.51.100.0/24 and
 * 2001:db8::/48.
 */
forEachDatabase((TEST_DB) => {
  describe(`IP pools and IPAM (${TEST_DB})`, () => {
    let server: TestServer;
    let admin: Caller;
    let owner: Caller;
    let stranger: Caller;
    let projectId: string;
    let imageId: string;
    let clusterId: string;
    let otherClusterId: string;
    let nodeId: string;
    before(async () => {
      const imageDir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-images-'));
      fs.writeFileSync(path.join(imageDir, 'tiny.tar.gz'), 'stand-in image');
      server = await startTestServer(TEST_DB, { CORRAL_IMAGE_DIR: imageDir }, { gateway: new FakeGateway() });
      admin = await signInAsAdmin(server.url);
      imageId = (await admin.ok(`{ images { edges { node { id } } } }`)).images.edges[0].node.id;
      clusterId = (await admin.ok(`mutation { createCluster(input: { name: "main" }) { id } }`)).createCluster.id;
      otherClusterId = (await admin.ok(`mutation { createCluster(input: { name: "other" }) { id } }`)).createCluster.id;
      nodeId = (await admin.ok(`mutation($c: ID!) { addNode(input: { clusterId: $c, name: "n1", url: "https://198.18.0.201:8443", secret: "fake-secret" }) { id } }`, { c: clusterId })).addNode.id;
      await admin.ok(`mutation($c: ID!) { addNode(input: { clusterId: $c, name: "n2", url: "https://198.18.0.202:8443", secret: "fake-secret" }) { id } }`, { c: otherClusterId });
      const customer = await createAccount(admin, 'CUSTOMER');
      owner = (await signInAsNewUser(admin, customer.id, 'CUSTOMER_OWNER')).caller;
      projectId = (await createProject(owner, customer.id)).id;
      const other = await createAccount(admin, 'CUSTOMER');
      stranger = (await signInAsNewUser(admin, other.id, 'CUSTOMER_OWNER')).caller;
    });
    after(() => server.stop());

    const container = async () => {
      const created = (await admin.ok(`mutation($i: CreateContainerInput!) { createContainer(input: $i) { id operation { id } } }`, { i: { projectId, clusterId, name: unique('c'), imageId, cpu: 1, memoryMiB: 64, diskMiB: 128, nodeId } })).createContainer;
      await server.services.runner.settled(created.operation.id);
      return created.id as string;
    };
    const remove = async (id: string) => {
      const deleted = (await owner.ok(`mutation($id: ID!) { deleteContainer(id: $id) { operation { id } } }`, { id })).deleteContainer;
      await server.services.runner.settled(deleted.operation.id);
    };
    const pool = async (input: Record<string, unknown>, cluster = clusterId) => (await admin.ok(CREATE, { i: { clusterId: cluster, name: unique('p'), ...input } })).createIpPool;
    const allocate = async (poolId: string, containerId: string) => (await server.services.ipam.allocateAddress(poolId, containerId)).address;
    const refusal = async (work: Promise<unknown>) => {
      try {
        await work;
      } catch (error) {
        assert.ok(error instanceof CorralError, String(error));
        return { code: error.code, message: error.message };
      }
      assert.fail('expected a refusal');
    };
    const addressesOf = async (id: string, as = owner) => (await as.ok(`query($id: ID!) { container(id: $id) { addresses { address family } } }`, { id })).container.addresses;
    const poolCount = async () => Number((await server.db.query(`SELECT COUNT(*) AS n FROM ip_pools`))[0].n);

    test('pools are created with canonical blocks and default ranges, listed per cluster, and report their size (as a decimal string) and allocations', async () => {
      const v4 = await pool({ cidr: '198.51.100.64/26', gateway: '198.51.100.65', reserved: ['198.51.100.70', '198.51.100.70', '198.51.100.66'] });
      assert.equal(v4.family, 4);
      assert.equal(v4.cidr, '198.51.100.64/26');
      assert.equal(v4.firstAddress, '198.51.100.65');
      assert.equal(v4.lastAddress, '198.51.100.126');
      assert.equal(v4.gateway, '198.51.100.65');
      assert.deepEqual(v4.reserved, ['198.51.100.66', '198.51.100.70']);
      assert.equal(v4.size, '59'); // 62 usable, less the gateway and two reserved
      assert.equal(v4.allocatedCount, 0);
      const v6 = await pool({ cidr: '2001:DB8:0:0::/48' });
      assert.equal(v6.family, 6);
      assert.equal(v6.cidr, '2001:db8::/48');
      assert.equal(v6.firstAddress, '2001:db8::1');
      assert.equal(v6.lastAddress, '2001:db8:0:ffff:ffff:ffff:ffff:ffff');
      assert.equal(v6.size, String(2n ** 80n - 1n));
      const ranged = await pool({ cidr: '198.51.100.128/28', firstAddress: '198.51.100.132', lastAddress: '198.51.100.135' }, otherClusterId);
      assert.equal(ranged.size, '4');
      const listed = (await admin.ok(`query($c: ID!) { ipPools(clusterId: $c) { id } }`, { c: clusterId })).ipPools.map((p: any) => p.id);
      assert.ok(listed.includes(v4.id) && listed.includes(v6.id) && !listed.includes(ranged.id));
      assert.equal((await admin.ok(POOL, { id: v6.id })).ipPool.cidr, '2001:db8::/48');
      for (const id of [v4.id, v6.id, ranged.id]) await admin.ok(DELETE, { id });
    });

    test('bad blocks, addresses outside the block, an unknown cluster and a taken name are refused, and nothing is recorded', async () => {
      const taken = await pool({ cidr: '198.51.100.0/30', name: 'taken' });
      const before = await poolCount();
      const cases: [Record<string, unknown>, string, string | undefined][] = [
        [{ cidr: '198.51.100.0' }, 'BAD_USER_INPUT', 'cidr'],
        [{ cidr: '198.51.100.0/33' }, 'BAD_USER_INPUT', 'cidr'],
        [{ cidr: '198.51.100.1/24' }, 'BAD_USER_INPUT', 'cidr'],
        [{ cidr: '198.51.100/24' }, 'BAD_USER_INPUT', 'cidr'],
        [{ cidr: 'not-an-address/24' }, 'BAD_USER_INPUT', 'cidr'],
        [{ cidr: '2001:db8::/129' }, 'BAD_USER_INPUT', 'cidr'],
        [{ cidr: '2001:db8::%eth0/64' }, 'BAD_USER_INPUT', 'cidr'],
        [{ cidr: '198.51.100.0/24/1' }, 'BAD_USER_INPUT', 'cidr'],
        [{ cidr: '198.51.100.16/28', firstAddress: '198.51.100.40' }, 'BAD_USER_INPUT', 'firstAddress'],
        [{ cidr: '198.51.100.16/28', lastAddress: '2001:db8::1' }, 'BAD_USER_INPUT', 'lastAddress'],
        [{ cidr: '198.51.100.16/28', firstAddress: '198.51.100.20', lastAddress: '198.51.100.18' }, 'BAD_USER_INPUT', 'firstAddress'],
        [{ cidr: '198.51.100.16/28', gateway: '198.51.100.1' }, 'BAD_USER_INPUT', 'gateway'],
        [{ cidr: '198.51.100.16/28', reserved: ['198.51.100.17', 'nonsense'] }, 'BAD_USER_INPUT', 'reserved'],
        [{ cidr: '198.51.100.16/28', name: 'Bad Name' }, 'BAD_USER_INPUT', undefined],
        [{ cidr: '198.51.100.16/28', name: 'taken' }, 'CONFLICT', 'name'],
        [{ cidr: '198.51.100.16/28', clusterId: '01a2b3c4-0000-7000-8000-0123456789ab' }, 'NOT_FOUND', undefined],
      ];
      for (const [input, code, field] of cases) {
        const res = await admin.gql(CREATE, { i: { clusterId, name: unique('p'), ...input } });
        assert.equal(codeOf(res), code, `${JSON.stringify(input)}: ${JSON.stringify(res.errors)}`);
        if (field) assert.equal(res.errors![0]!.extensions!.field, field, JSON.stringify(res.errors));
      }
      assert.equal(await poolCount(), before, 'nothing was recorded');
      await admin.ok(DELETE, { id: taken.id });
    });

    test('overlapping pools are refused in the same cluster and in any other, naming the pool overlapped; adjacent blocks are fine', async () => {
      const v4 = await pool({ cidr: '198.51.100.0/25', name: 'left-half' });
      const v6 = await pool({ cidr: '2001:db8:0:1::/64', name: 'v6-one' });
      for (const [cidr, cluster, name] of [
        ['198.51.100.0/24', clusterId, 'left-half'],
        ['198.51.100.96/27', otherClusterId, 'left-half'],
        ['198.51.100.127/32', otherClusterId, 'left-half'],
        ['2001:db8::/48', otherClusterId, 'v6-one'],
        ['2001:db8:0:1::8000/113', clusterId, 'v6-one'],
      ] as const) {
        const res = await admin.gql(CREATE, { i: { clusterId: cluster, name: unique('p'), cidr } });
        assert.equal(codeOf(res), 'BAD_USER_INPUT', `${cidr}: ${JSON.stringify(res.errors)}`);
        assert.match(res.errors![0]!.message, new RegExp(`overlaps pool "${name}"`));
      }
      const right = await pool({ cidr: '198.51.100.128/25' }, otherClusterId);
      const nextV6 = await pool({ cidr: '2001:db8:0:2::/64' });
      for (const id of [v4.id, v6.id, right.id, nextV6.id]) await admin.ok(DELETE, { id });
    });

    test('the gateway and reserved addresses are never handed out; the lowest free address goes first; a full pool is POOL_EXHAUSTED', async () => {
      const c = await container();
      const small = await pool({ cidr: '198.51.100.8/29', gateway: '198.51.100.9', reserved: ['198.51.100.11', '198.51.100.13'] });
      assert.equal(small.size, '3');
      assert.deepEqual([await allocate(small.id, c), await allocate(small.id, c), await allocate(small.id, c)], ['198.51.100.10', '198.51.100.12', '198.51.100.14']);
      const exhausted = await refusal(server.services.ipam.allocateAddress(small.id, c));
      assert.equal(exhausted.code, 'POOL_EXHAUSTED');
      // A /30: two usable addresses, one of them the gateway.
      const tiny = await pool({ cidr: '198.51.100.4/30', gateway: '198.51.100.5' });
      assert.equal(await allocate(tiny.id, c), '198.51.100.6');
      assert.equal((await refusal(server.services.ipam.allocateAddress(tiny.id, c))).code, 'POOL_EXHAUSTED');
      assert.equal((await admin.ok(POOL, { id: tiny.id })).ipPool.allocatedCount, 1);
      const v6 = await pool({ cidr: '2001:db8:0:3::/64', reserved: ['2001:db8:0:3::2'] });
      assert.deepEqual([await allocate(v6.id, c), await allocate(v6.id, c)], ['2001:db8:0:3::1', '2001:db8:0:3::3']);
      assert.deepEqual(await addressesOf(c), [
        { address: '198.51.100.6', family: 4 },
        { address: '198.51.100.10', family: 4 },
        { address: '198.51.100.12', family: 4 },
        { address: '198.51.100.14', family: 4 },
        { address: '2001:db8:0:3::1', family: 6 },
        { address: '2001:db8:0:3::3', family: 6 },
      ]);
      await remove(c);
      for (const id of [small.id, tiny.id, v6.id]) await admin.ok(DELETE, { id });
    });

    test('a pool of another cluster than the container’s is BAD_USER_INPUT; unknown pools and containers are NOT_FOUND; nothing is allocated', async () => {
      const c = await container();
      const elsewhere = await pool({ cidr: '198.51.100.32/28' }, otherClusterId);
      const wrong = await refusal(server.services.ipam.allocateAddress(elsewhere.id, c));
      assert.equal(wrong.code, 'BAD_USER_INPUT');
      assert.equal((await refusal(server.services.ipam.allocateAddress('01a2b3c4-0000-7000-8000-0123456789ab', c))).code, 'NOT_FOUND');
      assert.equal((await refusal(server.services.ipam.allocateAddress(elsewhere.id, '01a2b3c4-0000-7000-8000-0123456789ab'))).code, 'NOT_FOUND');
      assert.equal((await admin.ok(POOL, { id: elsewhere.id })).ipPool.allocatedCount, 0);
      assert.deepEqual(await addressesOf(c), []);
      await remove(c);
      await admin.ok(DELETE, { id: elsewhere.id });
    });

    test('deleting a pool is refused while addresses are allocated; deleting the container releases them for reuse at once', async () => {
      const p = await pool({ cidr: '198.51.100.48/28' });
      const first = await container();
      const second = await container();
      assert.equal(await allocate(p.id, first), '198.51.100.49');
      assert.equal(await allocate(p.id, second), '198.51.100.50');
      assert.equal(await allocate(p.id, first), '198.51.100.51');
      const refused = await admin.gql(DELETE, { id: p.id });
      assert.equal(codeOf(refused), 'CONFLICT', JSON.stringify(refused.errors));
      assert.match(refused.errors![0]!.message, /3 addresses allocated/);
      assert.equal((await admin.ok(POOL, { id: p.id })).ipPool.allocatedCount, 3, 'the pool and its addresses are untouched');

      await remove(first);
      assert.equal((await admin.ok(POOL, { id: p.id })).ipPool.allocatedCount, 1);
      // The lowest free address is the one just released.
      assert.equal(await allocate(p.id, second), '198.51.100.49');
      assert.equal(await server.services.ipam.releaseAddress(second, '198.51.100.50'), true);
      assert.equal(await server.services.ipam.releaseAddress(second, '198.51.100.50'), false);
      assert.deepEqual((await addressesOf(second)).map((a: any) => a.address), ['198.51.100.49']);
      await remove(second);
      await admin.ok(DELETE, { id: p.id });
      assert.equal(codeOf(await admin.gql(POOL, { id: p.id })), 'NOT_FOUND');
      assert.equal(codeOf(await admin.gql(DELETE, { id: p.id })), 'NOT_FOUND');
    });

    test('pools are the provider’s: tenants cannot list, read, create or delete them; a container’s addresses are its owner’s to read only', async () => {
      const p = await pool({ cidr: '198.51.100.240/28' });
      const c = await container();
      await allocate(p.id, c);
      for (const caller of [owner, stranger]) {
        assert.equal(codeOf(await caller.gql(`query($c: ID!) { ipPools(clusterId: $c) { id } }`, { c: clusterId })), 'FORBIDDEN');
        assert.equal(codeOf(await caller.gql(POOL, { id: p.id })), 'FORBIDDEN');
        assert.equal(codeOf(await caller.gql(CREATE, { i: { clusterId, name: 'mine', cidr: '198.51.100.224/28' } })), 'FORBIDDEN');
        assert.equal(codeOf(await caller.gql(DELETE, { id: p.id })), 'FORBIDDEN');
      }
      assert.deepEqual(await addressesOf(c), [{ address: '198.51.100.241', family: 4 }]);
      assert.equal(codeOf(await stranger.gql(`query($id: ID!) { container(id: $id) { addresses { address } } }`, { id: c })), 'NOT_FOUND');
      assert.equal(codeOf(await admin.gql(`query($c: ID!) { ipPools(clusterId: $c) { id } }`, { c: '01a2b3c4-0000-7000-8000-0123456789ab' })), 'NOT_FOUND');
      await remove(c);
      await admin.ok(DELETE, { id: p.id });
    });

    test(
      TEST_DB === 'postgres'
        ? 'two processes allocating 50 addresses each at once from one pool get 100 distinct addresses (the unique index decides races)'
        : 'one process allocating 100 addresses at once from one pool gets 100 distinct addresses (two processes are proven on PostgreSQL)',
      async () => {
        // 198.51.100.128/25: 126 usable addresses, enough for all 100.
        const p = await pool({ cidr: '198.51.100.128/25' });
        const c = await container();
        let results: { addresses: string[]; errors: string[]; racesLost?: number }[];
        if (TEST_DB === 'postgres') {
          const env = { DATABASE_URL: (server.db.options as { url: string }).url, POOL_ID: p.id, CONTAINER_ID: c, COUNT: '50', START_AT: String(Date.now() + 1500) };
          results = await Promise.all([allocateInChild(env), allocateInChild(env)]);
          console.log(`races lost (and retried) per process: ${results.map((r) => r.racesLost).join(', ')}`);
        } else {
          const outcomes = await Promise.allSettled(Array.from({ length: 100 }, () => server.services.ipam.allocateAddress(p.id, c)));
          results = [{ addresses: outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value.address] : [])), errors: outcomes.flatMap((o) => (o.status === 'rejected' ? [String(o.reason)] : [])) }];
        }
        const all = results.flatMap((r) => r.addresses);
        assert.deepEqual(results.flatMap((r) => r.errors), []);
        assert.equal(all.length, 100);
        assert.equal(new Set(all).size, 100, 'no address was handed out twice');
        if (TEST_DB === 'postgres') assert.ok(results.every((r) => r.addresses.length === 50));
        assert.equal((await admin.ok(POOL, { id: p.id })).ipPool.allocatedCount, 100);
        // The 26 left, then exhaustion; still no duplicate.
        const rest = await Promise.allSettled(Array.from({ length: 30 }, () => server.services.ipam.allocateAddress(p.id, c)));
        assert.equal(rest.filter((o) => o.status === 'fulfilled').length, 26);
        assert.ok(rest.every((o) => o.status === 'fulfilled' || (o.reason as CorralError).code === 'POOL_EXHAUSTED'), JSON.stringify(rest.filter((o) => o.status === 'rejected').map((o) => String((o as PromiseRejectedResult).reason))));
        const rows: { address: string }[] = await server.db.query(`SELECT address FROM ip_addresses`);
        // The database itself refuses a second row for an address, whatever the code does.
        const taken = all[0]!;
        const ph = TEST_DB === 'postgres' ? ['$1', '$2', '$3', '$4'] : ['?', '?', '?', '?'];
        await assert.rejects(
          server.db.query(`INSERT INTO ip_addresses (id, "poolId", "containerId", address, family, "sortKey") VALUES (${ph.join(', ')}, 4, 'x')`, ['01a2b3c4-0000-7000-8000-0123456789ab', p.id, c, taken]),
          /unique|duplicate/i,
        );
        assert.equal(new Set(rows.map((r) => r.address)).size, 126);
        await remove(c);
        await admin.ok(DELETE, { id: p.id });
      },
    );
  });
});
