import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { generateLicenceKeyPair, issueLicence } from '../../server/licences/licence-document';
import { Caller, codeOf } from '../support/client';
import { createAccount, createProject, signInAsAdmin, signInAsNewUser, unique } from '../support/factories';
import { corralInstances, eventually, lxc, requireLab, type LabNode } from '../support/lab';
import { startTestServer, type TestServer } from '../support/server';

const CONTAINER = `id name status statusReason cpu memoryBytes diskBytes operation { id state progress action errorCode errorMessage }`;

/** Real LXD in the lab: everything is checked on the node itself with `lxc`, not through Corral. */
describe('containers on real LXD nodes', () => {
  let server: TestServer;
  let nodes: LabNode[];
  let admin: Caller;
  let owner: Caller;
  let projectId: string;
  let lxdProject: string;
  let imageId: string;
  let clusterId: string;
  const licenceKeys = generateLicenceKeyPair();

  before(async () => {
    const lab = await requireLab();
    nodes = lab.nodes;
    const imageDir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-images-'));
    fs.copyFileSync(lab.busybox, path.join(imageDir, 'busybox.tar.gz'));
    server = await startTestServer('sqlite', {
      CORRAL_IMAGE_DIR: imageDir,
      CORRAL_LICENCE_PUBLIC_KEY: licenceKeys.publicKey,
      CORRAL_HEALTH_SECONDS: '1',
      CORRAL_RECONCILE_SECONDS: '5',
    });
    admin = await signInAsAdmin(server.url);
    // Room for the tests' own nodes and containers; the licence test narrows it for a moment.
    await admin.ok(`mutation($l: String!) { installLicence(licence: $l) { licensee } }`, {
      l: issueLicence({ licensee: 'Lab', maxNodes: 10, maxContainers: 1000, expiresAt: '2099-01-01T00:00:00Z' }, licenceKeys.privateKey),
    });
    imageId = (await admin.ok(`{ images { edges { node { id name } } } }`)).images.edges.find((e: any) => e.node.name === 'busybox').node.id;
    clusterId = (await admin.ok(`mutation { createCluster(input: { name: "lab", storageDriver: BTRFS, storagePool: "default" }) { id } }`)).createCluster.id;
    for (const node of nodes.slice(0, 2)) {
      const added = await admin.ok(`mutation($i: AddNodeInput!) { addNode(input: $i) { id status cpuThreads memoryBytes diskBytes fingerprint } }`, {
        i: { clusterId, name: node.name, url: node.lxd.url, secret: node.lxd.trustPassword },
      });
      assert.equal(added.addNode.status, 'READY');
      assert.ok(added.addNode.cpuThreads > 0 && Number(added.addNode.memoryBytes) > 0 && Number(added.addNode.diskBytes) > 0);
    }
    const customer = await createAccount(admin, 'CUSTOMER');
    owner = (await signInAsNewUser(admin, customer.id, 'CUSTOMER_OWNER')).caller;
    projectId = (await createProject(owner, customer.id)).id;
    lxdProject = `corral-${projectId.replaceAll('-', '')}`;
  });
  after(async () => {
    await server?.stop();
  });

  const create = (name: string, extra: Record<string, unknown> = {}, key?: string) =>
    owner.gql(`mutation($i: CreateContainerInput!, $k: String) { createContainer(input: $i, idempotencyKey: $k) { ${CONTAINER} } }`, {
      i: { projectId, name, imageId, cpu: 1, memoryMiB: 128, diskMiB: 256, ...extra },
      k: key,
    });
  const read = async (id: string) => (await owner.ok(`query($id: ID!) { container(id: $id) { ${CONTAINER} } }`, { id })).container;
  const until = async (id: string, status: string) => {
    let last: any;
    try {
      return await eventually(`container ${id} to be ${status}`, async () => {
        last = await read(id);
        return last.status === status ? last : null;
      });
    } catch (error) {
      const ops = await owner.gql(`query($id: ID!) { operations(containerId: $id) { edges { node { action state errorCode errorMessage } } } }`, { id });
      throw new Error(`${(error as Error).message}; last seen ${JSON.stringify(last)}; operations ${JSON.stringify(ops.data ?? ops.errors)}`, { cause: error });
    }
  };
  const whereIs = async (name: string) => {
    for (const node of nodes) {
      const status = (await corralInstances(node)).get(`${lxdProject}/${name}`);
      if (status) return { node, status };
    }
    return null;
  };

  test('a container created from busybox runs within seconds, really, on the chosen node; stop, start, restart and delete act on the node', async () => {
    const started = Date.now();
    const res = await create('web-1');
    assert.equal(res.errors, undefined, JSON.stringify(res.errors));
    const id = res.data.createContainer.id;
    assert.equal(res.data.createContainer.status, 'CREATING');
    assert.equal(res.data.createContainer.operation.action, 'container.create');
    const running = await until(id, 'RUNNING');
    console.log(`# createContainer to RUNNING took ${Date.now() - started} ms`);
    assert.equal(running.operation.state, 'SUCCEEDED');
    assert.equal(running.operation.progress, 100);
    const placed = await whereIs('web-1');
    assert.equal(placed?.status, 'Running');
    const config = JSON.parse(await lxc(placed!.node, 'query', `/1.0/instances/web-1?project=${lxdProject}`));
    assert.equal(config.config['limits.cpu'], '1');
    assert.equal(config.devices.root.size, `${256 * 1024 * 1024}B`);
    const adminView = await admin.ok(`query($id: ID!) { container(id: $id) { node { name } } }`, { id });
    assert.equal(adminView.container.node.name, placed!.node.name);

    await owner.ok(`mutation($id: ID!) { stopContainer(id: $id) { status } }`, { id });
    await until(id, 'STOPPED');
    assert.equal((await whereIs('web-1'))?.status, 'Stopped');

    await owner.ok(`mutation($id: ID!) { startContainer(id: $id) { status } }`, { id });
    await until(id, 'RUNNING');
    assert.equal((await whereIs('web-1'))?.status, 'Running');

    const restarted = await owner.ok(`mutation($id: ID!) { restartContainer(id: $id) { status operation { id } } }`, { id });
    await eventually('the restart to finish', async () => (await owner.ok(`query($id: ID!) { operation(id: $id) { state } }`, { id: restarted.restartContainer.operation.id })).operation.state === 'SUCCEEDED');
    assert.equal((await whereIs('web-1'))?.status, 'Running');

    await owner.ok(`mutation($id: ID!) { stopContainer(id: $id, force: true) { status } }`, { id });
    await until(id, 'STOPPED');

    await owner.ok(`mutation($id: ID!) { deleteContainer(id: $id) { status } }`, { id });
    await eventually('the container to be gone', async () => codeOf(await owner.gql(`query($id: ID!) { container(id: $id) { id } }`, { id })) === 'NOT_FOUND');
    assert.equal(await whereIs('web-1'), null);
    const history = await owner.ok(`query($id: ID!) { operations(containerId: $id) { edges { node { action state } } } }`, { id }).catch(() => null);
    void history;
  });

  test('starting a running container and stopping a stopped one are no-ops: the operation succeeds and the node is left as it was', async () => {
    const res = await create('noop-1');
    const id = res.data.createContainer.id;
    await until(id, 'RUNNING');
    const { node } = (await whereIs('noop-1'))!;
    const pid = async () => JSON.parse(await lxc(node, 'query', `/1.0/instances/noop-1/state?project=${lxdProject}`)).pid as number;
    const before = await pid();
    const settle = async (mutation: string) => {
      const op = (await owner.ok(`mutation($id: ID!) { ${mutation}(id: $id) { operation { id } } }`, { id }))[mutation].operation.id;
      return eventually(`${mutation} to finish`, async () => {
        const o = (await owner.ok(`query($id: ID!) { operation(id: $id) { state errorCode } }`, { id: op })).operation;
        return o.state === 'SUCCEEDED' || o.state === 'FAILED' ? o : null;
      });
    };
    assert.deepEqual(await settle('startContainer'), { state: 'SUCCEEDED', errorCode: null });
    assert.equal((await read(id)).status, 'RUNNING');
    assert.equal(await pid(), before, 'the running container was not restarted');

    await owner.ok(`mutation($id: ID!) { stopContainer(id: $id, force: true) { status } }`, { id });
    await until(id, 'STOPPED');
    assert.deepEqual(await settle('stopContainer'), { state: 'SUCCEEDED', errorCode: null });
    assert.equal((await read(id)).status, 'STOPPED');
    assert.equal((await whereIs('noop-1'))?.status, 'Stopped');
    await owner.ok(`mutation($id: ID!) { deleteContainer(id: $id) { status } }`, { id });
    await eventually('the container to be gone', async () => (await whereIs('noop-1')) === null);
  });

  test('an idempotency key replays the first result and refuses other input', async () => {
    const key = unique('key');
    const first = await create('idem-1', {}, key);
    const again = await create('idem-1', {}, key);
    assert.equal(again.data.createContainer.id, first.data.createContainer.id);
    const other = await create('idem-2', {}, key);
    assert.equal(codeOf(other), 'IDEMPOTENCY_KEY_REUSED');
    await until(first.data.createContainer.id, 'RUNNING');
    const instances = [...(await corralInstances(nodes[0]!)).keys(), ...(await corralInstances(nodes[1]!)).keys()];
    assert.equal(instances.filter((k) => k.endsWith('/idem-1')).length, 1);
    assert.ok(!instances.some((k) => k.endsWith('/idem-2')));
    await owner.ok(`mutation($id: ID!) { deleteContainer(id: $id) { id } }`, { id: first.data.createContainer.id });
  });

  test('a second operation on a busy container is refused, never interleaved', async () => {
    const { data } = await create('busy-1');
    const id = data.createContainer.id;
    const during = await owner.gql(`mutation($id: ID!) { stopContainer(id: $id) { id } }`, { id });
    assert.equal(codeOf(during), 'OPERATION_IN_PROGRESS');
    await until(id, 'RUNNING');
    await owner.ok(`mutation($id: ID!) { deleteContainer(id: $id) { id } }`, { id });
  });

  test('a change made behind Corral’s back shows up: stopped on the node, then deleted on the node', async () => {
    const { data } = await create('behind-1');
    const id = data.createContainer.id;
    await until(id, 'RUNNING');
    const { node } = (await whereIs('behind-1'))!;
    await lxc(node, 'stop', '--force', '--project', lxdProject, 'behind-1');
    await until(id, 'STOPPED');
    await lxc(node, 'delete', '--project', lxdProject, 'behind-1');
    const gone = await until(id, 'ERROR');
    assert.match(gone.statusReason, /outside Corral|missing/);
  });

  test('bad input gets a typed error and creates nothing on any node', async () => {
    const before = JSON.stringify([...(await corralInstances(nodes[0]!)), ...(await corralInstances(nodes[1]!))]);
    const cases: [Record<string, unknown>, string][] = [
      [{ name: '-bad' }, 'BAD_USER_INPUT'],
      [{ name: 'has space' }, 'BAD_USER_INPUT'],
      [{ name: 'a'.repeat(64) }, 'BAD_USER_INPUT'],
      [{ name: 'ok-1', cpu: -1 }, 'BAD_USER_INPUT'],
      [{ name: 'ok-1', cpu: 0 }, 'BAD_USER_INPUT'],
      [{ name: 'ok-1', memoryMiB: 1 }, 'BAD_USER_INPUT'],
      [{ name: 'ok-1', memoryMiB: 10_000_000 }, 'BAD_USER_INPUT'],
      [{ name: 'ok-1', diskMiB: -5 }, 'BAD_USER_INPUT'],
      [{ name: 'ok-1', imageId: '00000000-0000-7000-8000-000000000000' }, 'BAD_USER_INPUT'],
      [{ name: 'ok-1', memoryMiB: 200 * 1024 }, 'CAPACITY_EXCEEDED'],
      [{ name: 'ok-1', nodeId: '00000000-0000-7000-8000-000000000000' }, 'FORBIDDEN'],
    ];
    for (const [input, code] of cases) {
      const res = await create(String(input.name), input);
      assert.equal(codeOf(res), code, `${JSON.stringify(input)}: ${JSON.stringify(res.errors)}`);
    }
    const afterwards = JSON.stringify([...(await corralInstances(nodes[0]!)), ...(await corralInstances(nodes[1]!))]);
    assert.equal(afterwards, before);
    const rows = await owner.ok(`query($p: ID!) { containers(projectId: $p) { edges { node { name } } } }`, { p: projectId });
    assert.ok(!rows.containers.edges.some((e: any) => e.node.name === 'ok-1'));
  });

  test('a node that stops answering goes OFFLINE, nothing is placed on it, and it comes back READY', async () => {
    const node = nodes[1]!;
    const { execFileSync } = await import('node:child_process');
    const nodeId = (await admin.ok(`{ nodes { edges { node { id name } } } }`)).nodes.edges.find((e: any) => e.node.name === node.name).node.id;
    const status = async () => (await admin.ok(`query($id: ID!) { node(id: $id) { status lastError } }`, { id: nodeId })).node;
    const before = JSON.stringify([...(await corralInstances(node))]);
    execFileSync('ip', ['link', 'set', `corral-${node.name}-h`, 'down']);
    try {
      await eventually('the node to be OFFLINE', async () => (await status()).status === 'OFFLINE', 45_000);
      const res = await admin.gql(`mutation($i: CreateContainerInput!) { createContainer(input: $i) { id } }`, {
        i: { projectId, name: 'on-offline', imageId, cpu: 1, memoryMiB: 64, diskMiB: 128, nodeId },
      });
      assert.equal(codeOf(res), 'NODE_UNAVAILABLE');
    } finally {
      execFileSync('ip', ['link', 'set', `corral-${node.name}-h`, 'up']);
    }
    await eventually('the node to be READY again', async () => (await status()).status === 'READY', 45_000);
    assert.equal(JSON.stringify([...(await corralInstances(node))]), before);
  });

  test('bad nodes are refused: wrong password, unreachable address, the same node twice', async () => {
    const wrong = await admin.gql(`mutation($i: AddNodeInput!) { addNode(input: $i) { id } }`, { i: { clusterId, name: 'wrong', url: nodes[0]!.lxd.url.replace(':8443', ':8444'), secret: 'x' } });
    assert.equal(codeOf(wrong), 'NODE_UNAVAILABLE');
    const twice = await admin.gql(`mutation($i: AddNodeInput!) { addNode(input: $i) { id } }`, { i: { clusterId, name: 'again', url: nodes[0]!.lxd.url, secret: nodes[0]!.lxd.trustPassword } });
    assert.equal(codeOf(twice), 'CONFLICT');
    const badUrl = await admin.gql(`mutation($i: AddNodeInput!) { addNode(input: $i) { id } }`, { i: { clusterId, name: 'plain', url: 'http://198.18.0.11:8443', secret: 'x' } });
    assert.equal(codeOf(badUrl), 'BAD_USER_INPUT');
    const tenant = await owner.gql(`mutation($i: AddNodeInput!) { addNode(input: $i) { id } }`, { i: { clusterId, name: 'mine', url: nodes[0]!.lxd.url, secret: 'x' } });
    assert.equal(codeOf(tenant), 'FORBIDDEN');
    assert.equal((await admin.ok(`{ nodes { edges { node { id } } } }`)).nodes.edges.length, 2);
  });

  test('licences: an expired or forged one is refused; beyond the licence nothing is created', async () => {
    const expired = issueLicence({ licensee: 'Test', maxNodes: 5, maxContainers: 5, expiresAt: '2020-01-01T00:00:00Z' }, licenceKeys.privateKey);
    const res = await admin.gql(`mutation($l: String!) { installLicence(licence: $l) { licensee } }`, { l: expired });
    assert.equal(codeOf(res), 'BAD_USER_INPUT');
    assert.equal(res.errors?.[0]?.extensions?.reason, 'expired');
    const forged = issueLicence({ licensee: 'Test', maxNodes: 5, maxContainers: 5, expiresAt: '2099-01-01T00:00:00Z' }, generateLicenceKeyPair().privateKey);
    assert.equal((await admin.gql(`mutation($l: String!) { installLicence(licence: $l) { licensee } }`, { l: forged })).errors?.[0]?.extensions?.reason, 'bad-signature');

    const usage = (await admin.ok(`{ licence { containers nodes freeTier maxNodes } }`)).licence;
    assert.equal(usage.freeTier, false);
    assert.equal(usage.nodes, 2);
    const tight = issueLicence({ licensee: 'Tight Ltd', maxNodes: 2, maxContainers: usage.containers, expiresAt: '2099-01-01T00:00:00Z' }, licenceKeys.privateKey);
    const installed = (await admin.ok(`mutation($l: String!) { installLicence(licence: $l) { licensee maxContainers containers freeTier } }`, { l: tight })).installLicence;
    assert.equal(installed.licensee, 'Tight Ltd');
    const before = JSON.stringify([...(await corralInstances(nodes[0]!)), ...(await corralInstances(nodes[1]!))]);
    assert.equal(codeOf(await create('over-1')), 'LICENCE_LIMIT');
    const thirdNode = await admin.gql(`mutation($i: AddNodeInput!) { addNode(input: $i) { id } }`, { i: { clusterId, name: 'third', url: 'https://198.18.0.99:8443', secret: 'x' } });
    assert.equal(codeOf(thirdNode), 'LICENCE_LIMIT');
    assert.equal(JSON.stringify([...(await corralInstances(nodes[0]!)), ...(await corralInstances(nodes[1]!))]), before);
    const roomy = issueLicence({ licensee: 'Roomy Ltd', maxNodes: 10, maxContainers: 1000, expiresAt: '2099-01-01T00:00:00Z' }, licenceKeys.privateKey);
    await admin.ok(`mutation($l: String!) { installLicence(licence: $l) { licensee } }`, { l: roomy });
  });
});
