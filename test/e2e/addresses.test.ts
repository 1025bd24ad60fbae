import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { routedHostName } from '../../server/network/routed-nic';
import { labStatus } from '../lab/lab';
import type { GqlResponse } from '../support/client';
import { unique } from '../support/factories';
import { eventually, lxc, settledContainer, type LabNode } from '../support/lab';
import { startLabCorral, type LabCorral } from '../support/lab-corral';

const run = promisify(execFile);
const CONTAINER = `id name status addresses { family address } operation { id action state errorCode errorMessage }`;
const ADD = `mutation($i: AddContainerAddressInput!) { addContainerAddress(input: $i) { ${CONTAINER} } }`;
const REMOVE = `mutation($i: RemoveContainerAddressInput!) { removeContainerAddress(input: $i) { ${CONTAINER} } }`;

/**
 * The pools cover the whole blocks the task names, but hand out only a narrow range, so that
 * other suites on the same lab nodes (each with its own Corral and pools) are unlikely to route
 * the same addresses at the same time.
 */
const V4 = { cidr: '198.51.100.0/24', first: '198.51.100.180', second: '198.51.100.181', last: '198.51.100.199' };
const V6 = { cidr: '2001:db8::/64', first: '2001:db8::3:1', second: '2001:db8::3:2', last: '2001:db8::3:ff' };

/**
 * Public addresses on real LXD: a routed eth0 with the container's addresses answers ping from
 * its node's network namespace at once after create, after a live add, no longer after a
 * remove, and still after a restart (busybox, and Debian with cloud-init); a deleted container's
 * addresses are free again.
 */
