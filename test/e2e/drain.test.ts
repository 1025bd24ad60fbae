import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Caller, GqlResponse } from '../support/client';
import { unique } from '../support/factories';
import { corralInstances, eventually, type LabNode, lxc, settledContainer } from '../support/lab';
import { startLabCorral, type LabCorral } from '../support/lab-corral';

const TENANT_VIEW = `id name status operation { id action state errorCode errorMessage }`;
const CONTAINER = `${TENANT_VIEW} node { name }`;
const NODE = `id name status operation { id action state progress step errorCode errorMessage }`;

/** Draining a real lab node: its containers move to the other node one at a time, and it ends in MAINTENANCE. */
describe('node drain on real LXD nodes', () => {
  let lab: LabCorral;
  let owner: Caller;
  let admin: Caller;
  let lxdProject: string;
  let drainedNode: LabNode;
  let otherNode: LabNode;

  before(async () => {
    lab = await startLabCorral();
    ({ owner, admin, lxdProject } = lab);
    [drainedNode, otherNode] = lab.nodes as [LabNode, LabNode];
  });
  after(() => lab?.stop());

  const read = async (id: string) => (await admin.ok(`query($id: ID!) { container(id: $id) { ${CONTAINER} } }`, { id })).container;
  const readNode = async (id: string) => (await admin.ok(`query($id: ID!) { node(id: $id) { ${NODE} } }`, { id })).node;
  const settled = (res: GqlResponse, ms = 120_000) => settledContainer(read, res, ms);
  /** A container of the customer's project on the named lab node (placed by the provider admin). */
  const createOn = async (node: LabNode) => {
    const name = unique('drn');
    const created = await settled(await admin.gql(`mutation($i: CreateContainerInput!) { createContainer(input: $i) { ${TENANT_VIEW} } }`, {
      i: { projectId: lab.projectId, clusterId: lab.clusterId, nodeId: lab.nodeIds.get(node.name), name, imageId: lab.imageIds.busybox, cpu: 1, memoryMiB: 64, diskMiB: 256 },
    }));
    assert.equal(created.status, 'RUNNING', JSON.stringify(created.operation));
    return { id: created.id as string, name };
  };
  const sh = (node: LabNode, name: string, script: string) => lxc(node, 'exec', '--project', lxdProject, name, '--', 'sh', '-c', script);
  const statusOn = async (node: LabNode, name: string) => (await corralInstances(node)).get(`${lxdProject}/${name}`) ?? null;

  test('draining a node moves a running and a stopped container to the other node one at a time with progress, keeps their state and data, ends in MAINTENANCE, and it comes back', async () => {
    const n1 = lab.nodeIds.get(drainedNode.name)!;
    const running = await createOn(drainedNode);
    const stopped = await createOn(drainedNode);
    await sh(drainedNode, running.name, 'echo drained-by-corral > /root/proof');
    const stop = await settled(await owner.gql(`mutation($id: ID!) { stopContainer(id: $id) { ${TENANT_VIEW} } }`, { id: stopped.id }));
    assert.equal(stop.status, 'STOPPED');
    assert.equal(await statusOn(drainedNode, stopped.name), 'Stopped');

    // A tenant may not drain.
    assert.equal((await owner.gql(`mutation($id: ID!) { drainNode(id: $id) { id } }`, { id: n1 })).errors?.[0]?.extensions?.code, 'FORBIDDEN');

    const started = Date.now();
    const res = await admin.ok(`mutation($id: ID!) { drainNode(id: $id) { ${NODE} } }`, { id: n1 });
    assert.deepEqual([res.drainNode.status, res.drainNode.operation.action], ['DRAINING', 'node.drain']);
    const steps = new Set<string>();
    const progress: number[] = [];
    const done = await eventually('the drain to finish', async () => {
      const node = await readNode(n1);
      if (node.operation.step) steps.add(node.operation.step);
      progress.push(node.operation.progress);
      return ['SUCCEEDED', 'FAILED'].includes(node.operation.state) ? node : null;
    }, 240_000);
    console.log(`# drainNode (${drainedNode.name}, 2 busybox containers) to SUCCEEDED took ${Date.now() - started} ms; steps: ${JSON.stringify([...steps])}`);
    assert.equal(done.operation.state, 'SUCCEEDED', JSON.stringify(done.operation));
    assert.deepEqual([done.status, done.operation.progress], ['MAINTENANCE', 100]);
    // One at a time, with the container and the count in the step, and progress that only goes up.
    const [first, second] = [running, stopped].sort((a, b) => a.name.localeCompare(b.name));
    assert.ok(steps.has(`moving ${first!.name} (1 of 2) to ${otherNode.name}`), JSON.stringify([...steps]));
    assert.ok(steps.has(`moving ${second!.name} (2 of 2) to ${otherNode.name}`), JSON.stringify([...steps]));
    assert.deepEqual(progress, [...progress].sort((a, b) => a - b), 'progress never goes back');

    // On the nodes: both on the other node in their old state, the data with them, nothing left on the drained node.
    assert.equal(await statusOn(otherNode, running.name), 'Running');
    assert.equal((await sh(otherNode, running.name, 'cat /root/proof')).trim(), 'drained-by-corral', 'the data survived');
    assert.equal(await statusOn(otherNode, stopped.name), 'Stopped', 'the stopped container stays stopped');
    assert.equal(await statusOn(drainedNode, running.name), null);
    assert.equal(await statusOn(drainedNode, stopped.name), null);
    assert.deepEqual([...(await corralInstances(drainedNode)).keys()].filter((k) => k.startsWith(`${lxdProject}/`)), []);
    const rows = [await read(running.id), await read(stopped.id)];
    assert.deepEqual(rows.map((r) => [r.status, r.node.name]), [['RUNNING', otherNode.name], ['STOPPED', otherNode.name]]);
    for (const row of rows) {
      const history = (await admin.ok(`query($c: ID) { operations(containerId: $c) { edges { node { action state } } } }`, { c: row.id })).operations.edges.map((e: any) => e.node);
      assert.equal(history.filter((o: any) => o.action === 'container.migrate' && o.state === 'SUCCEEDED').length, 1, `${row.name} moved once, in its history`);
    }

    // Nothing new lands on it, and health checks (every 2 s here) leave it in MAINTENANCE.
    const placed = await settled(await owner.gql(`mutation($i: CreateContainerInput!) { createContainer(input: $i) { ${TENANT_VIEW} } }`, {
      i: { projectId: lab.projectId, name: unique('drn'), imageId: lab.imageIds.busybox, cpu: 1, memoryMiB: 64, diskMiB: 256 },
    }));
    assert.equal((await read(placed.id)).node.name, otherNode.name);
    const pinned = await admin.gql(`mutation($i: CreateContainerInput!) { createContainer(input: $i) { id } }`, {
      i: { projectId: lab.projectId, clusterId: lab.clusterId, nodeId: n1, name: unique('drn'), imageId: lab.imageIds.busybox, cpu: 1, memoryMiB: 64, diskMiB: 256 },
    });
    assert.equal(pinned.errors?.[0]?.extensions?.code, 'NODE_UNAVAILABLE', JSON.stringify(pinned.errors));
    await new Promise((resolve) => setTimeout(resolve, 5000));
    assert.equal((await readNode(n1)).status, 'MAINTENANCE');

    // Back in service: READY (and the health check agrees), and it takes containers again.
    assert.equal((await admin.ok(`mutation($id: ID!) { undrainNode(id: $id) { status } }`, { id: n1 })).undrainNode.status, 'READY');
    await new Promise((resolve) => setTimeout(resolve, 5000));
    assert.equal((await readNode(n1)).status, 'READY');
    const back = await createOn(drainedNode);
    assert.equal(await statusOn(drainedNode, back.name), 'Running');
  });
});
