import 'reflect-metadata';
import { LxdMigrationGateway } from '../server/containers/migration.gateway';
import type { LxdClient } from '../server/lxd/client';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { copyInstance, createBackup, exportBackup, importBackup, refreshInstance } from '../server/lxd/backups';
import { getImage, uploadImage } from '../server/lxd/images';
import { createInstance, deleteInstance, setInstanceState } from '../server/lxd/instances';
import type { Node } from '../server/nodes/node.entity';
import { requireLab } from '../test/support/lab';
import { startLabCorral } from '../test/support/lab-corral';
import { directClients } from './direct';
import { ratioRow, timed, type Timing } from './measure';

/**
 * `npm run bench:day2`: backup, restore (in place and as a new container) and cold migration of a
 * busybox container on the lab's nodes, BENCH_COUNT times each (default 6), through Corral
 * (GraphQL, until the operation has finished) and through LXD's API directly from our own client,
 * without Corral's operation records, audit and checks. The direct restore in place makes the same
 * calls as Corral's (export, import under a temporary name, refresh, delete the temporary); the
 * direct restore as new too (export, import under a temporary name, copy with a new identity,
 * delete the temporary, start). Deleting the new containers is not timed. Prints medians and ratios. Needs `npm run lab -- up` (the nodes are then set up through connectNode).
 */
const COUNT = Number(process.env.BENCH_COUNT ?? 6);
const DIRECT = 'bench-day2';
const CONTAINER = 'id status operation { id action state errorCode errorMessage }';

