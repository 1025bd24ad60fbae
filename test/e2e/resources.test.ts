import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { Caller, codeOf, type GqlResponse } from '../support/client';
import { unique } from '../support/factories';
import { corralInstances, eventually, type LabNode, lxc, settledContainer } from '../support/lab';
import { type TestServer } from '../support/server';
import { startLabCorral, type LabCorral } from '../support/lab-corral';

const MiB = 1024 * 1024;
const CONTAINER = `id name status cpu memoryBytes diskBytes cpuLimitPercent cpuWeight operation { id action state progress errorCode errorMessage }`;
const UPDATE = `mutation($id: ID!, $i: UpdateContainerResourcesInput!, $k: String) { updateContainerResources(id: $id, input: $i, idempotencyKey: $k) { ${CONTAINER} } }`;
const RESIZE = `mutation($id: ID!, $d: Int!, $k: String) { resizeContainerDisk(id: $id, diskMiB: $d, idempotencyKey: $k) { ${CONTAINER} } }`;

/** Live resource changes on real LXD: checked in the node's cgroups and from inside the container. */
describe('live resources on real LXD nodes', () => {
  let server: TestServer;
  let nodes: LabNode[];
  let owner: Caller;
  let admin: Caller;
  let projectId: string;
  let lxdProject: string;
  let imageId: string;
  let lab: LabCorral;

  before(async () => {
    lab = await startLabCorral();
    ({ server, nodes, owner, admin, projectId, lxdProject } = lab);
    imageId = lab.imageIds.busybox!;
  });
  after(() => lab?.stop());

  const read = async (id: string) => (await owner.ok(`query($id: ID!) { container(id: $id) { ${CONTAINER} } }`, { id })).container;
  const settled = (res: GqlResponse) => settledContainer(read, res, 60_000);
  const createRunning = async (diskMiB = 256, cpu = 2) => {
    const name = unique('res');
    const res = await owner.gql(`mutation($i: CreateContainerInput!) { createContainer(input: $i) { ${CONTAINER} } }`, { i: { projectId, name, imageId, cpu, memoryMiB: 128, diskMiB } });
    const container = await settled(res);
    assert.equal(container.status, 'RUNNING', JSON.stringify(container.operation));
    const node = await whereIs(name);
    return { id: container.id as string, name, node };
  };
  const whereIs = async (name: string) => {
    for (const node of nodes) if ((await corralInstances(node)).has(`${lxdProject}/${name}`)) return node;
    throw new Error(`${name} is on no node`);
  };
  /** The instance as LXD keeps it: its own config and devices (not the expanded ones), and its init pid. */
  const onNode = async (node: LabNode, name: string) => {
    const instance = JSON.parse(await lxc(node, 'query', `/1.0/instances/${name}?project=${lxdProject}`));
    const state = JSON.parse(await lxc(node, 'query', `/1.0/instances/${name}/state?project=${lxdProject}`));
    return { config: instance.config as Record<string, string>, devices: instance.devices as Record<string, Record<string, string>>, pid: state.pid as number, status: state.status as string };
  };
  /** What the node's kernel enforces: cgroup v1 files of the container's payload cgroup. */
  const cgroup = (name: string, controller: string, file: string) => fs.readFileSync(`/sys/fs/cgroup/${controller}/lxc.payload.${lxdProject}_${name}/${file}`, 'utf8').trim();
  const limitsOf = (config: Record<string, string>) => Object.fromEntries(Object.entries(config).filter(([k]) => k.startsWith('limits.')));
  const sh = (node: LabNode, name: string, script: string) => lxc(node, 'exec', '--project', lxdProject, name, '--', 'sh', '-c', script);

  test('CPU count, memory, a CPU cap in percent and a CPU weight change live: the node’s cgroups say so and the container did not restart', async () => {
    const { id, name, node } = await createRunning();
    const before = await onNode(node, name);
    assert.equal(cgroup(name, 'cpu', 'cpu.cfs_quota_us'), '-1');
    assert.equal(cgroup(name, 'memory', 'memory.limit_in_bytes'), String(128 * MiB));
    const sharesBefore = Number(cgroup(name, 'cpu', 'cpu.shares'));

    const started = Date.now();
    const res = await owner.gql(UPDATE, { id, i: { cpu: 1, memoryMiB: 96, cpuLimitPercent: 25, cpuWeight: 2 } });
    assert.equal(res.data.updateContainerResources.operation.action, 'container.updateResources');
    const done = await settled(res);
    console.log(`# updateContainerResources to SUCCEEDED took ${Date.now() - started} ms`);
    assert.equal(done.operation.state, 'SUCCEEDED', JSON.stringify(done.operation));
    assert.equal(done.operation.progress, 100);
    assert.deepEqual([done.cpu, Number(done.memoryBytes), done.cpuLimitPercent, done.cpuWeight, done.status], [1, 96 * MiB, 25, 2, 'RUNNING']);

    const afterwards = await onNode(node, name);
    assert.equal(afterwards.pid, before.pid, 'the container was not restarted');
    assert.equal(afterwards.status, 'Running');
    assert.deepEqual(limitsOf(afterwards.config), { 'limits.cpu': '1', 'limits.memory': `${96 * MiB}B`, 'limits.cpu.allowance': '25ms/100ms', 'limits.cpu.priority': '2' });
    // A hard cap: 25 ms of every 100 ms, not a weight.
    assert.equal(cgroup(name, 'cpu', 'cpu.cfs_quota_us'), '25000');
    assert.equal(cgroup(name, 'cpu', 'cpu.cfs_period_us'), '100000');
    // The weight lowers the shares (LXD: 1024 − (10 − priority) for a time allowance).
    assert.ok(Number(cgroup(name, 'cpu', 'cpu.shares')) < sharesBefore, `cpu.shares ${cgroup(name, 'cpu', 'cpu.shares')} should be below ${sharesBefore}`);
    assert.equal(cgroup(name, 'memory', 'memory.limit_in_bytes'), String(96 * MiB));
    // LXD re-balances the CPU set asynchronously.
    let set = '';
    const cpus = await eventually('the cpuset to shrink to one CPU', async () => {
      set = cgroup(name, 'cpuset', 'cpuset.cpus');
      return /^\d+$/.test(set) ? set : null;
    }).catch((error: Error) => {
      throw new Error(`${error.message}; cpuset.cpus is ${set}`);
    });
    console.log(`# cpuset.cpus ${cpus}, cpu.shares ${sharesBefore} -> ${cgroup(name, 'cpu', 'cpu.shares')}`);

    // Back up: more CPUs and memory, a weaker cap.
    const up = await settled(await owner.gql(UPDATE, { id, i: { cpu: 2, memoryMiB: 256, cpuLimitPercent: 150 } }));
    assert.equal(up.operation.state, 'SUCCEEDED', JSON.stringify(up.operation));
    assert.equal(cgroup(name, 'cpu', 'cpu.cfs_quota_us'), '150000');
    assert.equal(cgroup(name, 'memory', 'memory.limit_in_bytes'), String(256 * MiB));
    await eventually('the cpuset to grow to two CPUs', async () => cgroup(name, 'cpuset', 'cpuset.cpus') === '0-1');
    assert.equal((await onNode(node, name)).pid, before.pid);
    await owner.ok(`mutation($id: ID!) { deleteContainer(id: $id) { id } }`, { id });
  });

  test('an idempotency key replays the first resources change and refuses other input', async () => {
    const { id } = await createRunning();
    const key = unique('key');
    const first = await settled(await owner.gql(UPDATE, { id, i: { cpuWeight: 3 }, k: key }));
    const again = await owner.gql(UPDATE, { id, i: { cpuWeight: 3 }, k: key });
    assert.equal(again.data.updateContainerResources.operation.id, first.operation.id);
    assert.equal(codeOf(await owner.gql(UPDATE, { id, i: { cpuWeight: 4 }, k: key })), 'IDEMPOTENCY_KEY_REUSED');
    const history = await owner.ok(`query($id: ID!) { operations(containerId: $id) { edges { node { action } } } }`, { id });
    assert.equal(history.operations.edges.filter((e: any) => e.node.action === 'container.updateResources').length, 1);
    await owner.ok(`mutation($id: ID!) { deleteContainer(id: $id) { id } }`, { id });
  });

  test('the disk grows live: a write larger than the old quota fails before and succeeds after, inside the container', async () => {
    const { id, name, node } = await createRunning(64);
    // 100 MiB does not fit a 64 MiB qgroup.
    await assert.rejects(sh(node, name, 'dd if=/dev/zero of=/fill bs=1048576 count=100 && sync'), /Disk quota exceeded|No space left/);
    await sh(node, name, 'rm -f /fill && sync');
    const before = await onNode(node, name);

    const started = Date.now();
    const grown = await settled(await owner.gql(RESIZE, { id, d: 256 }));
    console.log(`# resizeContainerDisk (grow) to SUCCEEDED took ${Date.now() - started} ms`);
    assert.equal(grown.operation.state, 'SUCCEEDED', JSON.stringify(grown.operation));
    assert.equal(Number(grown.diskBytes), 256 * MiB);
    const afterwards = await onNode(node, name);
    assert.equal(afterwards.devices.root!.size, `${256 * MiB}B`);
    assert.equal(afterwards.pid, before.pid, 'the container was not restarted');
    await sh(node, name, 'dd if=/dev/zero of=/fill bs=1048576 count=100 && sync');
    assert.equal((await sh(node, name, 'wc -c < /fill')).trim(), String(100 * MiB));

    // Shrinking below what is used (100 MiB + margin) is refused before LXD is asked; the node keeps 256 MiB.
    const usage = JSON.parse(await lxc(node, 'query', `/1.0/instances/${name}/state?project=${lxdProject}`)).disk.root.usage as number;
    assert.ok(usage >= 100 * MiB, `usage ${usage}`);
    const refused = await owner.gql(RESIZE, { id, d: 128 });
    assert.equal(codeOf(refused), 'BAD_USER_INPUT', JSON.stringify(refused.errors));
    assert.equal(refused.errors?.[0]?.extensions?.field, 'diskMiB');
    assert.ok(Number(refused.errors?.[0]?.extensions?.minimumMiB) > 128);
    assert.equal((await onNode(node, name)).devices.root!.size, `${256 * MiB}B`);
    assert.equal(Number((await read(id)).diskBytes), 256 * MiB);
    // The old quota is still the real one: another 100 MiB fits under 256 MiB.
    await sh(node, name, 'dd if=/dev/zero of=/fill2 bs=1048576 count=100 && sync');

    // A shrink that leaves room above usage is allowed.
    await sh(node, name, 'rm -f /fill /fill2 && sync');
    const shrunk = await settled(await owner.gql(RESIZE, { id, d: 160 }));
    assert.equal(shrunk.operation.state, 'SUCCEEDED', JSON.stringify(shrunk.operation));
    assert.equal((await onNode(node, name)).devices.root!.size, `${160 * MiB}B`);
    await owner.ok(`mutation($id: ID!) { deleteContainer(id: $id) { id } }`, { id });
  });

  test('bad input, too much, and a busy container are refused with typed errors and change nothing on the node', async () => {
    const { id, name, node } = await createRunning();
    const before = await onNode(node, name);
    const row = await read(id);
    const cases: [string, Record<string, unknown>, string][] = [
      [UPDATE, { i: { cpu: -1 } }, 'BAD_USER_INPUT'],
      [UPDATE, { i: { cpu: 0 } }, 'BAD_USER_INPUT'],
      [UPDATE, { i: { cpu: 65 } }, 'BAD_USER_INPUT'],
      [UPDATE, { i: { memoryMiB: 1 } }, 'BAD_USER_INPUT'],
      [UPDATE, { i: { memoryMiB: 10_000_000 } }, 'BAD_USER_INPUT'],
      [UPDATE, { i: { cpuLimitPercent: 0 } }, 'BAD_USER_INPUT'],
      [UPDATE, { i: { cpuLimitPercent: 6401 } }, 'BAD_USER_INPUT'],
      [UPDATE, { i: { cpuWeight: -1 } }, 'BAD_USER_INPUT'],
      [UPDATE, { i: { cpuWeight: 11 } }, 'BAD_USER_INPUT'],
      [UPDATE, { i: {} }, 'BAD_USER_INPUT'],
      [UPDATE, { i: { cpu: 64 } }, 'CAPACITY_EXCEEDED'],
      [UPDATE, { i: { memoryMiB: 200 * 1024 } }, 'CAPACITY_EXCEEDED'],
      [UPDATE, { id: '00000000-0000-7000-8000-000000000000', i: { cpu: 1 } }, 'NOT_FOUND'],
      [RESIZE, { d: -5 }, 'BAD_USER_INPUT'],
      [RESIZE, { d: 0 }, 'BAD_USER_INPUT'],
      [RESIZE, { d: 20_000_000 }, 'BAD_USER_INPUT'],
      [RESIZE, { d: 16 * 1024 * 1024 }, 'CAPACITY_EXCEEDED'],
      [RESIZE, { id: 'not-an-id', d: 512 }, 'NOT_FOUND'],
    ];
    for (const [doc, vars, code] of cases) {
      const res = await owner.gql(doc, { id, ...vars });
      assert.equal(codeOf(res), code, `${JSON.stringify(vars)}: ${JSON.stringify(res.errors)}`);
    }
    // Busy: while a stop runs, neither change is accepted.
    const stopping = await owner.gql(`mutation($id: ID!) { stopContainer(id: $id) { id status operation { id action } } }`, { id });
    assert.equal(stopping.data.stopContainer.status, 'STOPPING');
    assert.equal(codeOf(await owner.gql(UPDATE, { id, i: { cpu: 1 } })), 'OPERATION_IN_PROGRESS');
    assert.equal(codeOf(await owner.gql(RESIZE, { id, d: 512 })), 'OPERATION_IN_PROGRESS');
    const stopped = await settled(stopping);
    assert.equal(stopped.status, 'STOPPED');

    const afterwards = await onNode(node, name);
    assert.deepEqual(limitsOf(afterwards.config), limitsOf(before.config));
    assert.deepEqual(afterwards.devices, before.devices);
    const rowAfter = await read(id);
    assert.deepEqual([rowAfter.cpu, rowAfter.memoryBytes, rowAfter.diskBytes, rowAfter.cpuLimitPercent, rowAfter.cpuWeight], [row.cpu, row.memoryBytes, row.diskBytes, null, null]);
    const history = await owner.ok(`query($id: ID!) { operations(containerId: $id) { edges { node { action } } } }`, { id });
    assert.deepEqual(history.operations.edges.map((e: any) => e.node.action), ['container.stop', 'container.create']);
    await owner.ok(`mutation($id: ID!) { deleteContainer(id: $id) { id } }`, { id });
  });

  test('a container busy being created refuses resource changes', async () => {
    const name = unique('res');
    const res = await owner.gql(`mutation($i: CreateContainerInput!) { createContainer(input: $i) { ${CONTAINER} } }`, { i: { projectId, name, imageId, cpu: 1, memoryMiB: 64, diskMiB: 128 } });
    const id = res.data.createContainer.id;
    assert.equal(codeOf(await owner.gql(UPDATE, { id, i: { cpu: 2 } })), 'OPERATION_IN_PROGRESS');
    assert.equal(codeOf(await owner.gql(RESIZE, { id, d: 512 })), 'OPERATION_IN_PROGRESS');
    const created = await settled(res);
    assert.equal(created.status, 'RUNNING');
    const node = await whereIs(name);
    const onIt = await onNode(node, name);
    assert.equal(onIt.config['limits.cpu'], '1');
    assert.equal(onIt.devices.root!.size, `${128 * MiB}B`);
    await owner.ok(`mutation($id: ID!) { deleteContainer(id: $id) { id } }`, { id });
  });

  const IO = `mutation($id: ID!, $i: SetContainerIoLimitsInput!) { setContainerIoLimits(id: $id, input: $i) { ${CONTAINER} } }`;
  const NET = `mutation($id: ID!, $i: SetContainerNetworkLimitsInput!) { setContainerNetworkLimits(id: $id, input: $i) { ${CONTAINER} } }`;

  test('each node reports what it can enforce, detected on the node: btrfs quotas, CPU, memory, IO throttles and NIC ingress (tc htb) yes; blkio weight, net_prio, tc police and CRIU no', async () => {
    // The NIC limits probe (nic-limits-probe.ts) starts a throwaway container from an image already on the node: one container per node puts it there.
    const perNode: string[] = [];
    for (const node of nodes) {
      const res = await admin.gql(`mutation($i: CreateContainerInput!) { createContainer(input: $i) { ${CONTAINER} } }`, { i: { projectId, name: unique('cap'), imageId, cpu: 1, memoryMiB: 64, diskMiB: 128, nodeId: lab.nodeIds.get(node.name) } });
      perNode.push((await settled(res)).id);
    }
    // The health check (every 2 s here) detects them again: forget them and they come back.
    await server.db.query(`UPDATE nodes SET capabilities = NULL`);
    await eventually('the health check to report capabilities again, NIC limits probed', async () =>
      (await admin.ok(`{ nodes { edges { node { capabilities { diskQuota reasons } } } } }`)).nodes.edges.every((e: any) => e.node.capabilities !== null && !e.node.capabilities.reasons.some((r: string) => /not probed yet/.test(r))),
    );
    const list = (await admin.ok(`{ nodes { edges { node { name capabilities { diskQuota cpuAllowance memoryLimit blkioWeight blkioThrottle netPrio nicIngressLimit nicEgressLimit liveMigration reasons } } } } }`)).nodes.edges;
    assert.equal(list.length, 2);
    for (const { node } of list) {
      const { reasons, ...caps } = node.capabilities;
      assert.deepEqual(caps, { diskQuota: true, cpuAllowance: true, memoryLimit: true, blkioWeight: false, blkioThrottle: true, netPrio: false, nicIngressLimit: true, nicEgressLimit: false, liveMigration: false }, node.name);
      assert.ok(reasons.some((r: string) => r.startsWith('nicEgressLimit:') && /police/.test(r) && /TC action/.test(r)), JSON.stringify(reasons));
      assert.ok(reasons.some((r: string) => r.startsWith('blkioWeight:') && /blkio\.weight/.test(r)), JSON.stringify(reasons));
      assert.ok(reasons.some((r: string) => r.startsWith('netPrio:') && /network priority/.test(r)), JSON.stringify(reasons));
    }
    for (const id of perNode) await admin.ok(`mutation($id: ID!) { deleteContainer(id: $id) { id } }`, { id });
  });

  test('IO throttles land on the node’s blkio cgroup; an IO weight the node cannot enforce is refused with LIMIT_UNSUPPORTED and nothing is applied', async () => {
    const { id, name, node } = await createRunning();
    const done = await settled(await owner.gql(IO, { id, i: { readIops: 200, writeMbit: 8 } }));
    assert.equal(done.operation.state, 'SUCCEEDED', JSON.stringify(done.operation));
    assert.equal(done.operation.action, 'container.setIoLimits');
    const root = (await onNode(node, name)).devices.root!;
    assert.equal(root['limits.read'], '200iops');
    assert.equal(root['limits.write'], '1000000B');
    assert.match(cgroup(name, 'blkio', 'blkio.throttle.read_iops_device'), / 200$/m);
    assert.match(cgroup(name, 'blkio', 'blkio.throttle.write_bps_device'), / 1000000$/m);

    const before = await onNode(node, name);
    const refused = await owner.gql(IO, { id, i: { weight: 5, readIops: 50 } });
    assert.equal(codeOf(refused), 'LIMIT_UNSUPPORTED', JSON.stringify(refused.errors));
    assert.deepEqual(refused.errors?.[0]?.extensions?.missing, ['blkioWeight']);
    const afterwards = await onNode(node, name);
    assert.deepEqual(afterwards.devices, before.devices);
    assert.equal(afterwards.config['limits.disk.priority'], undefined);
    assert.match(cgroup(name, 'blkio', 'blkio.throttle.read_iops_device'), / 200$/m);
    const bad: Record<string, unknown>[] = [{}, { readIops: 0 }, { writeMbit: -1 }, { weight: 11 }, { readIops: 10, readMbit: 10 }];
    for (const i of bad) assert.equal(codeOf(await owner.gql(IO, { id, i })), 'BAD_USER_INPUT', JSON.stringify(i));
    assert.deepEqual((await onNode(node, name)).devices, before.devices);
    await owner.ok(`mutation($id: ID!) { deleteContainer(id: $id) { id } }`, { id });
  });

  test('network limits: a weight the node would ignore is LIMIT_UNSUPPORTED, NIC limits without a NIC are BAD_USER_INPUT, and nothing changes', async () => {
    const { id, name, node } = await createRunning();
    const before = await onNode(node, name);
    const weight = await owner.gql(NET, { id, i: { weight: 5 } });
    assert.equal(codeOf(weight), 'LIMIT_UNSUPPORTED', JSON.stringify(weight.errors));
    assert.deepEqual(weight.errors?.[0]?.extensions?.missing, ['netPrio']);
    for (const i of [{ ingressMbit: 10 }, { egressMbit: 5 }, { weight: 5, ingressMbit: 10 }]) {
      const res = await owner.gql(NET, { id, i });
      assert.equal(codeOf(res), 'BAD_USER_INPUT', JSON.stringify(res.errors));
      assert.match(res.errors![0]!.message, /no network interface/);
    }
    for (const i of [{}, { ingressMbit: 0 }, { weight: -1 }]) assert.equal(codeOf(await owner.gql(NET, { id, i })), 'BAD_USER_INPUT', JSON.stringify(i));
    const afterwards = await onNode(node, name);
    assert.deepEqual(limitsOf(afterwards.config), limitsOf(before.config));
    assert.deepEqual(afterwards.devices, before.devices);
    const history = await owner.ok(`query($id: ID!) { operations(containerId: $id) { edges { node { action } } } }`, { id });
    assert.deepEqual(history.operations.edges.map((e: any) => e.node.action), ['container.create']);
    await owner.ok(`mutation($id: ID!) { deleteContainer(id: $id) { id } }`, { id });
  });
});
