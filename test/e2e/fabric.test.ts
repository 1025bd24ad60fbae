import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import type { GqlResponse } from '../support/client';
import { unique } from '../support/factories';
import { eventually, settledContainer, type LabNode } from '../support/lab';
import { startLabCorral, type LabCorral } from '../support/lab-corral';

const run = promisify(execFile);
const CONTAINER = `id name status node { name } addresses { family address } operation { id action state errorCode errorMessage }`;

/** Narrow ranges of the lab's container blocks, apart from the other suites' (they share the lab nodes). */
const V4 = { cidr: '198.51.100.0/24', first: '198.51.100.200', last: '198.51.100.219' };
const V6 = { cidr: '2001:db8::/64', first: '2001:db8::4:1', last: '2001:db8::4:ff' };

/**
 * The IP fabric with real packets: two lab nodes connected over SSH and set up by the playbook
 * (bird2 on each, iBGP between them), a container with public IPv4 and IPv6 addresses on node A
 * answers from node B's namespace; after a cold migration to B it answers from A's, and A no
 * longer carries the route itself: it reaches the address through B.
 */
describe('iBGP fabric between two lab nodes', () => {
  let lab: LabCorral;
  let a: LabNode;
  let b: LabNode;

  before(async () => {
    lab = await startLabCorral({ connectOverSsh: true });
    [a, b] = lab.nodes as [LabNode, LabNode];
    for (const [name, pool] of [['fabric-v4', V4], ['fabric-v6', V6]] as const) {
      await lab.admin.ok(`mutation($i: CreateIpPoolInput!) { createIpPool(input: $i) { id } }`, { i: { clusterId: lab.clusterId, name, cidr: pool.cidr, firstAddress: pool.first, lastAddress: pool.last } });
    }
  });
  after(() => lab?.stop());

  const read = async (id: string) => (await lab.admin.ok(`query($id: ID!) { container(id: $id) { ${CONTAINER} } }`, { id })).container;
  const settled = async (res: GqlResponse, ms = 180_000) => {
    const container = await settledContainer(read, res, ms);
    assert.equal(container.operation.state, 'SUCCEEDED', JSON.stringify(container.operation));
    return container;
  };
  /** `ip` in a node's namespace. */
  const ipIn = async (node: LabNode, ...args: string[]) => (await run('ip', ['netns', 'exec', node.namespace, 'ip', ...args], { timeout: 5_000 })).stdout;
  /** One bounded ping from a node's namespace. */
  const answersFrom = async (node: LabNode, address: string) => {
    try {
      await run('ip', ['netns', 'exec', node.namespace, 'ping', '-c1', '-W2', address], { timeout: 5_000 });
      return true;
    } catch {
      return false;
    }
  };
  /** BGP needs a kernel scan (2 s) and an UPDATE to carry a change: allow some seconds. */
  const answersSoonFrom = (node: LabNode, address: string) => eventually(`${address} to answer ping from ${node.name}`, () => answersFrom(node, address), 30_000);
  /** The route a node's kernel picks for an address, e.g. `198.51.100.200 via 198.18.0.11 dev eth0 …`. */
  const routeOn = async (node: LabNode, address: string) => (await ipIn(node, address.includes(':') ? '-6' : '-4', 'route', 'get', address)).trim();

  test('a container on A answers on its public IPv4 and IPv6 from B; after a cold migration to B it answers from A, which routes it through B', async () => {
    const res = await lab.admin.gql(`mutation($i: CreateContainerInput!) { createContainer(input: $i) { ${CONTAINER} } }`, {
      i: { projectId: lab.projectId, name: unique('fabric'), imageId: lab.imageIds.busybox, cpu: 1, memoryMiB: 64, diskMiB: 256, nodeId: lab.nodeIds.get(a.name), addresses: [{ family: 'IPV4' }, { family: 'IPV6' }] },
    });
    const created = await settled(res);
    assert.equal(created.status, 'RUNNING');
    assert.equal(created.node.name, a.name);
    const v4 = created.addresses.find((x: any) => x.family === 4).address as string;
    const v6 = created.addresses.find((x: any) => x.family === 6).address as string;

    // B learned both addresses over iBGP with A as next hop, and packets really get there and back.
    await answersSoonFrom(b, v4);
    await answersSoonFrom(b, v6);
    assert.match(await routeOn(b, v4), new RegExp(`via ${a.address.replaceAll('.', '\\.')} `));
    assert.match(await routeOn(b, v6), /via 2001:db8:ffff::/);
    assert.match(await ipIn(b, '-4', 'route', 'show', v4), /proto bird/);

    const moved = await settled(await lab.admin.gql(`mutation($id: ID!, $t: ID!) { migrateContainer(id: $id, targetNodeId: $t) { ${CONTAINER} } }`, { id: created.id, t: lab.nodeIds.get(b.name) }));
    assert.equal(moved.node.name, b.name);
    assert.deepEqual(moved.addresses, created.addresses, 'the addresses go with the container');

    // A reaches the container through B now; A itself no longer has the container's host route.
    await answersSoonFrom(a, v4);
    await answersSoonFrom(a, v6);
    await eventually(`${a.name} to route ${v4} via ${b.address}`, async () => (await routeOn(a, v4)).includes(`via ${b.address} `), 30_000);
    assert.match(await routeOn(a, v6), /via 2001:db8:ffff::/);
    assert.doesNotMatch(await ipIn(a, '-4', 'route', 'show', 'table', '100'), new RegExp(`^${v4.replaceAll('.', '\\.')} `, 'm'), `${a.name} still carries ${v4} in table 100`);
    assert.doesNotMatch(await ipIn(a, '-4', 'route', 'show', v4), /proto boot/, `${a.name} still has LXD's own route for ${v4}`);
    // And B reaches it locally, over the container's own veth.
    assert.match(await routeOn(b, v4), /dev cr[0-9a-f]{13} /);
    assert.equal(await answersFrom(b, v4), true);

    // A stopped container is withdrawn from the fabric: A no longer gets an answer or a route.
    await settled(await lab.admin.gql(`mutation($id: ID!) { stopContainer(id: $id) { ${CONTAINER} } }`, { id: created.id }));
    await eventually(`${a.name} to lose the route to ${v4}`, async () => !(await ipIn(a, '-4', 'route', 'show', v4)).includes('proto bird'), 30_000);
    assert.equal(await answersFrom(a, v4), false);
  });
});
