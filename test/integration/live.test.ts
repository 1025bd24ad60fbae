import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { generateLicenceKeyPair, issueLicence } from '../../server/licences/licence-document';
import { Caller } from '../support/client';
import { twoTenants } from '../support/factories';
import { FakeGateway } from '../support/fake-gateway';
import { subscribe } from '../support/live';
import { forEachDatabase, startTestServer, type TestServer } from '../support/server';

const CONTAINER_CHANGED = `subscription($c: ID, $p: ID) { containerChanged(containerId: $c, projectId: $p) { id name status statusReason operation { action state } } }`;
const OPERATION_PROGRESS = `subscription($id: ID!) { operationProgress(operationId: $id) { id action state progress step } }`;
const NODE_CHANGED = `subscription($id: ID) { nodeChanged(nodeId: $id) { id status } }`;

/** Live subscriptions against the fake gateway: refusals, publish points, per-event access. */
forEachDatabase((TEST_DB) => {
  describe(`live subscriptions (${TEST_DB})`, () => {
    let server: TestServer;
    let fake: FakeGateway;
    let f: Awaited<ReturnType<typeof twoTenants>>;
    let nodeId: string;
    let imageId: string;
    const keys = generateLicenceKeyPair();

    before(async () => {
      const imageDir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-images-'));
      fs.writeFileSync(path.join(imageDir, 'tiny.tar.gz'), 'stand-in image');
      fake = new FakeGateway();
      server = await startTestServer(TEST_DB, { CORRAL_IMAGE_DIR: imageDir, CORRAL_LICENCE_PUBLIC_KEY: keys.publicKey }, { gateway: fake });
      f = await twoTenants(server.url);
      await f.admin.ok(`mutation($l: String!) { installLicence(licence: $l) { licensee } }`, {
        l: issueLicence({ licensee: 'Live', maxNodes: 10, maxContainers: 50, expiresAt: '2099-01-01T00:00:00Z' }, keys.privateKey),
      });
      const cluster = (await f.admin.ok(`mutation { createCluster(input: { name: "lab" }) { id } }`)).createCluster.id;
      nodeId = (await f.admin.ok(`mutation($c: ID!) { addNode(input: { clusterId: $c, name: "node-a", url: "https://198.18.0.211:8443", secret: "fake-secret" }) { id } }`, { c: cluster })).addNode.id;
      imageId = (await f.admin.ok(`{ images { edges { node { id name } } } }`)).images.edges.find((e: any) => e.node.name === 'tiny').node.id;
    });
    after(() => server.stop());

    const create = async (name: string) => {
      const created = (await f.ownerA.caller.ok(`mutation($i: CreateContainerInput!) { createContainer(input: $i) { id operation { id } } }`, {
        i: { projectId: f.projectA.id, name, imageId, cpu: 1, memoryMiB: 64, diskMiB: 128 },
      })).createContainer;
      await server.services.runner.settled(created.operation.id);
      return { id: created.id as string, operationId: created.operation.id as string };
    };
    const lxdKey = (name: string) => `${nodeId}/corral-${f.projectA.id.replaceAll('-', '')}/${name}`;
    const statusOf = async (id: string) => (await f.ownerA.caller.ok(`query($id: ID!) { container(id: $id) { status } }`, { id })).container.status;
    /** Makes the server announce a change of the container (nothing changes): proves a subscription is registered. */
    const poke = (id: string) => () => server.services.livePublisher.containerChanged(id);

    test('refused when subscribing: another tenant gets NOT_FOUND, a tenant gets FORBIDDEN for nodes, bad arguments BAD_USER_INPUT; nothing is sent', async () => {
      const { id, operationId } = await create('refusals');
      const refusals: [string, Caller, string, Record<string, unknown>, string][] = [
        ["another customer's member, by container", f.memberB.caller, CONTAINER_CHANGED, { c: id }, 'NOT_FOUND'],
        ["another customer's member, by project", f.memberB.caller, CONTAINER_CHANGED, { p: f.projectA.id }, 'NOT_FOUND'],
        ["another reseller's admin, by container", f.resellerAdminB.caller, CONTAINER_CHANGED, { c: id }, 'NOT_FOUND'],
        ["another customer's member, an operation", f.memberB.caller, OPERATION_PROGRESS, { id: operationId }, 'NOT_FOUND'],
        ['an unknown container', f.ownerA.caller, CONTAINER_CHANGED, { c: 'not-an-id' }, 'NOT_FOUND'],
        ['neither container nor project', f.ownerA.caller, CONTAINER_CHANGED, {}, 'BAD_USER_INPUT'],
        ['both container and project', f.ownerA.caller, CONTAINER_CHANGED, { c: id, p: f.projectA.id }, 'BAD_USER_INPUT'],
        ['a tenant, nodes', f.ownerA.caller, NODE_CHANGED, {}, 'FORBIDDEN'],
        ['an admin, an unknown node', f.admin, NODE_CHANGED, { id: '00000000-0000-4000-8000-000000000000' }, 'NOT_FOUND'],
      ];
      for (const [who, caller, query, variables, code] of refusals) {
        const sub = subscribe(caller.ws(), { query, variables });
        const ended = await sub.end();
        assert.equal(ended.errors?.[0]?.extensions?.code, code, `${who}: ${JSON.stringify(ended)}`);
        assert.deepEqual(sub.events, [], `${who} got data`);
        await sub.close();
      }
      const anonymous = subscribe(new Caller(server.url).ws(), { query: CONTAINER_CHANGED, variables: { c: id } });
      assert.equal((await anonymous.end()).closeCode, 4403);
    });

    test('containerChanged by container and by project follows a stop through Corral; the other tenant sees nothing', async () => {
      const { id } = await create('stopped-by-corral');
      const byContainer = subscribe(f.ownerA.caller.ws(), { query: CONTAINER_CHANGED, variables: { c: id } });
      const byProject = subscribe(f.ownerA.caller.ws(), { query: CONTAINER_CHANGED, variables: { p: f.projectA.id } });
      try {
        await byContainer.ready(poke(id));
        await byProject.ready(poke(id));
        const stop = await f.ownerA.caller.ok(`mutation($id: ID!) { stopContainer(id: $id) { operation { id } } }`, { id });
        await server.services.runner.settled(stop.stopContainer.operation.id);
        for (const sub of [byContainer, byProject]) {
          const stopped = await sub.until('STOPPED', (d) => d.containerChanged.status === 'STOPPED' && d.containerChanged.operation.state === 'SUCCEEDED');
          assert.deepEqual([stopped.containerChanged.id, stopped.containerChanged.operation.action], [id, 'container.stop']);
        }
        // The project's stream carries a new container of the project too.
        const other = await create('second-in-project');
        await byProject.until('the new container', (d) => d.containerChanged.id === other.id && d.containerChanged.status === 'RUNNING');
        assert.ok(byContainer.events.every((d) => d.containerChanged.id === id), 'by container: only that container');
      } finally {
        await byContainer.close();
        await byProject.close();
      }
    });

    test('a change on the node behind Corral\'s back reaches subscribers: an LXD lifecycle event, a reconcile, a dropped event stream that reconnects and reconciles', async () => {
      const { id } = await create('behind-the-back');
      const name = 'behind-the-back';
      const lxdProject = `corral-${f.projectA.id.replaceAll('-', '')}`;
      await server.services.nodeWatch.connectAll();
      assert.ok(fake.watchers.has(nodeId), 'the node\'s event stream is open');
      const sub = subscribe(f.ownerA.caller.ws(), { query: CONTAINER_CHANGED, variables: { c: id } });
      try {
        await sub.ready(poke(id));
        // 1. An LXD lifecycle event on the node's stream.
        fake.instances.get(lxdKey(name))!.status = 'Stopped';
        const started = Date.now();
        fake.watchers.get(nodeId)!.onEvent({ project: lxdProject, action: 'instance-shutdown', instance: name });
        await sub.until('STOPPED from an LXD event', (d) => d.containerChanged.status === 'STOPPED', 2000);
        console.log(`# LXD event to subscriber: ${Date.now() - started} ms`);
        // 2. A reconcile that finds the node differs from the row.
        fake.instances.get(lxdKey(name))!.status = 'Running';
        await server.services.nodeWatch.reconcileAll();
        await sub.until('RUNNING from a reconcile', (d) => d.containerChanged.status === 'RUNNING');
        // 3. The stream drops; while it is down the container stops; the watch reconnects (backoff) and reconciles.
        const dropped = fake.watchers.get(nodeId)!;
        fake.watchers.delete(nodeId);
        fake.instances.get(lxdKey(name))!.status = 'Stopped';
        const count = sub.events.length;
        dropped.onClose(new Error('the connection was reset'));
        await sub.until('STOPPED after the reconnect', (d) => sub.events.indexOf(d) >= count && d.containerChanged.status === 'STOPPED', 10_000);
        assert.ok(fake.watchers.has(nodeId), 'the event stream was opened again');
        assert.equal(await statusOf(id), 'STOPPED');
      } finally {
        await sub.close();
      }
    });

    test('operationProgress: a running operation\'s steps, up to SUCCEEDED at 100, then the subscription completes', async () => {
      const { id } = await create('progress');
      let open!: () => void;
      fake.gate = new Promise<void>((resolve) => (open = resolve));
      try {
        const restart = await f.ownerA.caller.ok(`mutation($id: ID!) { restartContainer(id: $id) { operation { id } } }`, { id });
        const operationId = restart.restartContainer.operation.id;
        const sub = subscribe(f.ownerA.caller.ws(), { query: OPERATION_PROGRESS, variables: { id: operationId } });
        // The operation as it is now comes first; it is held at the gate, unfinished.
        const first = await sub.until('the current state', () => true);
        assert.ok(['PENDING', 'RUNNING'].includes(first.operationProgress.state), JSON.stringify(first));
        open();
        const ended = await sub.end();
        assert.deepEqual(ended, { complete: true });
        const last = sub.events.at(-1).operationProgress;
        assert.deepEqual([last.id, last.state, last.progress], [operationId, 'SUCCEEDED', 100]);
        const progress = sub.events.map((d) => d.operationProgress.progress);
        assert.deepEqual(progress, [...progress].sort((a, b) => a - b), 'progress never goes back');
        assert.ok(sub.events.length >= 2, `live updates after the first: ${JSON.stringify(sub.events)}`);
        // A finished operation: its final state at once, then complete.
        const late = subscribe(f.ownerA.caller.ws(), { query: OPERATION_PROGRESS, variables: { id: operationId } });
        assert.deepEqual(await late.end(), { complete: true });
        assert.deepEqual(late.events.map((d) => d.operationProgress.state), ['SUCCEEDED']);
      } finally {
        open();
        fake.gate = null;
      }
    });

    test('access is checked for every event: a revoked token\'s subscription ends and receives nothing more, while a valid one goes on', async () => {
      const { id } = await create('revoked');
      const token = (await f.ownerA.caller.ok(`mutation { createApiToken(input: { name: "live", permissions: [CONTAINERS_READ] }) { token apiToken { id } } }`)).createApiToken;
      const viaToken = subscribe(new Caller(server.url, token.token).ws(), { query: CONTAINER_CHANGED, variables: { c: id } });
      const viaSession = subscribe(f.ownerA.caller.ws(), { query: CONTAINER_CHANGED, variables: { c: id } });
      try {
        await viaToken.ready(poke(id));
        await viaSession.ready(poke(id));
        await f.ownerA.caller.ok(`mutation($id: ID!) { revokeApiToken(id: $id) { id } }`, { id: token.apiToken.id });
        const before = viaToken.events.length;
        const stop = await f.ownerA.caller.ok(`mutation($id: ID!) { stopContainer(id: $id) { operation { id } } }`, { id });
        await server.services.runner.settled(stop.stopContainer.operation.id);
        await viaSession.until('STOPPED for the valid session', (d) => d.containerChanged.status === 'STOPPED');
        assert.deepEqual(await viaToken.end(), { complete: true });
        assert.equal(viaToken.events.length, before, `the revoked token got ${JSON.stringify(viaToken.events.slice(before))}`);
        assert.equal(viaSession.ended, null, 'the valid subscription goes on');
      } finally {
        await viaToken.close();
        await viaSession.close();
      }
    });

    test('deleting the container ends its subscription after the DELETING state', async () => {
      const { id } = await create('deleted');
      const sub = subscribe(f.ownerA.caller.ws(), { query: CONTAINER_CHANGED, variables: { c: id } });
      try {
        await sub.ready(poke(id));
        const deleted = await f.ownerA.caller.ok(`mutation($id: ID!) { deleteContainer(id: $id) { operation { id } } }`, { id });
        await server.services.runner.settled(deleted.deleteContainer.operation.id);
        assert.deepEqual(await sub.end(), { complete: true });
        assert.ok(sub.events.some((d) => d.containerChanged.status === 'DELETING'), JSON.stringify(sub.events));
      } finally {
        await sub.close();
      }
    });

    test('nodeChanged: a provider admin sees a node go OFFLINE and come back READY after health checks', async () => {
      const sub = subscribe(f.admin.ws(), { query: NODE_CHANGED, variables: { id: nodeId } });
      const capacity = fake.capacity.bind(fake);
      try {
        await sub.ready(() => server.services.livePublisher.nodeChanged(nodeId));
        fake.capacity = async () => {
          throw new Error('connection refused');
        };
        await server.services.nodes.checkHealth();
        await sub.until('OFFLINE', (d) => d.nodeChanged.status === 'OFFLINE');
        fake.capacity = capacity;
        await server.services.nodes.checkHealth();
        const count = sub.events.length;
        await sub.until('READY again', (d) => sub.events.indexOf(d) >= count - 1 && d.nodeChanged.status === 'READY');
      } finally {
        fake.capacity = capacity;
        await sub.close();
      }
    });
  });
});
