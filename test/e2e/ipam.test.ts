import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { GqlResponse } from '../support/client';
import { unique } from '../support/factories';
import { corralInstances, eventually, settledContainer } from '../support/lab';
import { startLabCorral, type LabCorral } from '../support/lab-corral';

const CONTAINER = `id name status addresses { address family } operation { id action state errorCode errorMessage }`;
const POOL = `query($id: ID!) { ipPool(id: $id) { allocatedCount } }`;

/**
 * IPAM with real LXD nodes: addresses allocated to a container created on a lab node are
 * released when Corral deletes the container from the node, and handed out again. (Putting the
 * addresses on the container's NIC, and the packets that prove it, come with the addresses item.)
 */
describe('IPAM with real LXD nodes', () => {
  let lab: LabCorral;
  before(async () => {
    lab = await startLabCorral();
  });
  after(() => lab?.stop());

  const read = async (id: string) => (await lab.admin.ok(`query($id: ID!) { container(id: $id) { ${CONTAINER} } }`, { id })).container;
  const settled = (res: GqlResponse) => settledContainer(read, res, 60_000);
  const createRunning = async () => {
    const name = unique('ip');
    const c = await settled(await lab.owner.gql(`mutation($i: CreateContainerInput!) { createContainer(input: $i) { ${CONTAINER} } }`, { i: { projectId: lab.projectId, clusterId: lab.clusterId, name, imageId: lab.imageIds.busybox, cpu: 1, memoryMiB: 64, diskMiB: 256 } }));
    assert.equal(c.status, 'RUNNING', JSON.stringify(c.operation));
    return { id: c.id as string, name };
  };
  const onSomeNode = async (name: string) => {
    for (const node of lab.nodes) if ((await corralInstances(node)).has(`${lab.lxdProject}/${name}`)) return true;
    return false;
  };

  test('addresses of a container deleted from its node are released and handed out again; a pool of another cluster is refused', async () => {
    const v4 = (await lab.admin.ok(`mutation($c: ID!) { createIpPool(input: { clusterId: $c, name: "lab-v4", cidr: "198.51.100.192/29", gateway: "198.51.100.193" }) { id } }`, { c: lab.clusterId })).createIpPool.id;
    const v6 = (await lab.admin.ok(`mutation($c: ID!) { createIpPool(input: { clusterId: $c, name: "lab-v6", cidr: "2001:db8:0:c0::/64" }) { id } }`, { c: lab.clusterId })).createIpPool.id;
    const first = await createRunning();
    assert.equal((await lab.server.services.ipam.allocateAddress(v4, first.id)).address, '198.51.100.194');
    assert.equal((await lab.server.services.ipam.allocateAddress(v6, first.id)).address, '2001:db8:0:c0::1');
    assert.deepEqual((await lab.owner.ok(`query($id: ID!) { container(id: $id) { addresses { address family } } }`, { id: first.id })).container.addresses, [
      { address: '198.51.100.194', family: 4 },
      { address: '2001:db8:0:c0::1', family: 6 },
    ]);
    const refused = await lab.admin.gql(`mutation($id: ID!) { deleteIpPool(id: $id) { id } }`, { id: v4 });
    assert.equal(refused.errors?.[0]?.extensions?.code, 'CONFLICT');

    const elsewhere = (await lab.admin.ok(`mutation { createCluster(input: { name: "elsewhere" }) { id } }`)).createCluster.id;
    const foreign = (await lab.admin.ok(`mutation($c: ID!) { createIpPool(input: { clusterId: $c, name: "far", cidr: "198.51.100.200/29" }) { id } }`, { c: elsewhere })).createIpPool.id;
    await assert.rejects(lab.server.services.ipam.allocateAddress(foreign, first.id), { code: 'BAD_USER_INPUT' });

    await lab.owner.ok(`mutation($id: ID!) { deleteContainer(id: $id) { id } }`, { id: first.id });
    await eventually('the container to be gone from the node', async () => !(await onSomeNode(first.name)), 60_000);
    await eventually('its addresses to be released', async () => (await lab.admin.ok(POOL, { id: v4 })).ipPool.allocatedCount === 0 && (await lab.admin.ok(POOL, { id: v6 })).ipPool.allocatedCount === 0, 30_000);

    const second = await createRunning();
    assert.equal((await lab.server.services.ipam.allocateAddress(v4, second.id)).address, '198.51.100.194', 'the released address is handed out again');
    await lab.owner.ok(`mutation($id: ID!) { deleteContainer(id: $id) { id } }`, { id: second.id });
    await eventually('the second container to be gone', async () => !(await onSomeNode(second.name)), 60_000);
    for (const id of [v4, v6, foreign]) await eventually('the pool to be deletable', async () => !(await lab.admin.gql(`mutation($id: ID!) { deleteIpPool(id: $id) { id } }`, { id })).errors, 30_000);
  });
});
