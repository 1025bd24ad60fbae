import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { generateLicenceKeyPair, issueLicence } from '../../server/licences/licence-document';
import { codeOf } from '../support/client';
import { twoTenants } from '../support/factories';
import { FakeGateway } from '../support/fake-gateway';
import { forEachDatabase, sqlFor, startTestServer, type TestServer } from '../support/server';

const CLONE = `mutation($i: CloneContainerInput!, $k: String) { cloneContainer(input: $i, idempotencyKey: $k) { id name status cpu memoryBytes diskBytes operation { id action } } }`;
const CREATE_IMAGE = `mutation($i: CreateImageFromContainerInput!, $k: String) { createImageFromContainer(input: $i, idempotencyKey: $k) { id action state containerId image { id name fingerprint } } }`;

/** Clones and images from containers: bad input and faults, against the fake gateway. */
forEachDatabase((TEST_DB) => {
  describe(`clone and image from a container (${TEST_DB})`, () => {
    let server: TestServer;
    let fake: FakeGateway;
    let f: Awaited<ReturnType<typeof twoTenants>>;
    let nodes: Record<string, string>;
    let imageId: string;
    let imageDir: string;
    const keys = generateLicenceKeyPair();
    const sql = (text: string) => sqlFor(server)(text);
    const licence = (maxContainers: number) =>
      f.admin.ok(`mutation($l: String!) { installLicence(licence: $l) { licensee } }`, {
        l: issueLicence({ licensee: 'Clone', maxNodes: 10, maxContainers, expiresAt: '2099-01-01T00:00:00Z' }, keys.privateKey),
      });

    before(async () => {
      imageDir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-images-'));
      fs.writeFileSync(path.join(imageDir, 'tiny.tar.gz'), 'stand-in image');
      fake = new FakeGateway();
      server = await startTestServer(TEST_DB, { CORRAL_IMAGE_DIR: imageDir, CORRAL_LICENCE_PUBLIC_KEY: keys.publicKey }, { gateway: fake });
      f = await twoTenants(server.url);
      await licence(50);
      const lab = (await f.admin.ok(`mutation { createCluster(input: { name: "lab" }) { id } }`)).createCluster.id;
      const other = (await f.admin.ok(`mutation { createCluster(input: { name: "other" }) { id } }`)).createCluster.id;
      nodes = {};
      for (const [name, cluster, ip] of [['a', lab, '201'], ['b', lab, '202'], ['c', lab, '203'], ['x', other, '204']] as const) {
        nodes[name] = (await f.admin.ok(`mutation($c: ID!, $n: String!, $u: String!) { addNode(input: { clusterId: $c, name: $n, url: $u, secret: "fake-secret" }) { id } }`, { c: cluster, n: `node-${name}`, u: `https://198.18.0.${ip}:8443` })).addNode.id;
      }
      imageId = (await f.admin.ok(`{ images { edges { node { id name } } } }`)).images.edges.find((e: any) => e.node.name === 'tiny').node.id;
    });
    after(() => server.stop());

    const create = async (name: string, nodeId = nodes.a!) => {
      const clusterId = (await server.db.query(sql(`SELECT "clusterId" FROM nodes WHERE id = ?`), [nodeId]))[0].clusterId;
      const created = (await f.admin.ok(`mutation($i: CreateContainerInput!) { createContainer(input: $i) { id operation { id } } }`, {
        i: { projectId: f.projectA.id, clusterId, nodeId, name, imageId, cpu: 2, memoryMiB: 96, diskMiB: 192 },
      })).createContainer;
      await server.services.runner.settled(created.operation.id);
      return created.id as string;
    };
    const settle = async (operationId: string) => {
      await server.services.runner.settled(operationId);
      return (await f.admin.ok(`query($id: ID!) { operation(id: $id) { state errorCode errorMessage } }`, { id: operationId })).operation;
    };
    const count = async (table: string) => Number((await server.db.query(`SELECT COUNT(*) AS n FROM ${table}`))[0].n);
    const counts = async () => [await count('containers'), await count('operations'), await count('images'), fake.instances.size];
    const key = (node: string, name: string) => `${nodes[node]}/corral-${f.projectA.id.replaceAll('-', '')}/${name}`;

    test('a clone gets the source’s resources on the same node by default, or on a node a provider admin names; it runs if the source ran', async () => {
      const id = await create('origin');
      const same = (await f.ownerA.caller.ok(CLONE, { i: { containerId: id, name: 'origin-copy' } })).cloneContainer;
      assert.deepEqual([same.status, same.operation.action, same.cpu, Number(same.memoryBytes), Number(same.diskBytes)], ['CREATING', 'container.clone', 2, 96 * 2 ** 20, 192 * 2 ** 20]);
      assert.equal((await settle(same.operation.id)).state, 'SUCCEEDED');
      assert.equal(fake.instances.get(key('a', 'origin-copy'))?.status, 'Running');
      const moved = (await f.admin.ok(CLONE, { i: { containerId: id, name: 'origin-away', targetNodeId: nodes.b } })).cloneContainer;
      assert.equal((await settle(moved.operation.id)).state, 'SUCCEEDED');
      assert.equal(fake.instances.get(key('b', 'origin-away'))?.status, 'Running');
      assert.equal(fake.instances.get(key('a', 'origin'))?.status, 'Running', 'the source still runs');
      const rows = await server.db.query(sql(`SELECT name, "nodeId", status FROM containers WHERE name LIKE ? ORDER BY name`), ['origin%']);
      assert.deepEqual(rows.map((r: any) => [r.name, r.nodeId, r.status]), [['origin', nodes.a, 'RUNNING'], ['origin-away', nodes.b, 'RUNNING'], ['origin-copy', nodes.a, 'RUNNING']]);

      const stopped = await create('still');
      await settle((await f.ownerA.caller.ok(`mutation($id: ID!) { stopContainer(id: $id) { operation { id } } }`, { id: stopped })).stopContainer.operation.id);
      const cold = (await f.ownerA.caller.ok(CLONE, { i: { containerId: stopped, name: 'still-copy' } })).cloneContainer;
      assert.equal((await settle(cold.operation.id)).state, 'SUCCEEDED');
      assert.equal(fake.instances.get(key('a', 'still-copy'))?.status, 'Stopped', 'the clone of a stopped container stays stopped');
    });

    test('refusals come before anything is recorded: name, nodes, another tenant, the caller’s role, the licence', async () => {
      const id = await create('refused');
      const before = await counts();
      const expect = async (caller: typeof f.admin, input: Record<string, unknown>, code: string, what: string) => {
        const res = await caller.gql(CLONE, { i: { containerId: id, name: 'refused-copy', ...input } });
        assert.equal(codeOf(res), code, `${what}: ${JSON.stringify(res.errors)}`);
        assert.equal(res.data, null, what);
        assert.deepEqual(await counts(), before, `${what}: nothing recorded or made`);
      };
      await expect(f.ownerA.caller, { name: 'refused' }, 'CONFLICT', 'a taken name');
      await expect(f.ownerA.caller, { name: 'not a name!' }, 'BAD_USER_INPUT', 'a bad name');
      await expect(f.admin, { targetNodeId: nodes.x }, 'BAD_USER_INPUT', 'a node of another cluster');
      await expect(f.admin, { targetNodeId: '01900000-0000-7000-8000-000000000000' }, 'NOT_FOUND', 'an unknown node');
      await expect(f.ownerA.caller, { targetNodeId: nodes.b }, 'FORBIDDEN', 'a tenant naming the node');
      await expect(f.memberB.caller, {}, 'FORBIDDEN', "a member (no CONTAINERS_WRITE) of another customer");
      await expect(f.resellerAdminB.caller, {}, 'NOT_FOUND', "another reseller's admin");
      for (const status of ['OFFLINE', 'MAINTENANCE']) {
        await server.db.query(sql(`UPDATE nodes SET status = ? WHERE id = ?`), [status, nodes.c]);
        await expect(f.admin, { targetNodeId: nodes.c }, 'NODE_UNAVAILABLE', `a target node in ${status}`);
      }
      await server.db.query(sql(`UPDATE nodes SET status = 'READY' WHERE id = ?`), [nodes.c]);
      await server.db.query(sql(`UPDATE nodes SET "diskBytes" = 1 WHERE id = ?`), [nodes.c]);
      await expect(f.admin, { targetNodeId: nodes.c }, 'CAPACITY_EXCEEDED', 'a full target node');
      await server.db.query(sql(`UPDATE nodes SET "diskBytes" = ? WHERE id = ?`), [200 * 1024 ** 3, nodes.c]);
      await server.db.query(sql(`UPDATE nodes SET "memoryBytes" = 1 WHERE id = ?`), [nodes.a]);
      await expect(f.ownerA.caller, {}, 'CAPACITY_EXCEEDED', 'a full source node');
      await server.db.query(sql(`UPDATE nodes SET "memoryBytes" = ? WHERE id = ?`), [16 * 1024 ** 3, nodes.a]);
      await server.db.query(sql(`UPDATE nodes SET status = 'OFFLINE' WHERE id = ?`), [nodes.a]);
      await expect(f.ownerA.caller, {}, 'NODE_UNAVAILABLE', 'the source node offline');
      await server.db.query(sql(`UPDATE nodes SET status = 'READY' WHERE id = ?`), [nodes.a]);
      await licence(await count('containers'));
      try {
        await expect(f.ownerA.caller, {}, 'LICENCE_LIMIT', 'the licence is full');
      } finally {
        await licence(50);
      }
    });

    test('replays answer the first clone; the same key with other input is refused', async () => {
      const id = await create('replayed');
      const first = (await f.ownerA.caller.ok(CLONE, { i: { containerId: id, name: 'replayed-copy' }, k: 'clone-once' })).cloneContainer;
      await settle(first.operation.id);
      const before = await counts();
      const again = (await f.ownerA.caller.ok(CLONE, { i: { containerId: id, name: 'replayed-copy' }, k: 'clone-once' })).cloneContainer;
      assert.deepEqual([again.id, again.operation.id], [first.id, first.operation.id]);
      assert.deepEqual(await counts(), before);
      const other = await f.ownerA.caller.gql(CLONE, { i: { containerId: id, name: 'replayed-other' }, k: 'clone-once' });
      assert.equal(codeOf(other), 'IDEMPOTENCY_KEY_REUSED', JSON.stringify(other.errors));
      assert.deepEqual(await counts(), before);
    });

    test('while an operation runs on the source or the clone, cloning and publishing are refused with OPERATION_IN_PROGRESS', async () => {
      const id = await create('busy');
      let open!: () => void;
      fake.gate = new Promise<void>((resolve) => (open = resolve));
      try {
        // An operation on the source that changes its status (restart), and one that does not (resources).
        for (const mutation of ['restartContainer(id: $id)', 'updateContainerResources(id: $id, input: { cpuWeight: 3 })']) {
          const running = Object.values(await f.ownerA.caller.ok(`mutation($id: ID!) { ${mutation} { operation { id } } }`, { id }))[0] as any;
          const before = await counts();
          const res = await f.ownerA.caller.gql(CLONE, { i: { containerId: id, name: 'busy-copy' } });
          assert.equal(codeOf(res), 'OPERATION_IN_PROGRESS', `${mutation}: ${JSON.stringify(res.errors)}`);
          const image = await f.admin.gql(CREATE_IMAGE, { i: { containerId: id, name: 'busy-image' } });
          assert.equal(codeOf(image), 'OPERATION_IN_PROGRESS', `${mutation}: ${JSON.stringify(image.errors)}`);
          assert.deepEqual(await counts(), before);
          open();
          await settle(running.operation.id);
          fake.gate = new Promise<void>((resolve) => (open = resolve));
        }
      } finally {
        open();
        fake.gate = null;
      }
      fake.gate = new Promise<void>((resolve) => (open = resolve));
      try {
        // The clone itself, while it is being made.
        const clone = (await f.ownerA.caller.ok(CLONE, { i: { containerId: id, name: 'busy-copy' } })).cloneContainer;
        for (const [what, res] of [
          ['clone of the clone', await f.ownerA.caller.gql(CLONE, { i: { containerId: clone.id, name: 'busy-copy-copy' } })],
          ['start of the clone', await f.ownerA.caller.gql(`mutation($id: ID!) { startContainer(id: $id) { id } }`, { id: clone.id })],
          ['image of the clone', await f.admin.gql(CREATE_IMAGE, { i: { containerId: clone.id, name: 'busy-image' } })],
        ] as const) {
          assert.equal(codeOf(res), 'OPERATION_IN_PROGRESS', `${what}: ${JSON.stringify(res.errors)}`);
        }
        open();
        assert.equal((await settle(clone.operation.id)).state, 'SUCCEEDED');
      } finally {
        open();
        fake.gate = null;
      }
    });

    test('a copy that fails is undone: no clone row, no instance, the source untouched', async () => {
      const id = await create('fragile');
      const clone = fake.cloneInstance.bind(fake);
      fake.cloneInstance = async (...args: Parameters<FakeGateway['cloneInstance']>) => {
        await clone(...args);
        throw Object.assign(new Error('btrfs qgroup limit: Disk quota exceeded'), { status: 500 });
      };
      try {
        const res = (await f.ownerA.caller.ok(CLONE, { i: { containerId: id, name: 'fragile-copy' } })).cloneContainer;
        const op = await settle(res.operation.id);
        assert.deepEqual([op.state, op.errorCode], ['FAILED', 'LXD_ERROR'], JSON.stringify(op));
        assert.match(op.errorMessage, /Disk quota exceeded/);
      } finally {
        fake.cloneInstance = clone;
      }
      assert.equal(Number((await server.db.query(sql(`SELECT COUNT(*) AS n FROM containers WHERE name = ?`), ['fragile-copy']))[0].n), 0);
      assert.equal(fake.instances.has(key('a', 'fragile-copy')), false);
      assert.equal(fake.instances.get(key('a', 'fragile'))?.status, 'Running');
      // The name is free again.
      const retry = (await f.ownerA.caller.ok(CLONE, { i: { containerId: id, name: 'fragile-copy' } })).cloneContainer;
      assert.equal((await settle(retry.operation.id)).state, 'SUCCEEDED');
    });

    test('an image from a container: provider admins only, registered in the repository, names checked, replays answered', async () => {
      const id = await create('template');
      const before = await counts();
      for (const [what, caller, input, code] of [
        ['a tenant owner', f.ownerA.caller, { containerId: id, name: 'tenant-made' }, 'FORBIDDEN'],
        ["another reseller's admin", f.resellerAdminB.caller, { containerId: id, name: 'tenant-made' }, 'FORBIDDEN'],
        ['a bad name', f.admin, { containerId: id, name: 'Not_A_Name' }, 'BAD_USER_INPUT'],
        ['a taken name', f.admin, { containerId: id, name: 'tiny' }, 'CONFLICT'],
        ['an unknown container', f.admin, { containerId: '01900000-0000-7000-8000-000000000000', name: 'nothing' }, 'NOT_FOUND'],
      ] as const) {
        const res = await caller.gql(CREATE_IMAGE, { i: input });
        assert.equal(codeOf(res), code, `${what}: ${JSON.stringify(res.errors)}`);
        assert.deepEqual(await counts(), before, what);
      }
      const op = (await f.admin.ok(CREATE_IMAGE, { i: { containerId: id, name: 'template-image' }, k: 'image-once' })).createImageFromContainer;
      assert.deepEqual([op.action, op.containerId, op.image], ['container.createImage', id, null]);
      assert.equal((await settle(op.id)).state, 'SUCCEEDED');
      const done = (await f.admin.ok(`query($id: ID!) { operation(id: $id) { image { id name fingerprint } } }`, { id: op.id })).operation;
      assert.equal(done.image.name, 'template-image');
      assert.equal(fs.readFileSync(path.join(imageDir, 'template-image.tar.gz'), 'utf8'), fake.publishedImages.get(done.image.fingerprint));
      assert.ok(fs.readdirSync(imageDir).every((file) => !file.startsWith('.export-')), 'no temporary file left');
      // Every tenant sees it in the catalogue and may create from it.
      const catalogue = (await f.memberB.caller.ok(`{ images { edges { node { name } } } }`)).images.edges.map((e: any) => e.node.name);
      assert.ok(catalogue.includes('template-image'));
      const replay = (await f.admin.ok(CREATE_IMAGE, { i: { containerId: id, name: 'template-image' }, k: 'image-once' })).createImageFromContainer;
      assert.equal(replay.id, op.id);
      const reused = await f.admin.gql(CREATE_IMAGE, { i: { containerId: id, name: 'template-other' }, k: 'image-once' });
      assert.equal(codeOf(reused), 'IDEMPOTENCY_KEY_REUSED');
      const taken = await f.admin.gql(CREATE_IMAGE, { i: { containerId: id, name: 'template-image' } });
      assert.equal(codeOf(taken), 'CONFLICT');
    });

    test('an export that fails leaves no image, no file and nothing on the node', async () => {
      const id = await create('broken');
      const exportImage = fake.exportImage.bind(fake);
      fake.exportImage = async () => {
        throw Object.assign(new Error('the connection broke'), { status: 500 });
      };
      try {
        const op = (await f.admin.ok(CREATE_IMAGE, { i: { containerId: id, name: 'broken-image' } })).createImageFromContainer;
        const done = await settle(op.id);
        assert.deepEqual([done.state, done.errorCode], ['FAILED', 'LXD_ERROR'], JSON.stringify(done));
      } finally {
        fake.exportImage = exportImage;
      }
      assert.equal(Number((await server.db.query(sql(`SELECT COUNT(*) AS n FROM images WHERE name = ?`), ['broken-image']))[0].n), 0);
      assert.ok(!fs.existsSync(path.join(imageDir, 'broken-image.tar.gz')));
      assert.ok(fs.readdirSync(imageDir).every((file) => !file.startsWith('.export-')));
      assert.equal([...fake.publishedImages.values()].filter((c) => c.includes('/broken ')).length, 0, 'the unregistered image was removed from the node');
      assert.equal(fake.instances.get(key('a', 'broken'))?.status, 'Running');
    });
  });
});
