import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { getNamedType, isInputObjectType, type GraphQLArgument, type GraphQLInputType, GraphQLID } from 'graphql';
import { buildCorralSchema } from '../../server/app/schema';
import { Caller, codeOf } from '../support/client';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createProject, twoTenants } from '../support/factories';
import { FakeGateway } from '../support/fake-gateway';
import { generateLicenceKeyPair, issueLicence } from '../../server/licences/licence-document';
import { startTestServer, forEachDatabase, type TestServer } from '../support/server';
import { firstOutcome } from '../support/subscriptions';
import { MetricsTopics } from '../../server/metrics/metrics.topics';
import { ContainerFirewallSettings } from '../../server/firewall/firewall.entity';

type Fixture = Awaited<ReturnType<typeof twoTenants>> & {
  clusterId: string;
  nodeId: string;
  /** A second node of the cluster, to migrate to. */
  spareNodeId: string;
  /** A node connected over SSH whose setup failed (nothing listens on its address), for retryNodeSetup. */
  setupNodeId: string;
  imageId: string;
  spareImageId: string;
  containerA: { id: string; operationId: string };
  emptyProjectA: { id: string };
  /** An IP pool of the cluster (the provider's). */
  ipPoolId: string;
  /** A READY backup of a stopped container of tenant A (restorable in place). */
  backupA: { id: string; containerId: string };
};
type Request = { query: string; variables: Record<string, unknown> };
interface Row {
  /** Runs the operation against tenant A's objects. */
  request(f: Fixture): Request;
  /** Who in tenant A's chain may run it: proves the row is a real, working operation. */
  rightful(f: Fixture): Caller;
  /** A filter that others may use, answered with nothing of tenant A's. */
  emptyForOthers?: boolean;
  /** The shared image catalogue: readable by every signed-in caller, by design. */
  openToTenants?: boolean;
  /** Subscriptions: what makes the server send the rightful caller an event (default: a project is created), and what the event must hold. */
  delivers?: { trigger(f: Fixture, server: TestServer): Promise<unknown>; check(data: any, f: Fixture): boolean };
}

