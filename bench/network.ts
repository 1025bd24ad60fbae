import 'reflect-metadata';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { LxdAddressesGateway } from '../server/network/addresses.gateway';
import { routedNicDevice } from '../server/network/routed-nic';
import { getImage, uploadImage } from '../server/lxd/images';
import { createInstance, deleteInstance, setInstanceState } from '../server/lxd/instances';
import type { Node } from '../server/nodes/node.entity';
import { requireLab, type LabNode } from '../test/support/lab';
import { startLabCorral } from '../test/support/lab-corral';
import { directClients } from './direct';
import { median, ratioRow, type Timing } from './measure';

/**
 * `npm run bench:network`: a public IPv4 address added live to a running busybox container on
 * lab node n1, BENCH_COUNT times (default 6), through Corral (GraphQL, until the operation has
 * finished) and through LXD directly (the same device change and in-container configuration,
 * without Corral's operation records, audit, IPAM and firewall refresh). Then, for both, how long
 * until the address answers ping from node n2's namespace (bird learns the route, iBGP carries it
 * to n2), and after removing it, until n2 has withdrawn it. Prints medians and the ratio.
 * The nodes are connected over SSH (the playbook's bird is needed); needs `npm run lab -- up`.
 */
const COUNT = Number(process.env.BENCH_COUNT ?? 6);
const DIRECT = 'bench-network';
const CONTAINER = 'id status addresses { family address } operation { id action state errorCode errorMessage }';
/** Corral's pool and the direct runs' addresses: apart, and apart from the test suites' ranges. */
const POOL = { cidr: '198.51.100.0/24', first: '198.51.100.220', last: '198.51.100.229' };
const directAddress = (i: number) => `198.51.100.${240 + (i % 10)}`;
const PING_DEADLINE_MS = 30_000;

const run = promisify(execFile);

async function answers(node: LabNode, address: string): Promise<boolean> {
  try {
    // -W 0.2: an unanswered ping costs 0.2 s, which bounds how finely a withdrawal is timed.
    await run('ip', ['netns', 'exec', node.namespace, 'ping', '-c1', '-W0.2', address], { timeout: 3_000 });
    return true;
  } catch {
    return false;
  }
}

/** Milliseconds until `address` answers (or stops answering) ping from `node`; bounded. */
async function until(node: LabNode, address: string, answering: boolean): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < PING_DEADLINE_MS) {
    if ((await answers(node, address)) === answering) return performance.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`${address} still ${answering ? 'does not answer' : 'answers'} from ${node.name} after ${PING_DEADLINE_MS / 1000} s`);
}

const timing = (xs: number[]): Timing => ({ median: median(xs), total: xs.reduce((a, b) => a + b, 0) });

async function main() {
  const lab = await startLabCorral({ connectOverSsh: true });
  const { admin, server } = lab;
  const [n1, n2] = lab.nodes as [LabNode, LabNode];
  const corral = { add: [] as number[], reach: [] as number[], withdraw: [] as number[] };
  const direct = { add: [] as number[], reach: [] as number[], withdraw: [] as number[] };
  try {
    const settle = async (data: Record<string, unknown>) => {
      const container = Object.values(data)[0] as { id: string; addresses: { family: number; address: string }[]; operation: { id: string } };
      await server.services.runner.settled(container.operation.id);
      const [op] = await server.db.query(`SELECT state, "errorMessage" FROM operations WHERE id = ?`, [container.operation.id]);
      if (op.state !== 'SUCCEEDED') throw new Error(`${container.operation.id} ended ${op.state}: ${op.errorMessage}`);
      return container;
    };
    await admin.ok(`mutation($i: CreateIpPoolInput!) { createIpPool(input: $i) { id } }`, { i: { clusterId: lab.clusterId, name: 'bench', cidr: POOL.cidr, firstAddress: POOL.first, lastAddress: POOL.last } });
    const container = await settle(
      await admin.ok(`mutation($i: CreateContainerInput!) { createContainer(input: $i) { ${CONTAINER} } }`, {
        i: { projectId: lab.projectId, name: 'bench-net', imageId: lab.imageIds.busybox, cpu: 1, memoryMiB: 64, diskMiB: 256, nodeId: lab.nodeIds.get(n1.name) },
      }),
    );
    for (let i = 0; i < COUNT; i++) {
      const t = performance.now();
      const added = await settle(await admin.ok(`mutation($i: AddContainerAddressInput!) { addContainerAddress(input: $i) { ${CONTAINER} } }`, { i: { containerId: container.id, family: 'IPV4' } }));
      corral.add.push(performance.now() - t);
      const address = added.addresses[0]!.address;
      corral.reach.push(await until(n2, address, true));
      await settle(await admin.ok(`mutation($i: RemoveContainerAddressInput!) { removeContainerAddress(input: $i) { ${CONTAINER} } }`, { i: { containerId: container.id, address } }));
      corral.withdraw.push(await until(n2, address, false));
    }

    // The same device changes made directly, on an instance of our own in a project of our own.
    const [client] = await directClients([n1], DIRECT);
    const fingerprint = (await server.db.query(`SELECT fingerprint FROM images WHERE id = ?`, [lab.imageIds.busybox]))[0].fingerprint as string;
    if (!(await getImage(client!, fingerprint))) await uploadImage(client!, (await requireLab()).busybox);
    await createInstance(client!, DIRECT, {
      name: 'bench-net',
      source: { type: 'image', fingerprint },
      config: { 'limits.cpu': '1', 'limits.memory': `${64 * 2 ** 20}B` },
      devices: { root: { type: 'disk', path: '/', pool: 'default', size: `${256 * 2 ** 20}B` } },
    });
    await setInstanceState(client!, DIRECT, 'bench-net', { action: 'start' });
    const gateway = new LxdAddressesGateway({ clientFor: async () => client! });
    const node = { name: n1.name } as Node;
    const id = randomUUID();
    for (let i = 0; i < COUNT; i++) {
      const addresses = [{ family: 4, address: directAddress(i) }];
      const t = performance.now();
      await gateway.applyRoutedNic(node, DIRECT, 'bench-net', routedNicDevice(id, addresses), addresses);
      direct.add.push(performance.now() - t);
      direct.reach.push(await until(n2, addresses[0]!.address, true));
      await gateway.applyRoutedNic(node, DIRECT, 'bench-net', null, []);
      direct.withdraw.push(await until(n2, addresses[0]!.address, false));
    }
    await deleteInstance(client!, DIRECT, 'bench-net');
    await client!.close();
  } finally {
    console.log(`\npublic address on a running busybox container (node ${n1.name}), seen from ${n2.name} over iBGP, ${COUNT} runs`);
    if (corral.add.length === COUNT && direct.add.length === COUNT) {
      console.log('step                     | Corral median | LXD median | ratio');
      console.log(ratioRow('add address live', timing(corral.add), timing(direct.add)));
      console.log(ratioRow(`then answers from ${n2.name}`, timing(corral.reach), timing(direct.reach)));
      console.log(ratioRow(`removed: gone on ${n2.name}`, timing(corral.withdraw), timing(direct.withdraw)));
    }
    await lab.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
