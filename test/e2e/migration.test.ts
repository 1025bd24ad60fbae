import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Caller, codeOf, type GqlResponse } from '../support/client';
import { unique } from '../support/factories';
import { corralInstances, type LabNode, lxc, settledContainer } from '../support/lab';
import { startLabCorral, type LabCorral } from '../support/lab-corral';

const CONTAINER = `id name status operation { id action state progress step errorCode errorMessage }`;
const MIGRATE = `mutation($id: ID!, $t: ID!, $live: Boolean, $k: String) { migrateContainer(id: $id, targetNodeId: $t, live: $live, idempotencyKey: $k) { ${CONTAINER} } }`;

/** Cold migration between the two lab nodes, checked with lxc on both nodes and inside the container. */
describe('cold migration on real LXD nodes', () => {
  let nodes: LabNode[];
  let owner: Caller;
  let admin: Caller;
  let projectId: string;
  let lxdProject: string;
  let imageId: string;
  /** Corral's node id by lab node name. */
  const nodeIds = new Map<string, string>();
  let lab: LabCorral;

  before(async () => {
    lab = await startLabCorral();
    ({ nodes, owner, admin, projectId, lxdProject } = lab);
    imageId = lab.imageIds.busybox!;
    for (const [name, id] of lab.nodeIds) nodeIds.set(name, id);
  });
  after(() => lab?.stop());

  const read = async (id: string) => (await admin.ok(`query($id: ID!) { container(id: $id) { ${CONTAINER} node { name } } }`, { id })).container;
  const settled = (res: GqlResponse, ms = 120_000) => settledContainer(read, res, ms);
  const createRunning = async () => {
    const name = unique('mig');
    const res = await owner.gql(`mutation($i: CreateContainerInput!) { createContainer(input: $i) { ${CONTAINER} } }`, { i: { projectId, name, imageId, cpu: 1, memoryMiB: 64, diskMiB: 256 } });
    const container = await settled(res);
    assert.equal(container.status, 'RUNNING', JSON.stringify(container.operation));
    const source = nodes.find((n) => n.name === container.node.name)!;
    const target = nodes.find((n) => n !== source)!;
    return { id: container.id as string, name, createOperation: container.operation.id as string, source, target };
  };
  const sh = (node: LabNode, name: string, script: string) => lxc(node, 'exec', '--project', lxdProject, name, '--', 'sh', '-c', script);
  const statusOn = async (node: LabNode, name: string) => (await corralInstances(node)).get(`${lxdProject}/${name}`) ?? null;
  const pidOn = async (node: LabNode, name: string) => JSON.parse(await lxc(node, 'query', `/1.0/instances/${name}/state?project=${lxdProject}`)).pid as number;
  const history = async (id: string) =>
    (await admin.ok(`query($c: ID) { operations(containerId: $c) { edges { node { id action state } } } }`, { c: id })).operations.edges.map((e: any) => e.node);

  test('a running container moves to the other node: it runs there with its data and snapshots, is gone from the source, and keeps its history', async () => {
    const { id, name, createOperation, source, target } = await createRunning();
    await sh(source, name, 'echo corral > /root/proof');
    assert.equal((await sh(source, name, 'cat /root/proof')).trim(), 'corral');
    await lxc(source, 'snapshot', '--project', lxdProject, name, 'before-move');

    const started = Date.now();
    const res = await admin.gql(MIGRATE, { id, t: nodeIds.get(target.name) });
    assert.equal(res.data?.migrateContainer.operation.action, 'container.migrate', JSON.stringify(res.errors));
    const done = await settled(res);
    console.log(`# migrateContainer (${source.name} -> ${target.name}, running busybox) to SUCCEEDED took ${Date.now() - started} ms`);
    assert.equal(done.operation.state, 'SUCCEEDED', JSON.stringify(done.operation));
    assert.equal(done.operation.progress, 100);
    assert.equal(done.status, 'RUNNING');
    assert.equal(done.node.name, target.name, 'the row points at the target');

    assert.equal(await statusOn(target, name), 'Running', 'lxc on the target shows it running');
    assert.equal(await statusOn(source, name), null, 'the source no longer has it');
    assert.equal((await sh(target, name, 'cat /root/proof')).trim(), 'corral', 'the data survived');
    const snapshots = JSON.parse(await lxc(target, 'query', `/1.0/instances/${name}/snapshots?project=${lxdProject}`)) as string[];
    assert.ok(snapshots.some((s) => s.split('?')[0]!.endsWith('/before-move')), `the snapshot moved too: ${JSON.stringify(snapshots)}`);

    const ops = await history(id);
    assert.ok(ops.some((o: any) => o.id === createOperation && o.action === 'container.create'), JSON.stringify(ops));
    assert.ok(ops.some((o: any) => o.id === done.operation.id && o.action === 'container.migrate' && o.state === 'SUCCEEDED'), JSON.stringify(ops));

    // And back, stopped: it stays stopped.
    await settled(await owner.gql(`mutation($id: ID!) { stopContainer(id: $id) { ${CONTAINER} } }`, { id }));
    const back = await settled(await admin.gql(MIGRATE, { id, t: nodeIds.get(source.name) }));
    assert.equal(back.operation.state, 'SUCCEEDED', JSON.stringify(back.operation));
    assert.deepEqual([back.status, back.node.name], ['STOPPED', source.name]);
    assert.equal(await statusOn(source, name), 'Stopped');
    assert.equal(await statusOn(target, name), null);
    await owner.ok(`mutation($id: ID!) { deleteContainer(id: $id) { id } }`, { id });
  });

  test('the same node, an unknown node, live migration without CRIU and a tenant caller are refused, with nothing changed on either node', async () => {
    const { id, name, source, target } = await createRunning();
    const pid = await pidOn(source, name);
    const before = [await corralInstances(source), await corralInstances(target)].map((m) => JSON.stringify([...m]));
    const operationsBefore = await history(id);

    const capabilities = (await admin.ok(`{ nodes { edges { node { name capabilities { liveMigration } } } } }`)).nodes.edges.map((e: any) => e.node);
    assert.ok(capabilities.every((n: any) => n.capabilities?.liveMigration === false), JSON.stringify(capabilities));

    const cases: [string, Caller, Record<string, unknown>, string][] = [
      ['the same node', admin, { id, t: nodeIds.get(source.name) }, 'BAD_USER_INPUT'],
      ['an unknown node', admin, { id, t: randomUUID() }, 'NOT_FOUND'],
      ['live migration without CRIU', admin, { id, t: nodeIds.get(target.name), live: true }, 'MIGRATION_UNSUPPORTED'],
      ['a tenant caller', owner, { id, t: nodeIds.get(target.name) }, 'FORBIDDEN'],
    ];
    for (const [what, caller, variables, code] of cases) {
      const res = await caller.gql(MIGRATE, variables);
      assert.equal(codeOf(res), code, `${what}: ${JSON.stringify(res.errors)}`);
      assert.equal(res.data, null, what);
      if (code === 'MIGRATION_UNSUPPORTED') assert.match(res.errors![0]!.message, /CRIU/);
      // Untouched: still running on the source, same init process, nothing on the target.
      assert.equal(await statusOn(source, name), 'Running', what);
      assert.equal(await pidOn(source, name), pid, `${what}: the container was not restarted`);
      assert.equal(await statusOn(target, name), null, what);
      assert.deepEqual([await corralInstances(source), await corralInstances(target)].map((m) => JSON.stringify([...m])), before, what);
      assert.deepEqual(await history(id), operationsBefore, `${what}: no operation recorded`);
      const row = await read(id);
      assert.deepEqual([row.status, row.node.name], ['RUNNING', source.name], what);
    }
    await owner.ok(`mutation($id: ID!) { deleteContainer(id: $id) { id } }`, { id });
  });
});