async function main() {
  const lab = await startLabCorral();
  const { admin, owner, projectId, server } = lab;
  const imageId = lab.imageIds.busybox!;
  const nodeIds = [...lab.nodeIds.values()];
  const rows: [string, Timing, Timing][] = [];
  try {
    /** Runs a container mutation and waits for its operation; fails loudly unless it succeeded. */
    const run = async (caller: typeof owner, mutation: string, variables: Record<string, unknown>) => {
      const data = await caller.ok(mutation, variables);
      const container = Object.values(data)[0] as { operation: { id: string } };
      await server.services.runner.settled(container.operation.id);
      const [op] = await server.db.query(`SELECT state, "errorMessage" FROM operations WHERE id = ?`, [container.operation.id]);
      if (op.state !== 'SUCCEEDED') throw new Error(`${mutation.slice(0, 60)}… ended ${op.state}: ${op.errorMessage}`);
      return container;
    };

    const direct = await directClients(lab.nodes, DIRECT);
    const fingerprint = (await server.db.query(`SELECT fingerprint FROM images WHERE id = ?`, [imageId]))[0].fingerprint as string;
    for (const client of direct) if (!(await getImage(client, fingerprint))) await uploadImage(client, (await requireLab()).busybox);
    const directByNode = new Map<string, LxdClient>(lab.nodes.map((n, i) => [n.name, direct[i]!]));
    const directMigration = new LxdMigrationGateway({ clientFor: async (node: Node) => directByNode.get(node.name)! });
    const labNodes = lab.nodes.map((n) => ({ name: n.name }) as Node);

    // Backups and restores: one container each way, its backups made BENCH_COUNT times.
    const stopped = await run(owner, `mutation($i: CreateContainerInput!) { createContainer(input: $i) { ${CONTAINER} } }`, {
      i: { projectId, name: 'bench-bk', imageId, cpu: 1, memoryMiB: 64, diskMiB: 256 },
    });
    const bkId = (stopped as unknown as { id: string }).id;
    await run(owner, `mutation($id: ID!) { stopContainer(id: $id) { ${CONTAINER} } }`, { id: bkId });
    const backups: string[] = [];
    const corralBackup = await timed(COUNT, 1, async () => {
      const data = await owner.ok(`mutation($c: ID!) { createBackup(containerId: $c) { id operation { id } } }`, { c: bkId });
      await server.services.runner.settled(data.createBackup.operation.id);
      const [op] = await server.db.query(`SELECT state, "errorMessage" FROM operations WHERE id = ?`, [data.createBackup.operation.id]);
      if (op.state !== 'SUCCEEDED') throw new Error(`createBackup ended ${op.state}: ${op.errorMessage}`);
      backups.push(data.createBackup.id);
    });
    const corralRestore = await timed(COUNT, 1, async (i) => {
      await run(owner, `mutation($id: ID!) { restoreBackup(id: $id) { ${CONTAINER} } }`, { id: backups[i] });
    });
    const made: string[] = [];
    const corralRestoreNew = await timed(COUNT, 1, async (i) => {
      const restored = await run(owner, `mutation($id: ID!, $n: String!) { restoreBackupAsNew(id: $id, name: $n) { ${CONTAINER} } }`, { id: backups[i], n: `bench-new-${i}` });
      made.push((restored as unknown as { id: string }).id);
    });
    for (const id of made) await run(owner, `mutation($id: ID!) { deleteContainer(id: $id) { ${CONTAINER} } }`, { id });

    const node0 = direct[0]!;
    await createInstance(node0, DIRECT, {
      name: 'bench-bk',
      source: { type: 'image', fingerprint },
      config: { 'limits.cpu': '1', 'limits.memory': `${64 * 2 ** 20}B` },
      devices: { root: { type: 'disk', path: '/', pool: 'default', size: `${256 * 2 ** 20}B` } },
    });
    const lxdBackup = await timed(COUNT, 1, async (i) => createBackup(node0, DIRECT, 'bench-bk', `b${i}`, 120_000));
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-bench-backup-'));
    const exported = async (i: number) => {
      const file = path.join(scratch, `b${i}.tar.gz`);
      const download = await exportBackup(node0, DIRECT, 'bench-bk', `b${i}`);
      if (!download) throw new Error(`backup b${i} is missing`);
      await pipeline(download.body, fs.createWriteStream(file));
      return file;
    };
    const lxdRestore = await timed(COUNT, 1, async (i) => {
      await importBackup(node0, DIRECT, 'bench-bk-tmp', 'default', await exported(i), 120_000);
      await refreshInstance(node0, DIRECT, 'bench-bk', 'bench-bk-tmp', 120_000);
      await deleteInstance(node0, DIRECT, 'bench-bk-tmp');
    });
    const lxdRestoreNew = await timed(COUNT, 1, async (i) => {
      await importBackup(node0, DIRECT, 'bench-bk-tmp', 'default', await exported(i), 120_000);
      await copyInstance(node0, DIRECT, 'bench-bk-tmp', `bench-new-${i}`, { config: {}, devices: {} }, 120_000);
      await deleteInstance(node0, DIRECT, 'bench-bk-tmp');
      await setInstanceState(node0, DIRECT, `bench-new-${i}`, { action: 'start' });
    });
    for (let i = 0; i < COUNT; i++) await deleteInstance(node0, DIRECT, `bench-new-${i}`);
    fs.rmSync(scratch, { recursive: true, force: true });
    await deleteInstance(node0, DIRECT, 'bench-bk');
    rows.push(['backup', corralBackup, lxdBackup], ['restore in place', corralRestore, lxdRestore], ['restore as new', corralRestoreNew, lxdRestoreNew]);

    // Cold migration: one running container, moved back and forth.
    const created = await run(owner, `mutation($i: CreateContainerInput!) { createContainer(input: $i) { ${CONTAINER} } }`, {
      i: { projectId, name: 'bench-mig', imageId, cpu: 1, memoryMiB: 64, diskMiB: 256 },
    });
    const id = (created as unknown as { id: string }).id;
    const nodeOf = async () => (await admin.ok(`query($id: ID!) { container(id: $id) { node { id } } }`, { id })).container.node.id as string;
    let at = await nodeOf();
    const corral = await timed(COUNT, 1, async () => {
      at = nodeIds.find((n) => n !== at)!;
      await run(admin, `mutation($id: ID!, $t: ID!) { migrateContainer(id: $id, targetNodeId: $t) { ${CONTAINER} } }`, { id, t: at });
    });

    // LXD directly: the same sequence Corral's cold migration makes.
    await createInstance(direct[0]!, DIRECT, {
      name: 'bench-mig',
      source: { type: 'image', fingerprint },
      config: { 'limits.cpu': '1', 'limits.memory': `${64 * 2 ** 20}B` },
      devices: { root: { type: 'disk', path: '/', pool: 'default', size: `${256 * 2 ** 20}B` } },
    });
    await setInstanceState(direct[0]!, DIRECT, 'bench-mig', { action: 'start' });
    const lxd = await timed(COUNT, 1, async (i) => {
      const [from, to] = [labNodes[i % 2]!, labNodes[(i + 1) % 2]!];
      await setInstanceState(directByNode.get(from.name)!, DIRECT, 'bench-mig', { action: 'stop' });
      await directMigration.copyInstance(from, to, DIRECT, 'bench-mig', 120_000);
      await setInstanceState(directByNode.get(to.name)!, DIRECT, 'bench-mig', { action: 'start' });
      await deleteInstance(directByNode.get(from.name)!, DIRECT, 'bench-mig');
    });
    rows.push(['cold migration (running)', corral, lxd]);
    await deleteInstance(directByNode.get(labNodes[COUNT % 2]!.name)!, DIRECT, 'bench-mig');
    await Promise.all(direct.map((c) => c.close()));
  } finally {
    console.log(`\nday-2 operations on ${lab.nodes.length} lab nodes, busybox, ${COUNT} runs each`);
    console.log('operation                | Corral median | LXD median | ratio');
    for (const [label, corral, lxd] of rows) console.log(ratioRow(label, corral, lxd));
    await lab.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