/** Announces a change (nothing changes) every 50 ms for 4 s, so that one lands after the subscription is registered. */
const announce = async (send: () => void) => {
  for (let i = 0; i < 80; i++) {
    send();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
};

/**
 * Every operation that takes an ID, run against tenant A's objects. A test below fails when the
 * schema gains such an operation without a row here.
 */
const matrix: Record<string, Row> = {
  'Query.account': { request: (f) => ({ query: `query($id: ID!) { account(id: $id) { id } }`, variables: { id: f.customerA.id } }), rightful: (f) => f.ownerA.caller },
  'Query.accounts': {
    request: (f) => ({ query: `query($id: ID) { accounts(parentId: $id) { edges { node { id } } } }`, variables: { id: f.resellerA.id } }),
    rightful: (f) => f.resellerAdminA.caller,
  },
  'Query.auditEvents': {
    request: (f) => ({ query: `query($id: ID) { auditEvents(accountId: $id) { edges { node { id } } } }`, variables: { id: f.customerA.id } }),
    rightful: (f) => f.ownerA.caller,
  },
  'Query.project': { request: (f) => ({ query: `query($id: ID!) { project(id: $id) { id } }`, variables: { id: f.projectA.id } }), rightful: (f) => f.ownerA.caller },
  'Query.projects': {
    request: (f) => ({ query: `query($id: ID) { projects(accountId: $id) { edges { node { id } } } }`, variables: { id: f.customerA.id } }),
    rightful: (f) => f.ownerA.caller,
  },
  'Query.user': { request: (f) => ({ query: `query($id: ID!) { user(id: $id) { id } }`, variables: { id: f.ownerA.user.id } }), rightful: (f) => f.ownerA.caller },
  'Query.users': {
    request: (f) => ({ query: `query($id: ID) { users(accountId: $id) { edges { node { id } } } }`, variables: { id: f.customerA.id } }),
    rightful: (f) => f.ownerA.caller,
  },
  'Mutation.createAccount': {
    request: (f) => ({ query: `mutation($id: ID) { createAccount(input: { kind: CUSTOMER, name: "intruder", parentId: $id }) { id } }`, variables: { id: f.resellerA.id } }),
    rightful: (f) => f.resellerAdminA.caller,
  },
  'Mutation.createApiToken': {
    request: (f) => ({ query: `mutation($id: ID) { createApiToken(input: { name: "intruder", accountId: $id, permissions: [PROJECTS_READ] }) { token } }`, variables: { id: f.customerA.id } }),
    rightful: (f) => f.ownerA.caller,
  },
  'Mutation.createProject': {
    request: (f) => ({ query: `mutation($id: ID!) { createProject(input: { accountId: $id, name: "intruder" }) { id } }`, variables: { id: f.customerA.id } }),
    rightful: (f) => f.ownerA.caller,
  },
  'Mutation.createUser': {
    request: (f) => ({
      query: `mutation($id: ID!) { createUser(input: { accountId: $id, email: "intruder@example.test", password: "a long password", role: CUSTOMER_OWNER }) { id } }`,
      variables: { id: f.customerA.id },
    }),
    rightful: (f) => f.ownerA.caller,
  },
  'Mutation.deleteProject': { request: (f) => ({ query: `mutation($id: ID!) { deleteProject(id: $id) { id } }`, variables: { id: f.emptyProjectA.id } }), rightful: (f) => f.ownerA.caller },
  'Mutation.revokeApiToken': { request: (f) => ({ query: `mutation($id: ID!) { revokeApiToken(id: $id) { id } }`, variables: { id: f.tokenA.apiToken.id } }), rightful: (f) => f.ownerA.caller },
  'Query.container': { request: (f) => ({ query: `query($id: ID!) { container(id: $id) { id } }`, variables: { id: f.containerA.id } }), rightful: (f) => f.ownerA.caller },
  'Query.containers': {
    request: (f) => ({ query: `query($id: ID) { containers(projectId: $id) { edges { node { id } } } }`, variables: { id: f.projectA.id } }),
    rightful: (f) => f.ownerA.caller,
  },
  'Query.operation': { request: (f) => ({ query: `query($id: ID!) { operation(id: $id) { id } }`, variables: { id: f.containerA.operationId } }), rightful: (f) => f.ownerA.caller },
  'Query.operations': {
    // Filtering by another tenant's IDs is allowed but must return nothing of theirs.
    request: (f) => ({ query: `query($c: ID, $a: ID) { operations(containerId: $c, accountId: $a) { edges { node { id } } } }`, variables: { c: f.containerA.id, a: f.customerA.id } }),
    rightful: (f) => f.ownerA.caller,
    emptyForOthers: true,
  },
  'Mutation.createContainer': {
    request: (f) => ({
      query: `mutation($i: CreateContainerInput!) { createContainer(input: $i) { id } }`,
      variables: { i: { projectId: f.projectA.id, name: 'intruder', imageId: f.imageId, cpu: 1, memoryMiB: 64, diskMiB: 128 } },
    }),
    rightful: (f) => f.ownerA.caller,
  },
  'Mutation.startContainer': { request: (f) => ({ query: `mutation($id: ID!) { startContainer(id: $id) { id } }`, variables: { id: f.containerA.id } }), rightful: (f) => f.ownerA.caller },
  'Mutation.stopContainer': { request: (f) => ({ query: `mutation($id: ID!) { stopContainer(id: $id) { id } }`, variables: { id: f.containerA.id } }), rightful: (f) => f.ownerA.caller },
  'Mutation.restartContainer': { request: (f) => ({ query: `mutation($id: ID!) { restartContainer(id: $id) { id } }`, variables: { id: f.containerA.id } }), rightful: (f) => f.ownerA.caller },
  'Mutation.setContainerRootPassword': {
    request: (f) => ({ query: `mutation($id: ID!) { setContainerRootPassword(id: $id, password: "a long root password") { id } }`, variables: { id: f.containerA.id } }),
    rightful: (f) => f.ownerA.caller,
  },
  'Mutation.deleteContainer': { request: (f) => ({ query: `mutation($id: ID!) { deleteContainer(id: $id) { id } }`, variables: { id: f.containerA.id } }), rightful: (f) => f.ownerA.caller },
  'Mutation.updateContainerResources': {
    request: (f) => ({ query: `mutation($id: ID!) { updateContainerResources(id: $id, input: { cpuWeight: 5 }) { id operation { id } } }`, variables: { id: f.containerA.id } }),
    rightful: (f) => f.ownerA.caller,
  },
  'Mutation.setContainerIoLimits': {
    request: (f) => ({ query: `mutation($id: ID!) { setContainerIoLimits(id: $id, input: { readIops: 100 }) { id operation { id } } }`, variables: { id: f.containerA.id } }),
    rightful: (f) => f.ownerA.caller,
  },
  'Mutation.setContainerNetworkLimits': {
    request: (f) => ({ query: `mutation($id: ID!) { setContainerNetworkLimits(id: $id, input: { weight: 5 }) { id operation { id } } }`, variables: { id: f.containerA.id } }),
    rightful: (f) => f.ownerA.caller,
  },
  'Mutation.migrateContainer': {
    request: (f) => ({ query: `mutation($id: ID!, $t: ID!) { migrateContainer(id: $id, targetNodeId: $t) { id operation { id } } }`, variables: { id: f.containerA.id, t: f.spareNodeId } }),
    rightful: (f) => f.admin,
  },
  // Added before it is removed: the rightful run goes in this order.
  'Mutation.addNetworkInterface': {
    request: (f) => ({ query: `mutation($i: AddNetworkInterfaceInput!) { addNetworkInterface(input: $i) { id operation { id } } }`, variables: { i: { containerId: f.containerA.id, name: 'eth1' } } }),
    rightful: (f) => f.ownerA.caller,
  },
  'Mutation.removeNetworkInterface': {
    request: (f) => ({ query: `mutation($i: RemoveNetworkInterfaceInput!) { removeNetworkInterface(input: $i) { id operation { id } } }`, variables: { i: { containerId: f.containerA.id, name: 'eth1' } } }),
    rightful: (f) => f.ownerA.caller,
  },
  // Added (from the matrix pool, 198.51.100.0/28) before it is removed: the rightful run goes in this order.
  'Mutation.addContainerAddress': {
    request: (f) => ({ query: `mutation($i: AddContainerAddressInput!) { addContainerAddress(input: $i) { id operation { id } } }`, variables: { i: { containerId: f.containerA.id, family: 'IPV4', address: '198.51.100.9' } } }),
    rightful: (f) => f.ownerA.caller,
  },
  'Mutation.removeContainerAddress': {
    request: (f) => ({ query: `mutation($i: RemoveContainerAddressInput!) { removeContainerAddress(input: $i) { id operation { id } } }`, variables: { i: { containerId: f.containerA.id, address: '198.51.100.9' } } }),
    rightful: (f) => f.ownerA.caller,
  },
  // Clearing: setting rules needs a node connected over SSH, which the matrix's fake nodes are not.
  'Mutation.setContainerFirewall': {
    request: (f) => ({ query: `mutation($i: SetContainerFirewallInput!) { setContainerFirewall(input: $i) { id firewall { tcpConnectionLimit } } }`, variables: { i: { containerId: f.containerA.id, tcpConnectionLimit: null, inboundPorts: null } } }),
    rightful: (f) => f.ownerA.caller,
  },
  'Mutation.cloneContainer': {
    request: (f) => ({ query: `mutation($i: CloneContainerInput!) { cloneContainer(input: $i) { id operation { id } } }`, variables: { i: { containerId: f.containerA.id, name: 'matrix-clone' } } }),
    rightful: (f) => f.ownerA.caller,
  },
  'Mutation.createImageFromContainer': {
    // Provider admins only: the image joins the catalogue every tenant sees.
    request: (f) => ({ query: `mutation($i: CreateImageFromContainerInput!) { createImageFromContainer(input: $i) { id } }`, variables: { i: { containerId: f.containerA.id, name: 'matrix-image' } } }),
    rightful: (f) => f.admin,
  },
  // Backups, on a stopped container of their own (a restore in place needs it stopped); scheduled before unscheduled.
  'Query.backup': { request: (f) => ({ query: `query($id: ID!) { backup(id: $id) { id } }`, variables: { id: f.backupA.id } }), rightful: (f) => f.ownerA.caller },
  'Query.backups': { request: (f) => ({ query: `query($c: ID!) { backups(containerId: $c) { edges { node { id } } } }`, variables: { c: f.backupA.containerId } }), rightful: (f) => f.ownerA.caller },
  'Mutation.createBackup': { request: (f) => ({ query: `mutation($c: ID!) { createBackup(containerId: $c) { id operation { id } } }`, variables: { c: f.backupA.containerId } }), rightful: (f) => f.ownerA.caller },
  'Mutation.restoreBackup': { request: (f) => ({ query: `mutation($id: ID!) { restoreBackup(id: $id) { id operation { id } } }`, variables: { id: f.backupA.id } }), rightful: (f) => f.ownerA.caller },
  'Mutation.restoreBackupAsNew': {
    request: (f) => ({ query: `mutation($id: ID!) { restoreBackupAsNew(id: $id, name: "matrix-restored") { id operation { id } } }`, variables: { id: f.backupA.id } }),
    rightful: (f) => f.ownerA.caller,
  },
  'Mutation.setBackupSchedule': {
    request: (f) => ({ query: `mutation($c: ID!) { setBackupSchedule(containerId: $c, cron: "0 3 * * *", keep: 3) { id } }`, variables: { c: f.backupA.containerId } }),
    rightful: (f) => f.ownerA.caller,
  },
  'Mutation.removeBackupSchedule': { request: (f) => ({ query: `mutation($c: ID!) { removeBackupSchedule(containerId: $c) { id } }`, variables: { c: f.backupA.containerId } }), rightful: (f) => f.ownerA.caller },
  'Mutation.deleteBackup': { request: (f) => ({ query: `mutation($id: ID!) { deleteBackup(id: $id) { id operation { id } } }`, variables: { id: f.backupA.id } }), rightful: (f) => f.ownerA.caller },
  'Mutation.resizeContainerDisk': {
    request: (f) => ({ query: `mutation($id: ID!) { resizeContainerDisk(id: $id, diskMiB: 256) { id operation { id } } }`, variables: { id: f.containerA.id } }),
    rightful: (f) => f.ownerA.caller,
  },
  // The provider's infrastructure: tenants and resellers are refused by role.
  'Query.cluster': { request: (f) => ({ query: `query($id: ID!) { cluster(id: $id) { id } }`, variables: { id: f.clusterId } }), rightful: (f) => f.admin },
  'Query.node': { request: (f) => ({ query: `query($id: ID!) { node(id: $id) { id } }`, variables: { id: f.nodeId } }), rightful: (f) => f.admin },
  'Query.nodes': { request: (f) => ({ query: `query($id: ID) { nodes(clusterId: $id) { edges { node { id } } } }`, variables: { id: f.clusterId } }), rightful: (f) => f.admin },
  'Mutation.addNode': {
    request: (f) => ({ query: `mutation($id: ID!) { addNode(input: { clusterId: $id, name: "second", url: "https://198.18.0.202:8443", secret: "fake-secret" }) { id } }`, variables: { id: f.clusterId } }),
    rightful: (f) => f.admin,
  },
  // After addNode, so that the drain has two nodes to move to; undrain puts the node back for the rows after it.
  'Mutation.drainNode': { request: (f) => ({ query: `mutation($id: ID!) { drainNode(id: $id) { id operation { id } } }`, variables: { id: f.nodeId } }), rightful: (f) => f.admin },
  'Mutation.undrainNode': { request: (f) => ({ query: `mutation($id: ID!) { undrainNode(id: $id) { id } }`, variables: { id: f.nodeId } }), rightful: (f) => f.admin },
  // Over SSH to a loopback port where nothing listens: the setup fails at once (NODE_UNREACHABLE), the mutation itself works.
  'Mutation.connectNode': {
    request: (f) => ({ query: `mutation($id: ID!) { connectNode(input: { clusterId: $id, name: "over-ssh", host: "127.0.0.3", port: 9, password: "matrix" }) { id operation { id } } }`, variables: { id: f.clusterId } }),
    rightful: (f) => f.admin,
  },
  'Mutation.retryNodeSetup': {
    request: (f) => ({ query: `mutation($id: ID!) { retryNodeSetup(input: { id: $id, password: "matrix" }) { id operation { id } } }`, variables: { id: f.setupNodeId } }),
    rightful: (f) => f.admin,
  },
  'Query.ipPool': { request: (f) => ({ query: `query($id: ID!) { ipPool(id: $id) { id } }`, variables: { id: f.ipPoolId } }), rightful: (f) => f.admin },
  'Query.ipPools': { request: (f) => ({ query: `query($id: ID!) { ipPools(clusterId: $id) { id } }`, variables: { id: f.clusterId } }), rightful: (f) => f.admin },
  'Mutation.createIpPool': {
    request: (f) => ({ query: `mutation($id: ID!) { createIpPool(input: { clusterId: $id, name: "second", cidr: "198.51.100.16/28" }) { id } }`, variables: { id: f.clusterId } }),
    rightful: (f) => f.admin,
  },
  'Mutation.deleteIpPool': { request: (f) => ({ query: `mutation($id: ID!) { deleteIpPool(id: $id) { id } }`, variables: { id: f.ipPoolId } }), rightful: (f) => f.admin },
  'Query.image': { request: (f) => ({ query: `query($id: ID!) { image(id: $id) { id } }`, variables: { id: f.imageId } }), rightful: (f) => f.ownerA.caller, openToTenants: true },
  'Mutation.deleteImage': { request: (f) => ({ query: `mutation($id: ID!) { deleteImage(id: $id) { id } }`, variables: { id: f.spareImageId } }), rightful: (f) => f.admin },
  'Query.containerMetricsHistory': {
    request: (f) => ({
      query: `query($id: ID!, $from: DateTimeISO!, $to: DateTimeISO!) { containerMetricsHistory(id: $id, from: $from, to: $to, step: 60) { at cpuPercent } }`,
      variables: { id: f.containerA.id, from: new Date(Date.now() - 3_600_000).toISOString(), to: new Date().toISOString() },
    }),
    rightful: (f) => f.ownerA.caller,
  },
  'Subscription.containerMetrics': {
    request: (f) => ({ query: `subscription($id: ID!) { containerMetrics(containerId: $id) { containerId cpuPercent } }`, variables: { id: f.containerA.id } }),
    rightful: (f) => f.ownerA.caller,
    // A sample straight to the pubsub (the sampler itself is tested in metrics.test.ts).
    delivers: {
      trigger: (f, server) =>
        announce(() => server.services.pubsub.publish(MetricsTopics.sampled, f.containerA.id, { containerId: f.containerA.id, at: Date.now(), cpuPercent: 42, memoryBytes: 1, diskBytes: null, rxBytesPerSecond: 0, txBytesPerSecond: 0 })),
      check: (data, f) => data?.containerMetrics?.containerId === f.containerA.id && data.containerMetrics.cpuPercent === 42,
    },
  },
  'Subscription.auditEventCreated': {
    request: (f) => ({ query: `subscription($id: ID) { auditEventCreated(accountId: $id) { id action } }`, variables: { id: f.customerA.id } }),
    rightful: (f) => f.ownerA.caller,
  },
  'Subscription.containerChanged': {
    request: (f) => ({ query: `subscription($id: ID) { containerChanged(containerId: $id) { id status } }`, variables: { id: f.containerA.id } }),
    rightful: (f) => f.ownerA.caller,
    delivers: { trigger: (f, server) => announce(() => server.services.livePublisher.containerChanged(f.containerA.id)), check: (data, f) => data?.containerChanged?.id === f.containerA.id },
  },
  'Subscription.operationProgress': {
    request: (f) => ({ query: `subscription($id: ID!) { operationProgress(operationId: $id) { id state } }`, variables: { id: f.containerA.operationId } }),
    rightful: (f) => f.ownerA.caller,
    // The operation as it is now comes first, unprompted.
    delivers: { trigger: async () => undefined, check: (data, f) => data?.operationProgress?.id === f.containerA.operationId },
  },
  'Subscription.nodeSetupProgress': {
    request: (f) => ({ query: `subscription($id: ID!) { nodeSetupProgress(nodeId: $id) { id state } }`, variables: { id: f.setupNodeId } }),
    rightful: (f) => f.admin,
    // The setup as it is now (it failed: nothing answers there) comes first, unprompted.
    delivers: { trigger: async () => undefined, check: (data) => data?.nodeSetupProgress?.state === 'FAILED' },
  },
  'Subscription.nodeChanged': {
    request: (f) => ({ query: `subscription($id: ID) { nodeChanged(nodeId: $id) { id status } }`, variables: { id: f.nodeId } }),
    rightful: (f) => f.admin,
    delivers: { trigger: (f, server) => announce(() => server.services.livePublisher.nodeChanged(f.nodeId)), check: (data, f) => data?.nodeChanged?.id === f.nodeId },
  },
};

const REFUSALS = new Set(['UNAUTHENTICATED', 'NOT_FOUND', 'FORBIDDEN']);

/** Waits (bounded) until no operation of the container is unfinished. */
async function waitIdle(server: TestServer, containerId: string) {
  for (let i = 0; i < 100; i++) {
    const [row] = await server.db.query(`SELECT COUNT(*) AS n FROM operations WHERE "containerId" = $1 AND state IN ('PENDING', 'RUNNING')`.replace('$1', server.db.options.type === 'postgres' ? '$1' : '?'), [containerId]);
    if (Number(row.n) === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('the container stayed busy');
}

function takesAnId(type: GraphQLInputType, seen = new Set<string>()): boolean {
  const named = getNamedType(type);
  if (named === GraphQLID) return true;
  if (!isInputObjectType(named) || seen.has(named.name)) return false;
  seen.add(named.name);
  return Object.values(named.getFields()).some((field) => takesAnId(field.type, seen));
}

forEachDatabase((TEST_DB) => {
  describe(`tenant isolation matrix (${TEST_DB})`, () => {
    let server: TestServer;
    let f: Fixture;
    before(async () => {
      const imageDir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-images-'));
      fs.writeFileSync(path.join(imageDir, 'tiny.tar.gz'), 'not really an image: the fake gateway never unpacks it');
      fs.writeFileSync(path.join(imageDir, 'spare.tar.gz'), 'another stand-in image');
      const licenceKeys = generateLicenceKeyPair();
      server = await startTestServer(TEST_DB, { CORRAL_IMAGE_DIR: imageDir, CORRAL_LICENCE_PUBLIC_KEY: licenceKeys.publicKey }, { gateway: new FakeGateway() });
      const tenants = await twoTenants(server.url);
      // Three nodes (a spare to migrate to, and addNode's own) are more than the free tier's two.
      await tenants.admin.ok(`mutation($l: String!) { installLicence(licence: $l) { licensee } }`, {
        l: issueLicence({ licensee: 'Matrix', maxNodes: 8, maxContainers: 10, expiresAt: '2099-01-01T00:00:00Z' }, licenceKeys.privateKey),
      });
      const images = (await tenants.admin.ok(`{ images { edges { node { id name } } } }`)).images.edges.map((e: any) => e.node);
      const clusterId = (await tenants.admin.ok(`mutation { createCluster(input: { name: "matrix" }) { id } }`)).createCluster.id;
      const nodeId = (await tenants.admin.ok(`mutation($c: ID!) { addNode(input: { clusterId: $c, name: "first", url: "https://198.18.0.201:8443", secret: "fake-secret" }) { id } }`, { c: clusterId })).addNode.id;
      const spareNodeId = (await tenants.admin.ok(`mutation($c: ID!) { addNode(input: { clusterId: $c, name: "spare", url: "https://198.18.0.203:8443", secret: "fake-secret" }) { id } }`, { c: clusterId })).addNode.id;
      const setupNode = (await tenants.admin.ok(`mutation($c: ID!) { connectNode(input: { clusterId: $c, name: "unset", host: "127.0.0.2", port: 9, password: "matrix" }) { id operation { id } } }`, { c: clusterId })).connectNode;
      await server.services.runner.settled(setupNode.operation.id);
      const imageId = images.find((i: any) => i.name === 'tiny').id;
      const created = (
        await tenants.ownerA.caller.ok(`mutation($i: CreateContainerInput!) { createContainer(input: $i) { id operation { id } } }`, {
          i: { projectId: tenants.projectA.id, name: 'web', imageId, cpu: 1, memoryMiB: 64, diskMiB: 128 },
        })
      ).createContainer;
      await server.services.runner.settled(created.operation.id);
      const emptyProjectA = await createProject(tenants.ownerA.caller, tenants.customerA.id);
      const archive = (
        await tenants.ownerA.caller.ok(`mutation($i: CreateContainerInput!) { createContainer(input: $i) { id operation { id } } }`, {
          i: { projectId: tenants.projectA.id, name: 'archive', imageId, cpu: 1, memoryMiB: 64, diskMiB: 128 },
        })
      ).createContainer;
      await server.services.runner.settled(archive.operation.id);
      const stopped = (await tenants.ownerA.caller.ok(`mutation($id: ID!) { stopContainer(id: $id) { operation { id } } }`, { id: archive.id })).stopContainer;
      await server.services.runner.settled(stopped.operation.id);
      const backup = (await tenants.ownerA.caller.ok(`mutation($c: ID!) { createBackup(containerId: $c) { id operation { id } } }`, { c: archive.id })).createBackup;
      await server.services.runner.settled(backup.operation.id);
      const backupA = { id: backup.id as string, containerId: archive.id as string };
      const ipPoolId = (await tenants.admin.ok(`mutation($c: ID!) { createIpPool(input: { clusterId: $c, name: "matrix", cidr: "198.51.100.0/28" }) { id } }`, { c: clusterId })).createIpPool.id;
      // Settings for an attacker's setContainerFirewall to clear (the fake nodes have no SSH, so no one can set them through the API).
      await server.db.manager.insert(ContainerFirewallSettings, { containerId: created.id, tcpConnectionLimit: 7, inboundPorts: null });
      f = { ...tenants, clusterId, nodeId, spareNodeId, setupNodeId: setupNode.id, imageId, spareImageId: images.find((i: any) => i.name === 'spare').id, containerA: { id: created.id, operationId: created.operation.id }, emptyProjectA, backupA, ipPoolId };
    });
    after(() => server.stop());

    test('every query, mutation and subscription that takes an ID has a row in the matrix', async () => {
      const schema = await buildCorralSchema();
      const withIds: string[] = [];
      for (const root of [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()]) {
        for (const field of Object.values(root?.getFields() ?? {})) {
          if (field.args.some((arg: GraphQLArgument) => takesAnId(arg.type))) withIds.push(`${root!.name}.${field.name}`);
        }
      }
      assert.deepEqual(withIds.filter((op) => !matrix[op]), [], 'add these operations to the isolation matrix');
      assert.deepEqual(Object.keys(matrix).filter((op) => !withIds.includes(op)), [], 'these matrix rows name no operation');
    });

    /** Rows of every table a refusal must leave alone (the audit trail, which records the refusal, aside). */
    async function snapshot() {
      const rows: Record<string, unknown> = {};
      for (const table of ['accounts', 'users', 'projects', 'api_tokens', 'clusters', 'nodes', 'images', 'containers', 'operations', 'licences', 'container_backups', 'backup_schedules', 'ip_pools', 'ip_addresses']) rows[table] = await server.db.query(`SELECT * FROM ${table} ORDER BY id`);
      rows.container_firewalls = await server.db.query(`SELECT * FROM container_firewalls ORDER BY 1`);
      return JSON.stringify(rows);
    }

    for (const [operation, row] of Object.entries(matrix)) {
      test(`${operation} refuses an anonymous caller, another customer's member and another reseller's admin, and changes nothing`, async () => {
        const attackers: [string, Caller][] = [
          ['anonymous', new Caller(server.url)],
          ["another customer's member", f.memberB.caller],
          ["another reseller's admin", f.resellerAdminB.caller],
        ];
        const request = row.request(f);
        const before = await snapshot();
        for (const [who, caller] of attackers) {
          if (operation.startsWith('Subscription.')) {
            const outcome = await firstOutcome(caller.ws(), request);
            if (who === 'anonymous') assert.equal(outcome.closeCode, 4403, `${who}: ${JSON.stringify(outcome)}`);
            else assert.ok(REFUSALS.has(String(outcome.errors?.[0]?.extensions?.code)), `${who}: ${JSON.stringify(outcome)}`);
            assert.equal(outcome.data, undefined);
          } else {
            const res = await caller.gql(request.query, request.variables);
            if ((row.emptyForOthers || row.openToTenants) && who !== 'anonymous') {
              if (row.emptyForOthers) assert.deepEqual(Object.values(res.data ?? {}).map((c: any) => c.edges), [[]], `${who}: ${JSON.stringify(res)}`);
              else assert.equal(res.errors, undefined);
            } else {
              assert.ok(REFUSALS.has(String(codeOf(res))), `${who}: ${JSON.stringify(res.errors)}`);
              assert.equal(res.data, null, `${who} got data`);
            }
          }
          assert.equal(await snapshot(), before, `${who} changed something`);
        }
      });
    }

    test('each matrix row works for its rightful caller, so that the refusals above mean something', async () => {
      const last = (op: string) => Number(/delete|revoke|stop|start|restart/i.test(op));
      const order = Object.keys(matrix).sort((a, b) => last(a) - last(b));
      for (const operation of order) {
        const row = matrix[operation]!;
        const request = row.request(f);
        const caller = row.rightful(f);
        if (operation.startsWith('Subscription.')) {
          const outcome = await firstOutcome(caller.ws(), request, 5000, () =>
            row.delivers ? row.delivers.trigger(f, server) : caller.gql(`mutation($a: ID!) { createProject(input: { accountId: $a, name: "trigger" }) { id } }`, { a: f.customerA.id }),
          );
          if (row.delivers) assert.ok(row.delivers.check(outcome.data, f), `${operation}: ${JSON.stringify(outcome)}`);
          else assert.equal(outcome.data?.auditEventCreated?.action, 'project.create', `${operation}: ${JSON.stringify(outcome)}`);
        } else {
          const res = await caller.gql(request.query, request.variables);
          assert.equal(res.errors, undefined, `${operation}: ${JSON.stringify(res.errors)}`);
          // Let a container operation finish before the next one on the same container.
          const operationId = (Object.values(res.data ?? {})[0] as any)?.operation?.id;
          if (operationId) await server.services.runner.settled(operationId);
          await waitIdle(server, f.containerA.id);
        }
      }
    });
  });
});
