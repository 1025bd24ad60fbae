import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { Caller, codeOf, type GqlResponse } from '../support/client';
import { unique } from '../support/factories';
import { corralInstances, eventually, type LabNode, lxc, settledContainer } from '../support/lab';
import { startLabCorral, type LabCorral } from '../support/lab-corral';

const run = promisify(execFile);
const CONTAINER = `id name status networkInterfaces { name kind network hwaddr } operation { id action state progress errorCode errorMessage }`;
const ADD = `mutation($i: AddNetworkInterfaceInput!) { addNetworkInterface(input: $i) { ${CONTAINER} } }`;
const REMOVE = `mutation($i: RemoveNetworkInterfaceInput!) { removeNetworkInterface(input: $i) { ${CONTAINER} } }`;
const NET = `mutation($id: ID!, $i: SetContainerNetworkLimitsInput!) { setContainerNetworkLimits(id: $id, input: $i) { ${CONTAINER} } }`;

/**
 * Network interfaces on real LXD: hot-plugged into a running busybox container and seen from
 * inside it, on Corral's bridge in the node's network namespace, through a restart, and removed;
 * NIC limits as the node's probe found them, checked with `tc` on the host-side veth.
 */
describe('network interfaces on real LXD nodes', () => {
  let nodes: LabNode[];
  let owner: Caller;
  let admin: Caller;
  let projectId: string;
  let lxdProject: string;
  let imageId: string;
  let lab: LabCorral;
  /** The project's own bridge, and a bridge the provider opened to every tenant (made here with lxc on both nodes). */
  let ownBridge: string;
  const opened = `e2e${randomBytes(4).toString('hex')}`;

  before(async () => {
    lab = await startLabCorral();
    ({ nodes, owner, admin, projectId, lxdProject } = lab);
    imageId = lab.imageIds.busybox!;
    ownBridge = `crb${projectId.replaceAll('-', '').slice(-12)}`;
    for (const node of nodes) await lxc(node, 'network', 'create', opened, 'ipv4.address=none', 'ipv6.address=none', 'user.corral.attachable=true');
  });
  after(async () => {
    await lab?.stop();
    // Bridges go once no NIC uses them: the project's (Corral leaves it for the project's next NIC) and the opened one.
    for (const node of nodes ?? []) for (const bridge of [opened, ownBridge]) await lxc(node, 'network', 'delete', bridge).catch(() => undefined);
  });

  const read = async (id: string) => (await admin.ok(`query($id: ID!) { container(id: $id) { ${CONTAINER} } }`, { id })).container;
  const settled = (res: GqlResponse) => settledContainer(read, res, 60_000);
  const createRunning = async (as: Caller = owner, nodeId?: string) => {
    const name = unique('nic');
    const res = await as.gql(`mutation($i: CreateContainerInput!) { createContainer(input: $i) { ${CONTAINER} } }`, { i: { projectId, name, imageId, cpu: 1, memoryMiB: 64, diskMiB: 256, ...(nodeId ? { nodeId } : {}) } });
    const container = await settled(res);
    assert.equal(container.status, 'RUNNING', JSON.stringify(container.operation));
    return { id: container.id as string, name, node: await whereIs(name) };
  };
  const whereIs = async (name: string) => {
    for (const node of nodes) if ((await corralInstances(node)).has(`${lxdProject}/${name}`)) return node;
    throw new Error(`${name} is on no node`);
  };
  const sh = (node: LabNode, name: string, script: string) => lxc(node, 'exec', '--project', lxdProject, name, '--', 'sh', '-c', script);
  /** The interfaces inside the container, from its own /sys. */
  const inside = async (node: LabNode, name: string) => (await sh(node, name, 'ls /sys/class/net')).split(/\s+/).filter(Boolean).sort();
  const instance = async (node: LabNode, name: string) => JSON.parse(await lxc(node, 'query', `/1.0/instances/${name}?project=${lxdProject}`));
  /** A command in the lab node's network namespace, where LXD puts the host side of the veths. */
  const inNetns = async (node: LabNode, ...args: string[]) => (await run('ip', ['netns', 'exec', node.namespace, ...args])).stdout;
  const hostVeth = async (node: LabNode, name: string, nic: string) => {
    const veth = (await instance(node, name)).config[`volatile.${nic}.host_name`] as string;
    assert.ok(veth, `volatile.${nic}.host_name`);
    return veth;
  };
  const remove = (id: string) => owner.ok(`mutation($id: ID!) { deleteContainer(id: $id) { id } }`, { id });

  test('an interface is hot-plugged into the running container at once, on the project’s bridge, survives a restart, and disappears when removed', async () => {
    const { id, name, node } = await createRunning();
    assert.deepEqual(await inside(node, name), ['lo']);
    const pid = JSON.parse(await lxc(node, 'query', `/1.0/instances/${name}/state?project=${lxdProject}`)).pid;

    const started = Date.now();
    const added = await settled(await owner.gql(ADD, { i: { containerId: id } }));
    console.log(`# addNetworkInterface to SUCCEEDED took ${Date.now() - started} ms`);
    assert.equal(added.operation.action, 'container.addNetworkInterface');
    assert.equal(added.operation.state, 'SUCCEEDED', JSON.stringify(added.operation));
    assert.equal(added.status, 'RUNNING');
    assert.equal(added.networkInterfaces.length, 1);
    const nic = added.networkInterfaces[0];
    assert.deepEqual([nic.name, nic.kind, nic.network], ['eth1', 'BRIDGED', ownBridge]);

    // Inside the running container, without a restart, with the MAC Corral chose.
    assert.deepEqual(await inside(node, name), ['eth1', 'lo']);
    assert.equal((await sh(node, name, 'cat /sys/class/net/eth1/address')).trim(), nic.hwaddr);
    assert.match(await sh(node, name, 'ip -o link show eth1'), /eth1/);
    assert.equal(JSON.parse(await lxc(node, 'query', `/1.0/instances/${name}/state?project=${lxdProject}`)).pid, pid, 'not restarted');
    // On the node: the device, the project's layer-2 bridge, and the host veth enslaved to it in the node's namespace.
    assert.deepEqual((await instance(node, name)).devices.eth1, { type: 'nic', network: ownBridge, name: 'eth1', hwaddr: nic.hwaddr });
    const bridge = JSON.parse(await lxc(node, 'query', `/1.0/networks/${ownBridge}`));
    assert.deepEqual([bridge.managed, bridge.type, bridge.config['ipv4.address'], bridge.config['ipv6.address'], bridge.config['user.corral.project']], [true, 'bridge', 'none', 'none', projectId]);
    const veth = await hostVeth(node, name, 'eth1');
    assert.match(await inNetns(node, 'ip', '-o', 'link', 'show', 'master', ownBridge), new RegExp(`\\b${veth}@`));

    // A second one, named, on the bridge the provider opened; then a restart through Corral: both come back with the same MACs.
    const second = await settled(await owner.gql(ADD, { i: { containerId: id, name: 'data0', network: opened } }));
    assert.equal(second.operation.state, 'SUCCEEDED', JSON.stringify(second.operation));
    assert.deepEqual(await inside(node, name), ['data0', 'eth1', 'lo']);
    assert.match(await inNetns(node, 'ip', '-o', 'link', 'show', 'master', opened), new RegExp(`\\b${await hostVeth(node, name, 'data0')}@`));
    const restarted = await settled(await owner.gql(`mutation($id: ID!) { restartContainer(id: $id) { ${CONTAINER} } }`, { id }));
    assert.equal(restarted.status, 'RUNNING', JSON.stringify(restarted.operation));
    assert.notEqual(JSON.parse(await lxc(node, 'query', `/1.0/instances/${name}/state?project=${lxdProject}`)).pid, pid, 'restarted');
    assert.deepEqual(await inside(node, name), ['data0', 'eth1', 'lo']);
    assert.equal((await sh(node, name, 'cat /sys/class/net/eth1/address')).trim(), nic.hwaddr);

    // Removed live: gone from inside at once, from the node's config, and from the API.
    const removed = await settled(await owner.gql(REMOVE, { i: { containerId: id, name: 'eth1' } }));
    assert.equal(removed.operation.state, 'SUCCEEDED', JSON.stringify(removed.operation));
    assert.deepEqual(await inside(node, name), ['data0', 'lo']);
    assert.equal((await instance(node, name)).devices.eth1, undefined);
    assert.deepEqual(removed.networkInterfaces.map((n: any) => n.name), ['data0']);
    assert.equal(removed.status, 'RUNNING');
    await remove(id);
  });

  test('a container with interfaces migrates cold to the other node: its project bridge is created there and the interfaces come back inside with their MACs', async () => {
    const { id, name, node } = await createRunning();
    const added = await settled(await owner.gql(ADD, { i: { containerId: id } }));
    assert.equal(added.operation.state, 'SUCCEEDED', JSON.stringify(added.operation));
    const mac = added.networkInterfaces[0].hwaddr;
    const target = nodes.find((n) => n !== node)!;
    const moved = await settled(await admin.gql(`mutation($id: ID!, $t: ID!) { migrateContainer(id: $id, targetNodeId: $t) { ${CONTAINER} } }`, { id, t: lab.nodeIds.get(target.name) }));
    assert.equal(moved.operation.state, 'SUCCEEDED', JSON.stringify(moved.operation));
    assert.equal(moved.status, 'RUNNING');
    assert.equal(await whereIs(name), target);
    assert.equal(JSON.parse(await lxc(target, 'query', `/1.0/networks/${ownBridge}`)).config['user.corral.project'], projectId);
    assert.deepEqual(await inside(target, name), ['eth1', 'lo']);
    assert.equal((await sh(target, name, 'cat /sys/class/net/eth1/address')).trim(), mac);
    assert.match(await inNetns(target, 'ip', '-o', 'link', 'show', 'master', ownBridge), new RegExp(`\\b${await hostVeth(target, name, 'eth1')}@`));
    // Still Corral's to remove there.
    const removed = await settled(await owner.gql(REMOVE, { i: { containerId: id, name: 'eth1' } }));
    assert.equal(removed.operation.state, 'SUCCEEDED', JSON.stringify(removed.operation));
    assert.deepEqual(await inside(target, name), ['lo']);
    await remove(id);
  });

  test('a clone of a container with an interface has that interface too, on the same bridge, with a MAC of its own, on its node and on the other', async () => {
    const { id, name, node } = await createRunning();
    const added = await settled(await owner.gql(ADD, { i: { containerId: id } }));
    assert.equal(added.operation.state, 'SUCCEEDED', JSON.stringify(added.operation));
    const sourceMac = added.networkInterfaces[0].hwaddr;
    const other = nodes.find((n) => n !== node)!;
    const clones: string[] = [];
    for (const [caller, targetNodeId, lands] of [[owner, undefined, node], [admin, lab.nodeIds.get(other.name), other]] as const) {
      const cloneName = unique('nicclone');
      const clone = await settled(await caller.gql(`mutation($i: CloneContainerInput!) { cloneContainer(input: $i) { ${CONTAINER} } }`, { i: { containerId: id, name: cloneName, ...(targetNodeId ? { targetNodeId } : {}) } }));
      assert.equal(clone.operation.state, 'SUCCEEDED', JSON.stringify(clone.operation));
      clones.push(clone.id);
      assert.equal(await whereIs(cloneName), lands);
      assert.deepEqual(clone.networkInterfaces.map((n: any) => [n.name, n.network]), [['eth1', ownBridge]]);
      const cloneMac = clone.networkInterfaces[0].hwaddr as string;
      assert.notEqual(cloneMac, sourceMac, 'the clone must not share the source’s MAC address');
      assert.deepEqual(await inside(lands, cloneName), ['eth1', 'lo']);
      assert.equal((await sh(lands, cloneName, 'cat /sys/class/net/eth1/address')).trim(), cloneMac);
      assert.match(await inNetns(lands, 'ip', '-o', 'link', 'show', 'master', ownBridge), new RegExp(`\\b${await hostVeth(lands, cloneName, 'eth1')}@`));
    }
    // The source kept its own.
    assert.equal((await sh(node, name, 'cat /sys/class/net/eth1/address')).trim(), sourceMac);
    for (const clone of clones) await remove(clone);
    await remove(id);
  });

  test('a stopped container gets the interface at its next start', async () => {
    const { id, name, node } = await createRunning();
    const stopped = await settled(await owner.gql(`mutation($id: ID!) { stopContainer(id: $id) { ${CONTAINER} } }`, { id }));
    assert.equal(stopped.status, 'STOPPED');
    const added = await settled(await owner.gql(ADD, { i: { containerId: id, name: 'lan0' } }));
    assert.equal(added.operation.state, 'SUCCEEDED', JSON.stringify(added.operation));
    assert.equal(added.status, 'STOPPED');
    assert.equal((await instance(node, name)).devices.lan0.hwaddr, added.networkInterfaces[0].hwaddr);
    const started = await settled(await owner.gql(`mutation($id: ID!) { startContainer(id: $id) { ${CONTAINER} } }`, { id }));
    assert.equal(started.status, 'RUNNING', JSON.stringify(started.operation));
    assert.deepEqual(await inside(node, name), ['lan0', 'lo']);
    await remove(id);
  });

  test('bad input on a real container changes nothing on the node: eth0, a duplicate, a bad name, a closed network', async () => {
    const { id, name, node } = await createRunning();
    await settled(await owner.gql(ADD, { i: { containerId: id } }));
    const before = (await instance(node, name)).devices;
    const cases: [string, Record<string, unknown>, string][] = [
      [ADD, { name: 'eth1', network: opened }, 'CONFLICT'],
      // One NIC per bridge: LXD refuses a second one of the same instance.
      [ADD, { name: 'eth2' }, 'CONFLICT'],
      [ADD, { name: 'eth0' }, 'BAD_USER_INPUT'],
      [ADD, { name: 'way-too-long-name' }, 'BAD_USER_INPUT'],
      // The node's uplink is an unmanaged interface, not a bridge open to containers.
      [ADD, { network: 'eth0' }, 'BAD_USER_INPUT'],
      [REMOVE, { name: 'eth0' }, 'BAD_USER_INPUT'],
      [REMOVE, { name: 'eth7' }, 'NOT_FOUND'],
    ];
    for (const [doc, i, code] of cases) {
      const res = await owner.gql(doc, { i: { containerId: id, ...i } });
      assert.equal(codeOf(res), code, `${JSON.stringify(i)}: ${JSON.stringify(res.errors)}`);
    }
    assert.deepEqual((await instance(node, name)).devices, before);
    assert.deepEqual(await inside(node, name), ['eth1', 'lo']);
    await remove(id);
  });

  test('the nodes’ probe finds NIC ingress limits work and egress limits do not (no act_police); ingress lands as tc htb on the host veth, also on a NIC added later, and egress is LIMIT_UNSUPPORTED with nothing applied', async () => {
    // The probe needs a container image on each node: one container per node puts it there.
    const perNode = [];
    for (const node of nodes) perNode.push(await createRunning(admin, lab.nodeIds.get(node.name)));
    const caps = await eventually('both nodes to report their NIC limit probe', async () => {
      const list = (await admin.ok(`{ nodes { edges { node { name capabilities { nicIngressLimit nicEgressLimit reasons } } } } }`)).nodes.edges.map((e: any) => e.node);
      return list.every((n: any) => n.capabilities?.nicIngressLimit) ? list : null;
    }, 60_000);
    for (const n of caps) {
      assert.equal(n.capabilities.nicEgressLimit, false, n.name);
      const reason = n.capabilities.reasons.find((r: string) => r.startsWith('nicEgressLimit:'));
      assert.match(reason, /police/, n.name);
      assert.match(reason, /Failed to load TC action module/, n.name);
      assert.ok(!n.capabilities.reasons.some((r: string) => r.startsWith('nicIngressLimit:')), JSON.stringify(n.capabilities.reasons));
    }
    // The probe cleans up after itself.
    for (const node of nodes) {
      const all = JSON.parse(await lxc(node, 'list', '--project', 'default', '--format', 'json')) as { name: string }[];
      assert.deepEqual(all.filter((i) => i.name.startsWith('corral-nic-probe-')), [], node.name);
    }

    const { id, name, node } = await createRunning();
    await settled(await owner.gql(ADD, { i: { containerId: id } }));
    const limited = await settled(await owner.gql(NET, { id, i: { ingressMbit: 10 } }));
    assert.equal(limited.operation.state, 'SUCCEEDED', JSON.stringify(limited.operation));
    assert.equal((await instance(node, name)).devices.eth1['limits.ingress'], '10Mbit');
    const veth1 = await hostVeth(node, name, 'eth1');
    assert.match(await inNetns(node, 'tc', 'qdisc', 'show', 'dev', veth1), /qdisc htb 1: root/);
    assert.match(await inNetns(node, 'tc', 'class', 'show', 'dev', veth1), /rate 10Mbit/);

    // Egress needs tc police: refused before anything is recorded or applied.
    const devicesBefore = (await instance(node, name)).devices;
    const refused = await owner.gql(NET, { id, i: { egressMbit: 5 } });
    assert.equal(codeOf(refused), 'LIMIT_UNSUPPORTED', JSON.stringify(refused.errors));
    assert.deepEqual(refused.errors?.[0]?.extensions?.missing, ['nicEgressLimit']);
    assert.match(refused.errors![0]!.message, /police/);
    assert.deepEqual((await instance(node, name)).devices, devicesBefore);
    assert.doesNotMatch(await inNetns(node, 'tc', 'qdisc', 'show', 'dev', veth1), /ingress ffff:/);
    assert.equal((await read(id)).operation.action, 'container.setNetworkLimits');

    // A NIC added later gets the container's NIC limits too.
    const second = await settled(await owner.gql(ADD, { i: { containerId: id, network: opened } }));
    assert.equal(second.operation.state, 'SUCCEEDED', JSON.stringify(second.operation));
    assert.equal((await instance(node, name)).devices.eth2['limits.ingress'], '10Mbit');
    assert.match(await inNetns(node, 'tc', 'class', 'show', 'dev', await hostVeth(node, name, 'eth2')), /rate 10Mbit/);
    assert.deepEqual(await inside(node, name), ['eth1', 'eth2', 'lo']);

    await remove(id);
    for (const c of perNode) await admin.ok(`mutation($id: ID!) { deleteContainer(id: $id) { id } }`, { id: c.id });
    await eventually('the containers to be deleted', async () => {
      for (const n of nodes) if ([...(await corralInstances(n)).keys()].some((k) => k.endsWith(`/${name}`))) return false;
      return true;
    });
  });
});
