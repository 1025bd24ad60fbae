import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Caller, codeOf } from '../support/client';
import { createAccount, createProject, signInAsAdmin, signInAsNewUser } from '../support/factories';
import { FakeGateway } from '../support/fake-gateway';
import { forEachDatabase, startTestServer, type TestServer } from '../support/server';

/**
 * Corral's own rules for clusters, nodes and container operations, on both databases, with LXD
 * replaced by an in-memory fake. What happens on real nodes is proven in test/e2e.
 */
forEachDatabase((TEST_DB) => {
  describe(`containers and operations, Corral's side (${TEST_DB})`, () => {
    let server: TestServer;
    let fake: FakeGateway;
    let admin: Caller;
    let owner: Caller;
    let projectId: string;
    let imageId: string;
    let clusterId: string;
    before(async () => {
      const imageDir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-images-'));
      fs.writeFileSync(path.join(imageDir, 'tiny.tar.gz'), 'stand-in image');
      fake = new FakeGateway();
      fake.capacityOf = { cpuThreads: 2, memoryBytes: 1024 * 1024 * 1024, diskBytes: 10 * 1024 * 1024 * 1024 };
      server = await startTestServer(TEST_DB, { CORRAL_IMAGE_DIR: imageDir, CORRAL_RECONCILE_SECONDS: '1' }, { gateway: fake });
      admin = await signInAsAdmin(server.url);
      imageId = (await admin.ok(`{ images { edges { node { id } } } }`)).images.edges[0].node.id;
      const customer = await createAccount(admin, 'CUSTOMER');
      owner = (await signInAsNewUser(admin, customer.id, 'CUSTOMER_OWNER')).caller;
      projectId = (await createProject(owner, customer.id)).id;
    });
    after(() => server.stop());

    const create = (name: string, extra: Record<string, unknown> = {}, key?: string) =>
      owner.gql(`mutation($i: CreateContainerInput!, $k: String) { createContainer(input: $i, idempotencyKey: $k) { id status operation { id state } } }`, {
        i: { projectId, name, imageId, cpu: 1, memoryMiB: 128, diskMiB: 256, ...extra },
        k: key,
      });
    const settle = async (res: { data?: any }) => {
      const op = (Object.values(res.data ?? {})[0] as any)?.operation?.id;
      if (op) await server.services.runner.settled(op);
    };

    test('without a cluster there is nowhere to put a container', async () => {
      assert.equal(codeOf(await create('early')), 'NODE_UNAVAILABLE');
    });

    test('clusters validate their input and names are unique', async () => {
      const bad = [`{ name: "Bad Name" }`, `{ name: "x" }`, `{ name: "ok-name", cpuOvercommit: 0 }`, `{ name: "ok-name", memoryOvercommit: 100 }`, `{ name: "ok-name", backupDirectory: "relative/path" }`];
      for (const input of bad) assert.equal(codeOf(await admin.gql(`mutation { createCluster(input: ${input}) { id } }`)), 'BAD_USER_INPUT', input);
      clusterId = (await admin.ok(`mutation { createCluster(input: { name: "main", cpuOvercommit: 2 }) { id cpuOvercommit memoryOvercommit storageDriver } }`)).createCluster.id;
      assert.equal(codeOf(await admin.gql(`mutation { createCluster(input: { name: "main" }) { id } }`)), 'CONFLICT');
      assert.equal(codeOf(await owner.gql(`mutation { createCluster(input: { name: "mine" }) { id } }`)), 'FORBIDDEN');
    });

    test('a node that refuses the secret is not recorded', async () => {
      const res = await admin.gql(`mutation($c: ID!) { addNode(input: { clusterId: $c, name: "n1", url: "https://198.18.0.201:8443", secret: "wrong" }) { id } }`, { c: clusterId });
      assert.equal(codeOf(res), 'NODE_UNAVAILABLE');
      assert.equal((await admin.ok(`{ nodes { edges { node { id } } } }`)).nodes.edges.length, 0);
      const added = await admin.ok(`mutation($c: ID!) { addNode(input: { clusterId: $c, name: "n1", url: "https://198.18.0.201:8443", secret: "fake-secret" }) { status cpuThreads } }`, { c: clusterId });
      assert.deepEqual(added.addNode, { status: 'READY', cpuThreads: 2 });
    });

    test('an idempotency key returns the first result and refuses other input', async () => {
      const first = await create('idem', {}, 'k-1');
      const again = await create('idem', {}, 'k-1');
      assert.equal(again.data.createContainer.id, first.data.createContainer.id);
      assert.equal(again.data.createContainer.operation.id, first.data.createContainer.operation.id);
      assert.equal(codeOf(await create('idem-other', {}, 'k-1')), 'IDEMPOTENCY_KEY_REUSED');
      await settle(first);
      assert.equal((await owner.ok(`query($id: ID!) { container(id: $id) { status } }`, { id: first.data.createContainer.id })).container.status, 'RUNNING');
      assert.equal([...fake.instances.keys()].filter((k) => k.endsWith('/idem')).length, 1);
    });

    test('while an operation runs, a second one on the same container is refused and nothing interleaves', async () => {
      const created = await create('held');
      await settle(created);
      const id = created.data.createContainer.id;
      let release!: () => void;
      fake.gate = new Promise<void>((resolve) => (release = resolve));
      try {
        const stop = await owner.ok(`mutation($id: ID!) { stopContainer(id: $id) { status operation { id state } } }`, { id });
        assert.equal(stop.stopContainer.status, 'STOPPING');
        for (const mutation of ['startContainer', 'restartContainer', 'deleteContainer']) {
          assert.equal(codeOf(await owner.gql(`mutation($id: ID!) { ${mutation}(id: $id) { id } }`, { id })), 'OPERATION_IN_PROGRESS', mutation);
        }
        release();
        await server.services.runner.settled(stop.stopContainer.operation.id);
      } finally {
        fake.gate = null;
        release();
      }
      assert.equal((await owner.ok(`query($id: ID!) { container(id: $id) { status operation { action state progress } } }`, { id })).container.status, 'STOPPED');
      const history = await owner.ok(`query($id: ID!) { operations(containerId: $id) { edges { node { action state } } } }`, { id });
      assert.deepEqual(history.operations.edges.map((e: any) => [e.node.action, e.node.state]), [['container.stop', 'SUCCEEDED'], ['container.create', 'SUCCEEDED']]);
    });

    test('the periodic reconcile catches what no event reported: stopped, then deleted behind Corral’s back', async () => {
      // The fake sends no events at all, so only the reconcile can notice.
      const created = await create('drifting');
      await settle(created);
      const id = created.data.createContainer.id;
      const instance = [...fake.instances.entries()].find(([k]) => k.endsWith('/drifting'))!;
      instance[1].status = 'Stopped';
      const read = async () => (await owner.ok(`query($id: ID!) { container(id: $id) { status statusReason } }`, { id })).container;
      for (let i = 0; i < 100 && (await read()).status !== 'STOPPED'; i++) await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal((await read()).status, 'STOPPED');
      fake.instances.delete(instance[0]);
      for (let i = 0; i < 100 && (await read()).status !== 'ERROR'; i++) await new Promise((resolve) => setTimeout(resolve, 50));
      assert.deepEqual(await read(), { status: 'ERROR', statusReason: 'missing on its node' });
      await settle(await owner.gql(`mutation($id: ID!) { deleteContainer(id: $id) { id operation { id } } }`, { id }));
    });

    test('placement respects the cluster overcommit and refuses a container that fits nowhere', async () => {
      // 2 threads × 2 overcommit = 4 CPUs; 1 GiB memory.
      assert.equal(codeOf(await create('too-much-memory', { memoryMiB: 2048 })), 'CAPACITY_EXCEEDED');
      assert.equal(codeOf(await create('too-many-cpus', { cpu: 5 })), 'CAPACITY_EXCEEDED');
      const node = (await admin.ok(`{ nodes { edges { node { allocated { containers cpu memoryBytes } } } } }`)).nodes.edges[0].node;
      assert.equal(node.allocated.containers, 2);
      assert.equal(node.allocated.cpu, 2);
    });

    test('creates racing for the last room on a node never overcommit it: as many succeed as fit, the rest are CAPACITY_EXCEEDED', async () => {
      // 2 threads × 2 overcommit = 4 CPUs; what is left goes to exactly that many 1-CPU containers.
      const allocated = async () => (await admin.ok(`{ nodes { edges { node { allocated { cpu } } } } }`)).nodes.edges[0].node.allocated.cpu as number;
      const room = 4 - (await allocated());
      assert.ok(room >= 1, `room for ${room}`);
      const results = await Promise.all(Array.from({ length: room + 3 }, (_, i) => create(`race-${i}`, { memoryMiB: 64 })));
      const made = results.filter((r) => r.data?.createContainer);
      assert.equal(made.length, room, JSON.stringify(results.map((r) => r.errors?.[0]?.extensions?.code ?? 'created')));
      assert.deepEqual(new Set(results.filter((r) => !r.data?.createContainer).map(codeOf)), new Set(['CAPACITY_EXCEEDED']));
      assert.equal(await allocated(), 4);
      for (const r of made) await settle(r);
      for (const r of made) await settle(await owner.gql(`mutation($id: ID!) { deleteContainer(id: $id) { id operation { id } } }`, { id: r.data.createContainer.id }));
    });

    test('a project with containers cannot be deleted; a deleted container is gone from the node and its history stays', async () => {
      const project = (await owner.ok(`query($p: ID!) { project(id: $p) { account { id } } }`, { p: projectId })).project;
      void project;
      assert.equal(codeOf(await owner.gql(`mutation($p: ID!) { deleteProject(id: $p) { id } }`, { p: projectId })), 'CONFLICT');
      const all = (await owner.ok(`query($p: ID!) { containers(projectId: $p) { edges { node { id name } } } }`, { p: projectId })).containers.edges.map((e: any) => e.node);
      for (const c of all) await settle(await owner.gql(`mutation($id: ID!) { deleteContainer(id: $id) { id operation { id } } }`, { id: c.id }));
      assert.equal(fake.instances.size, 0);
      const history = await owner.ok(`query($id: ID!) { operations(containerId: $id) { edges { node { action state } } } }`, { id: all[0].id });
      assert.equal(history.operations.edges[0].node.action, 'container.delete');
      assert.equal((await owner.ok(`mutation($p: ID!) { deleteProject(id: $p) { id } }`, { p: projectId })).deleteProject.id, projectId);
    });
  });
});
