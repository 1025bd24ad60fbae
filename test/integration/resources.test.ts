import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Caller, codeOf } from '../support/client';
import { createAccount, createProject, signInAsAdmin, signInAsNewUser, unique } from '../support/factories';
import { FakeGateway } from '../support/fake-gateway';
import { forEachDatabase, startTestServer, type TestServer } from '../support/server';

const MiB = 1024 * 1024;

/**
 * Corral's side of live resource changes, with LXD replaced by the in-memory fake: the faults
 * that real LXD cannot be made to produce on demand. The effects on real nodes are in test/e2e/resources.test.ts.
 */
forEachDatabase((TEST_DB) => {
  describe(`resource changes, Corral's side (${TEST_DB})`, () => {
    let server: TestServer;
    let fake: FakeGateway;
    let owner: Caller;
    let projectId: string;
    let imageId: string;
    before(async () => {
      const imageDir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-images-'));
      fs.writeFileSync(path.join(imageDir, 'tiny.tar.gz'), 'stand-in image');
      fake = new FakeGateway();
      server = await startTestServer(TEST_DB, { CORRAL_IMAGE_DIR: imageDir }, { gateway: fake });
      const admin = await signInAsAdmin(server.url);
      imageId = (await admin.ok(`{ images { edges { node { id } } } }`)).images.edges[0].node.id;
      const clusterId = (await admin.ok(`mutation { createCluster(input: { name: "main" }) { id } }`)).createCluster.id;
      await admin.ok(`mutation($c: ID!) { addNode(input: { clusterId: $c, name: "n1", url: "https://198.18.0.201:8443", secret: "fake-secret" }) { id } }`, { c: clusterId });
      const customer = await createAccount(admin, 'CUSTOMER');
      owner = (await signInAsNewUser(admin, customer.id, 'CUSTOMER_OWNER')).caller;
      projectId = (await createProject(owner, customer.id)).id;
    });
    after(() => server.stop());

    const running = async () => {
      const name = unique('c');
      const created = (await owner.ok(`mutation($i: CreateContainerInput!) { createContainer(input: $i) { id operation { id } } }`, { i: { projectId, name, imageId, cpu: 1, memoryMiB: 128, diskMiB: 256 } })).createContainer;
      await server.services.runner.settled(created.operation.id);
      const entry = [...fake.configs.entries()].find(([key]) => key.endsWith(`/${name}`))![1];
      return { id: created.id as string, entry };
    };
    const resize = async (id: string, diskMiB: number) => {
      const res = await owner.gql(`mutation($id: ID!, $d: Int!) { resizeContainerDisk(id: $id, diskMiB: $d) { id operation { id } } }`, { id, d: diskMiB });
      if (res.data?.resizeContainerDisk) await server.services.runner.settled(res.data.resizeContainerDisk.operation.id);
      return res;
    };
    const row = async (id: string) => (await owner.ok(`query($id: ID!) { container(id: $id) { diskBytes operation { action state errorCode errorMessage } } }`, { id })).container;

    test('a resize the node refuses half-way puts the previous size back, fails with LXD_ERROR and keeps the old size on the row', async () => {
      const { id, entry } = await running();
      const sizes: string[] = [];
      const original = fake.resources.setRootDisk;
      fake.resources.setRootDisk = async (node, project, name, device) => {
        sizes.push(device.size!);
        // Like btrfs: the new limit lands, then LXD reports the failure.
        const result = await original(node, project, name, device);
        if (sizes.length === 1) throw Object.assign(new Error('Failed to update device "root": Disk quota exceeded'), { name: 'LxdError', status: 500 });
        return result;
      };
      try {
        const res = await resize(id, 512);
        assert.equal(res.errors, undefined);
      } finally {
        fake.resources.setRootDisk = original;
      }
      assert.deepEqual(sizes, [`${512 * MiB}B`, `${256 * MiB}B`]);
      assert.equal(entry.root.size, `${256 * MiB}B`);
      const after = await row(id);
      assert.equal(Number(after.diskBytes), 256 * MiB);
      assert.deepEqual([after.operation.action, after.operation.state, after.operation.errorCode], ['container.resizeDisk', 'FAILED', 'LXD_ERROR']);
      assert.match(after.operation.errorMessage, /keeps its size/);
    });

    test('a shrink below what the container uses is refused before the node is asked to change anything', async () => {
      const { id, entry } = await running();
      entry.usageBytes = 200 * MiB;
      let calls = 0;
      const original = fake.resources.setRootDisk;
      fake.resources.setRootDisk = async (...args) => {
        calls++;
        return original(...args);
      };
      try {
        const refused = await resize(id, 128);
        assert.equal(codeOf(refused), 'BAD_USER_INPUT');
        assert.equal(refused.errors?.[0]?.extensions?.field, 'diskMiB');
        // Usage 200 MiB plus the 64 MiB margin.
        assert.equal(refused.errors?.[0]?.extensions?.minimumMiB, 264);
      } finally {
        fake.resources.setRootDisk = original;
      }
      assert.equal(calls, 0);
      assert.equal(entry.root.size, `${256 * MiB}B`);
      assert.equal(Number((await row(id)).diskBytes), 256 * MiB);
      assert.equal((await row(id)).operation.action, 'container.create');
      const ok = await resize(id, 300);
      assert.equal(ok.errors, undefined);
      assert.equal(entry.root.size, `${300 * MiB}B`);
    });

    test('resource changes are written to the container and to the node config as LXD keys', async () => {
      const { id, entry } = await running();
      const res = await owner.ok(`mutation($id: ID!) { updateContainerResources(id: $id, input: { cpu: 2, memoryMiB: 64, cpuLimitPercent: 150, cpuWeight: 0 }) { operation { id } } }`, { id });
      await server.services.runner.settled(res.updateContainerResources.operation.id);
      assert.deepEqual(entry.config, { 'limits.cpu': '2', 'limits.memory': `${64 * MiB}B`, 'cloud-init.network-config': 'config: disabled\n', 'limits.cpu.allowance': '150ms/100ms', 'limits.cpu.priority': '0' });
      const after = (await owner.ok(`query($id: ID!) { container(id: $id) { cpu memoryBytes cpuLimitPercent cpuWeight operation { state } } }`, { id })).container;
      assert.deepEqual(after, { cpu: 2, memoryBytes: 64 * MiB, cpuLimitPercent: 150, cpuWeight: 0, operation: { state: 'SUCCEEDED' } });
    });
  });
});
