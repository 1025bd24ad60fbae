import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ContainerFirewallSettings } from '../../server/firewall/firewall.entity';
import { NodeSetup } from '../../server/provisioning/node-setup.entity';
import { Caller, codeOf } from '../support/client';
import { createAccount, createProject, signInAsAdmin, signInAsNewUser, unique } from '../support/factories';
import { FakeGateway } from '../support/fake-gateway';
import { forEachDatabase, startTestServer, type TestServer } from '../support/server';

const SET = `mutation($i: SetContainerFirewallInput!) { setContainerFirewall(input: $i) { id firewall { tcpConnectionLimit inboundPorts { protocol from to } } } }`;
const READ = `query($id: ID!) { container(id: $id) { firewall { tcpConnectionLimit inboundPorts { protocol from to } } } }`;
const EVENTS = `query($a: ID, $action: String) { auditEvents(accountId: $a, action: $action, first: 100) { edges { node { action outcome errorCode targetId } } } }`;
const OPEN = { tcpConnectionLimit: null, inboundPorts: null };

/**
 * Corral's side of the container firewall, with LXD replaced by the in-memory fake. The rules on
 * real nodes, with real packets, are in test/e2e/firewall.test.ts.
 */
forEachDatabase((TEST_DB) => {
  describe(`container firewall settings, Corral's side (${TEST_DB})`, () => {
    let server: TestServer;
    let owner: Caller;
    let customerId: string;
    let projectId: string;
    let imageId: string;
    /** A cluster whose node was added with addNode: no SSH, so Corral cannot manage its firewall. */
    let plainClusterId: string;
    /** A cluster whose node counts as connected over SSH, at an address where nothing answers. */
    let sshClusterId: string;

    before(async () => {
      const imageDir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-images-'));
      fs.writeFileSync(path.join(imageDir, 'tiny.tar.gz'), 'stand-in image');
      server = await startTestServer(TEST_DB, { CORRAL_IMAGE_DIR: imageDir }, { gateway: new FakeGateway() });
      const admin = await signInAsAdmin(server.url);
      imageId = (await admin.ok(`{ images { edges { node { id } } } }`)).images.edges[0].node.id;
      const node = async (cluster: string, name: string, address: string) => {
        const clusterId = (await admin.ok(`mutation($n: String!) { createCluster(input: { name: $n }) { id } }`, { n: cluster })).createCluster.id;
        const nodeId = (await admin.ok(`mutation($c: ID!, $n: String!, $u: String!) { addNode(input: { clusterId: $c, name: $n, url: $u, secret: "fake-secret" }) { id } }`, { c: clusterId, n: name, u: `https://${address}:8443` })).addNode.id;
        return { clusterId, nodeId };
      };
      plainClusterId = (await node('plain', 'p1', '198.18.0.201')).clusterId;
      const ssh = await node('ssh', 's1', '198.18.0.202');
      sshClusterId = ssh.clusterId;
      // As connectNode leaves it, but at a loopback port where nothing listens.
      await server.db.manager.insert(NodeSetup, { nodeId: ssh.nodeId, host: '127.0.0.2', port: 9, user: 'root', hostKeyFingerprint: 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', corralKeyInstalled: true, os: 'Debian GNU/Linux 12 (bookworm)', step: null, output: null, changedTasks: null });
      const customer = await createAccount(admin, 'CUSTOMER');
      customerId = customer.id;
      owner = (await signInAsNewUser(admin, customer.id, 'CUSTOMER_OWNER')).caller;
      projectId = (await createProject(owner, customer.id)).id;
    });
    after(() => server.stop());

    const container = async (clusterId: string): Promise<string> => {
      const created = (await owner.ok(`mutation($i: CreateContainerInput!) { createContainer(input: $i) { id operation { id } } }`, { i: { projectId, clusterId, name: unique('fw'), imageId, cpu: 1, memoryMiB: 64, diskMiB: 128 } })).createContainer;
      await server.services.runner.settled(created.operation.id);
      return created.id;
    };
    const stored = (containerId: string) => server.db.manager.findOneBy(ContainerFirewallSettings, { containerId });

    test('bad input is BAD_USER_INPUT naming the field, and changes nothing', async () => {
      const id = await container(plainClusterId);
      const cases: [Record<string, unknown>, string][] = [
        [{ tcpConnectionLimit: 0 }, 'tcpConnectionLimit'],
        [{ tcpConnectionLimit: 100_001 }, 'tcpConnectionLimit'],
        [{ inboundPorts: [{ protocol: 'TCP', from: 0 }] }, 'inboundPorts'],
        [{ inboundPorts: [{ protocol: 'UDP', from: 70, to: 65_536 }] }, 'inboundPorts'],
        [{ inboundPorts: [{ protocol: 'TCP', from: 9000, to: 8000 }] }, 'inboundPorts'],
        [{ inboundPorts: Array.from({ length: 65 }, (_, i) => ({ protocol: 'TCP', from: i + 1 })) }, 'inboundPorts'],
      ];
      for (const [input, field] of cases) {
        const res = await owner.gql(SET, { i: { containerId: id, ...input } });
        assert.equal(codeOf(res), 'BAD_USER_INPUT', JSON.stringify(res.errors));
        assert.equal(res.errors?.[0]?.extensions?.field, field, JSON.stringify(input));
      }
      assert.equal(await stored(id), null);
      assert.deepEqual((await owner.ok(READ, { id })).container.firewall, OPEN);
    });

    test('on a node added without SSH, rules are refused with NODE_UNAVAILABLE and nothing is stored; clearing is allowed', async () => {
      const id = await container(plainClusterId);
      const refused = await owner.gql(SET, { i: { containerId: id, tcpConnectionLimit: 10 } });
      assert.equal(codeOf(refused), 'NODE_UNAVAILABLE');
      assert.match(refused.errors![0]!.message, /without SSH/);
      assert.equal(await stored(id), null);
      const cleared = (await owner.ok(SET, { i: { containerId: id } })).setContainerFirewall;
      assert.deepEqual(cleared, { id, firewall: OPEN });
    });

    test('on a managed node that cannot be reached, the settings are saved, the answer says they were not applied, and both are audited', async () => {
      const id = await container(sshClusterId);
      const input = { containerId: id, tcpConnectionLimit: 20, inboundPorts: [{ protocol: 'TCP', from: 22 }, { protocol: 'UDP', from: 60_000, to: 61_000 }] };
      const res = await owner.gql(SET, { i: input });
      assert.equal(codeOf(res), 'NODE_UNAVAILABLE', JSON.stringify(res.errors));
      assert.match(res.errors![0]!.message, /saved, but the node did not apply them/);
      const expected = { tcpConnectionLimit: 20, inboundPorts: [{ protocol: 'TCP', from: 22, to: 22 }, { protocol: 'UDP', from: 60_000, to: 61_000 }] };
      assert.deepEqual((await owner.ok(READ, { id })).container.firewall, expected);

      const bad = await owner.gql(SET, { i: { containerId: id, tcpConnectionLimit: -1 } });
      assert.equal(codeOf(bad), 'BAD_USER_INPUT');
      assert.deepEqual((await owner.ok(READ, { id })).container.firewall, expected, 'a refused change leaves the saved settings alone');
      const events = (await owner.ok(EVENTS, { a: customerId, action: 'container.setFirewall' })).auditEvents.edges.map((e: any) => e.node).filter((e: any) => e.targetId === id);
      assert.deepEqual(events.map((e: any) => [e.outcome, e.errorCode]), [['FAILURE', 'BAD_USER_INPUT'], ['SUCCESS', null]]);
    });

    test('the settings go with their container', async () => {
      const id = await container(sshClusterId);
      await owner.gql(SET, { i: { containerId: id, tcpConnectionLimit: 5 } });
      assert.equal((await stored(id))?.tcpConnectionLimit, 5);
      const deleted = (await owner.ok(`mutation($id: ID!) { deleteContainer(id: $id) { operation { id } } }`, { id })).deleteContainer;
      await server.services.runner.settled(deleted.operation.id);
      assert.equal(await stored(id), null);
    });

    test("another customer's owner cannot read or change them", async () => {
      const id = await container(plainClusterId);
      const admin = await signInAsAdmin(server.url);
      const other = await createAccount(admin, 'CUSTOMER');
      const stranger = (await signInAsNewUser(admin, other.id, 'CUSTOMER_OWNER')).caller;
      assert.equal(codeOf(await stranger.gql(SET, { i: { containerId: id } })), 'NOT_FOUND');
      assert.equal(codeOf(await stranger.gql(READ, { id })), 'NOT_FOUND');
    });
  });
});