describe('container addresses on real LXD nodes', () => {
  let lab: LabCorral;
  let n1: LabNode;
  let n1Id: string;

  before(async () => {
    const debian = (await labStatus()).images.debian;
    if (!debian) throw new Error('the addresses tests need the lab\'s Debian 12 image: run "npm run lab -- image debian" (as root)');
    lab = await startLabCorral({ images: { debian } });
    n1 = lab.nodes[0]!;
    n1Id = lab.nodeIds.get(n1.name)!;
    for (const [name, pool] of [['public-v4', V4], ['public-v6', V6]] as const) {
      await lab.admin.ok(`mutation($i: CreateIpPoolInput!) { createIpPool(input: $i) { id } }`, { i: { clusterId: lab.clusterId, name, cidr: pool.cidr, firstAddress: pool.first, lastAddress: pool.last } });
    }
  });
  after(() => lab?.stop());

  const read = async (id: string) => (await lab.admin.ok(`query($id: ID!) { container(id: $id) { ${CONTAINER} } }`, { id })).container;
  const settled = async (res: GqlResponse, ms = 120_000) => {
    const container = await settledContainer(read, res, ms);
    assert.equal(container.operation.state, 'SUCCEEDED', JSON.stringify(container.operation));
    return container;
  };
  /** A running container on n1 (the provider places it, so that n1's namespace is its node's). */
  const create = async (image: string, addresses: unknown[], memoryMiB = 64, diskMiB = 256) => {
    const name = unique('addr');
    const res = await lab.admin.gql(`mutation($i: CreateContainerInput!) { createContainer(input: $i) { ${CONTAINER} } }`, {
      i: { projectId: lab.projectId, name, imageId: lab.imageIds[image], cpu: 1, memoryMiB, diskMiB, nodeId: n1Id, addresses },
    });
    const container = await settled(res, 240_000);
    assert.equal(container.status, 'RUNNING');
    return container as { id: string; name: string; addresses: { family: number; address: string }[] };
  };
  /** One bounded ping from n1's network namespace. */
  const answers = async (address: string) => {
    try {
      await run('ip', ['netns', 'exec', n1.namespace, 'ping', '-c1', '-W2', address], { timeout: 5_000 });
      return true;
    } catch {
      return false;
    }
  };
  /** IPv6 addresses answer once duplicate address detection is over (about a second): a few bounded tries. */
  const answersSoon = (address: string, ms = 10_000) => eventually(`${address} to answer ping from ${n1.name}`, () => answers(address), ms);
  const restart = async (id: string) => settled(await lab.owner.gql(`mutation($id: ID!) { restartContainer(id: $id) { ${CONTAINER} } }`, { id }));
  /** Deletes a container and waits for its operation (the container itself can no longer be read). */
  const destroy = async (id: string) => {
    const opId = (await lab.owner.ok(`mutation($id: ID!) { deleteContainer(id: $id) { operation { id } } }`, { id })).deleteContainer.operation.id;
    const state = await eventually('the delete to finish', async () => {
      const s = (await lab.admin.ok(`query($id: ID!) { operation(id: $id) { state } }`, { id: opId })).operation.state as string;
      return ['SUCCEEDED', 'FAILED'].includes(s) && s;
    }, 60_000);
    assert.equal(state, 'SUCCEEDED');
  };

  test('a busybox container answers on its addresses at once, after a live add, no longer after a remove, and after a restart', async () => {
    const c = await create('busybox', [{ family: 'IPV4' }, { family: 'IPV6' }]);
    assert.deepEqual(c.addresses, [{ family: 4, address: V4.first }, { family: 6, address: V6.first }]);
    // The host side of eth0 has the fixed name the firewall keys on.
    await run('ip', ['netns', 'exec', n1.namespace, 'ip', 'link', 'show', routedHostName(c.id)], { timeout: 5_000 });
    assert.ok(await answers(V4.first), `${V4.first} answers`);
    await answersSoon(V6.first);

    const added = await settled(await lab.owner.gql(ADD, { i: { containerId: c.id, family: 'IPV4' } }));
    assert.deepEqual(added.addresses.map((a: any) => a.address), [V4.first, V4.second, V6.first]);
    // Configured inside by Corral (LXD does not on a running container): it answers at once.
    assert.ok(await answers(V4.second), `${V4.second} answers right after the add`);
    await answersSoon(V6.first, 5_000);

    const removed = await settled(await lab.owner.gql(REMOVE, { i: { containerId: c.id, address: V4.first } }));
    assert.deepEqual(removed.addresses.map((a: any) => a.address), [V4.second, V6.first]);
    assert.equal(await answers(V4.first), false, `${V4.first} no longer answers`);
    assert.ok(await answers(V4.second));

    await restart(c.id);
    await answersSoon(V4.second, 20_000);
    await answersSoon(V6.first);
    assert.equal(await answers(V4.first), false);

    // The last address takes eth0 (and its host side) away, live.
    await settled(await lab.owner.gql(REMOVE, { i: { containerId: c.id, address: V4.second } }));
    const none = await settled(await lab.owner.gql(REMOVE, { i: { containerId: c.id, address: V6.first } }));
    assert.deepEqual(none.addresses, []);
    assert.equal(await answers(V4.second), false);
    await assert.rejects(run('ip', ['netns', 'exec', n1.namespace, 'ip', 'link', 'show', routedHostName(c.id)], { timeout: 5_000 }));
    assert.doesNotMatch(await lxc(n1, 'exec', '--project', lab.lxdProject, c.name, '--', 'ls', '/sys/class/net'), /eth0/);

    await destroy(c.id);
  });

  test('a Debian container (cloud-init) keeps its addresses through a restart, and an address added live comes up with iproute2', async () => {
    const c = await create('debian', [{ family: 'IPV4' }], 512, 2048);
    const [v4] = c.addresses;
    await answersSoon(v4!.address, 30_000);
    // cloud-init has run its first boot completely (or the restart below would prove nothing).
    await lxc(n1, 'exec', '--project', lab.lxdProject, c.name, '--', 'timeout', '120', 'cloud-init', 'status', '--wait');
    const added = await settled(await lab.owner.gql(ADD, { i: { containerId: c.id, family: 'IPV6' } }));
    const v6 = added.addresses.find((a: any) => a.family === 6).address as string;
    await answersSoon(v6);
    await restart(c.id);
    await answersSoon(v4!.address, 60_000);
    await answersSoon(v6, 30_000);
    const status = await lxc(n1, 'exec', '--project', lab.lxdProject, c.name, '--', 'timeout', '120', 'cloud-init', 'status', '--wait');
    assert.match(status, /done/);
    assert.ok(await answers(v4!.address), 'still answers once cloud-init is done after the restart');
    await destroy(c.id);
  });

  test('a clone starts without addresses beside its running original; a container migrated to the other node answers there on the same addresses', async () => {
    const c = await create('busybox', [{ family: 'IPV4' }]);
    const [v4] = c.addresses;
    await answersSoon(v4!.address);
    const cloneName = unique('addr-clone');
    const cloned = await settled(await lab.owner.gql(`mutation($i: CloneContainerInput!) { cloneContainer(input: $i) { ${CONTAINER} } }`, { i: { containerId: c.id, name: cloneName } }));
    const clone = await read(cloned.id);
    assert.equal(clone.status, 'RUNNING', 'the clone started: no clash of host-side names or routes with the original');
    assert.deepEqual(clone.addresses, []);
    const devices = JSON.parse(await lxc(n1, 'query', `/1.0/instances/${cloneName}?project=${lab.lxdProject}`)).devices as Record<string, unknown>;
    assert.equal(devices.eth0, undefined);
    assert.ok(await answers(v4!.address), 'the original still answers');
    await destroy(clone.id);

    const n2 = lab.nodes[1]!;
    const migrated = await settled(await lab.admin.gql(`mutation($id: ID!, $t: ID!) { migrateContainer(id: $id, targetNodeId: $t) { ${CONTAINER} } }`, { id: c.id, t: lab.nodeIds.get(n2.name) }), 240_000);
    assert.deepEqual(migrated.addresses, c.addresses);
    await eventually(`${v4!.address} to answer ping from ${n2.name}`, async () => {
      try {
        await run('ip', ['netns', 'exec', n2.namespace, 'ping', '-c1', '-W2', v4!.address], { timeout: 5_000 });
        return true;
      } catch {
        return false;
      }
    }, 20_000);
    await run('ip', ['netns', 'exec', n2.namespace, 'ip', 'link', 'show', routedHostName(c.id)], { timeout: 5_000 });
    await destroy(c.id);
  });

  test('a deleted container’s addresses are free again: the next container gets the same lowest ones', async () => {
    const c = await create('busybox', [{ family: 'IPV4' }, { family: 'IPV6' }]);
    const mine = c.addresses;
    await answersSoon(mine[0]!.address);
    await destroy(c.id);
    assert.equal(await answers(mine[0]!.address), false, 'gone with its container');
    const next = await create('busybox', [{ family: 'IPV4' }, { family: 'IPV6' }]);
    assert.deepEqual(next.addresses, mine);
    await answersSoon(mine[0]!.address);
    await destroy(next.id);
  });
});
