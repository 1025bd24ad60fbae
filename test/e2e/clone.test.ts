import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Caller, codeOf, type GqlResponse } from '../support/client';
import { unique } from '../support/factories';
import { corralInstances, type LabNode, lxc, settledContainer } from '../support/lab';
import { startLabCorral, type LabCorral } from '../support/lab-corral';

const CONTAINER = `id name status cpu memoryBytes diskBytes operation { id action state progress step errorCode errorMessage }`;
const CLONE = `mutation($i: CloneContainerInput!, $k: String) { cloneContainer(input: $i, idempotencyKey: $k) { ${CONTAINER} } }`;

/** Clones on the same node and onto the other one, checked with lxc on both nodes and inside the containers. */
describe('clone on real LXD nodes', () => {
  let nodes: LabNode[];
  let owner: Caller;
  let admin: Caller;
  let projectId: string;
  let lxdProject: string;
  let imageId: string;
  let lab: LabCorral;

  before(async () => {
    lab = await startLabCorral();
    ({ nodes, owner, admin, projectId, lxdProject } = lab);
    imageId = lab.imageIds.busybox!;
  });
  after(() => lab?.stop());

  const read = async (id: string) => (await admin.ok(`query($id: ID!) { container(id: $id) { ${CONTAINER} node { name } } }`, { id })).container;
  const settled = (res: GqlResponse, ms = 180_000) => settledContainer(read, res, ms);
  const sh = (node: LabNode, name: string, script: string) => lxc(node, 'exec', '--project', lxdProject, name, '--', 'sh', '-c', script);
  const statusOn = async (node: LabNode, name: string) => (await corralInstances(node)).get(`${lxdProject}/${name}`) ?? null;
  const instanceOn = async (node: LabNode, name: string) => JSON.parse(await lxc(node, 'query', `/1.0/instances/${name}?project=${lxdProject}`));
  const pidOn = async (node: LabNode, name: string) => JSON.parse(await lxc(node, 'query', `/1.0/instances/${name}/state?project=${lxdProject}`)).pid as number;
  const identity = (instance: any) => ({ uuid: instance.config['volatile.uuid'], cloudInit: instance.config['volatile.cloud-init.instance-id'] });

  test('a running container is cloned on its node and onto the other node: same data and resources, new identity, the source untouched', async () => {
    const name = unique('src');
    const created = await settled(await owner.gql(`mutation($i: CreateContainerInput!) { createContainer(input: $i) { ${CONTAINER} } }`, { i: { projectId, name, imageId, cpu: 1, memoryMiB: 96, diskMiB: 256 } }));
    assert.equal(created.status, 'RUNNING', JSON.stringify(created.operation));
    const home = nodes.find((n) => n.name === created.node.name)!;
    const other = nodes.find((n) => n !== home)!;
    // A resized disk first: btrfs copies of a resized container are where qgroup limits bite (LXD-NOTES section 5).
    const resized = await settled(await owner.gql(`mutation($id: ID!) { resizeContainerDisk(id: $id, diskMiB: 320) { ${CONTAINER} } }`, { id: created.id }));
    assert.equal(resized.operation.state, 'SUCCEEDED', JSON.stringify(resized.operation));
    await sh(home, name, 'echo cloned-data > /root/proof && sync');
    const source = await instanceOn(home, name);
    const sourceIdentity = identity(source);
    assert.ok(sourceIdentity.uuid && sourceIdentity.cloudInit, JSON.stringify(source.config));
    const pid = await pidOn(home, name);

    const cases: [string, Caller, LabNode, string | undefined][] = [
      ['the same node (tenant, no node named)', owner, home, undefined],
      ['the other node (provider admin)', admin, other, lab.nodeIds.get(other.name)],
    ];
    const identities = [sourceIdentity];
    for (const [what, caller, node, targetNodeId] of cases) {
      const cloneName = unique('clone');
      const started = Date.now();
      const res = await caller.gql(CLONE, { i: { containerId: created.id, name: cloneName, ...(targetNodeId ? { targetNodeId } : {}) } });
      assert.equal(res.data?.cloneContainer.status, 'CREATING', `${what}: ${JSON.stringify(res.errors)}`);
      assert.equal(res.data?.cloneContainer.operation.action, 'container.clone');
      const clone = await settled(res);
      console.log(`# cloneContainer onto ${what} to SUCCEEDED took ${Date.now() - started} ms`);
      assert.equal(clone.operation.state, 'SUCCEEDED', `${what}: ${JSON.stringify(clone.operation)}`);
      assert.equal(clone.status, 'RUNNING', `${what}: the clone of a running container runs`);
      assert.equal(clone.node.name, node.name, what);
      assert.deepEqual([clone.cpu, clone.memoryBytes, clone.diskBytes].map(Number), [created.cpu, Number(created.memoryBytes), 320 * 2 ** 20].map(Number), `${what}: the source's resources`);

      assert.equal(await statusOn(node, cloneName), 'Running', `${what}: lxc shows the clone running`);
      assert.equal((await sh(node, cloneName, 'cat /root/proof')).trim(), 'cloned-data', `${what}: the data is in the clone`);
      const instance = await instanceOn(node, cloneName);
      assert.equal(instance.expanded_config['limits.memory'], source.expanded_config['limits.memory'], what);
      assert.equal(instance.expanded_config['limits.cpu'], source.expanded_config['limits.cpu'], what);
      assert.equal(instance.expanded_devices.root.size, source.expanded_devices.root.size, `${what}: the resized root disk`);
      const cloneIdentity = identity(instance);
      assert.ok(cloneIdentity.uuid && cloneIdentity.cloudInit, `${what}: ${JSON.stringify(instance.config)}`);
      for (const earlier of identities) {
        assert.notEqual(cloneIdentity.uuid, earlier.uuid, `${what}: a new volatile.uuid`);
        assert.notEqual(cloneIdentity.cloudInit, earlier.cloudInit, `${what}: a new cloud-init instance-id`);
      }
      identities.push(cloneIdentity);
      const snapshots = JSON.parse(await lxc(node, 'query', `/1.0/instances/${cloneName}/snapshots?project=${lxdProject}`)) as string[];
      assert.deepEqual(snapshots, [], `${what}: the clone carries no snapshots`);

      // The source still runs, untouched: same init process, same identity, its file as it was.
      assert.equal(await statusOn(home, name), 'Running', what);
      assert.equal(await pidOn(home, name), pid, `${what}: the source was not restarted`);
      assert.deepEqual(identity(await instanceOn(home, name)), sourceIdentity, what);
      assert.equal((await read(created.id)).status, 'RUNNING', what);
      // Each has its own data from now on.
      await sh(node, cloneName, 'echo changed > /root/proof');
      assert.equal((await sh(home, name, 'cat /root/proof')).trim(), 'cloned-data', `${what}: the clone's writes do not reach the source`);
      await owner.ok(`mutation($id: ID!) { deleteContainer(id: $id) { id } }`, { id: clone.id });
    }
    await owner.ok(`mutation($id: ID!) { deleteContainer(id: $id) { id } }`, { id: created.id });
  });

  test('a stopped container is cloned stopped; a taken name and a tenant naming the node are refused with nothing made', async () => {
    const name = unique('cold');
    const created = await settled(await owner.gql(`mutation($i: CreateContainerInput!) { createContainer(input: $i) { ${CONTAINER} } }`, { i: { projectId, name, imageId, cpu: 1, memoryMiB: 64, diskMiB: 256 } }));
    const home = nodes.find((n) => n.name === created.node.name)!;
    const other = nodes.find((n) => n !== home)!;
    await sh(home, name, 'echo cold > /root/proof');
    await settled(await owner.gql(`mutation($id: ID!) { stopContainer(id: $id) { ${CONTAINER} } }`, { id: created.id }));
    const before = [await corralInstances(home), await corralInstances(other)].map((m) => JSON.stringify([...m]));

    for (const [what, variables, code] of [
      ['a taken name', { containerId: created.id, name }, 'CONFLICT'],
      ['a tenant naming the node', { containerId: created.id, name: unique('nope'), targetNodeId: lab.nodeIds.get(other.name) }, 'FORBIDDEN'],
    ] as const) {
      const res = await owner.gql(CLONE, { i: variables });
      assert.equal(codeOf(res), code, `${what}: ${JSON.stringify(res.errors)}`);
      assert.deepEqual([await corralInstances(home), await corralInstances(other)].map((m) => JSON.stringify([...m])), before, `${what}: nothing made on either node`);
    }

    const cloneName = unique('cold-clone');
    const clone = await settled(await admin.gql(CLONE, { i: { containerId: created.id, name: cloneName, targetNodeId: lab.nodeIds.get(other.name) } }));
    assert.equal(clone.operation.state, 'SUCCEEDED', JSON.stringify(clone.operation));
    assert.deepEqual([clone.status, clone.node.name], ['STOPPED', other.name]);
    assert.equal(await statusOn(other, cloneName), 'Stopped');
    assert.equal(await statusOn(home, name), 'Stopped', 'the source stays stopped');
    const started = await settled(await owner.gql(`mutation($id: ID!) { startContainer(id: $id) { ${CONTAINER} } }`, { id: clone.id }));
    assert.equal(started.status, 'RUNNING', JSON.stringify(started.operation));
    assert.equal((await sh(other, cloneName, 'cat /root/proof')).trim(), 'cold');
    assert.notEqual(identity(await instanceOn(other, cloneName)).uuid, identity(await instanceOn(home, name)).uuid);
    for (const id of [clone.id, created.id]) await owner.ok(`mutation($id: ID!) { deleteContainer(id: $id) { id } }`, { id });
  });
});
