import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import type { Caller, GqlResponse } from '../support/client';
import { unique } from '../support/factories';
import { eventually, lxc, type LabNode } from '../support/lab';
import { startLabCorral, type LabCorral } from '../support/lab-corral';

const run = promisify(execFile);
const OPERATION = `operation { id action state progress step errorCode errorMessage }`;
const CONTAINER = `id name status ${OPERATION}`;
const BACKUP = `id state location sizeBytes sha256 downloadUrl ${OPERATION}`;

/**
 * Backups survive their container leaving the node: a cold migration and a drain carry them into
 * Corral's archive (on the Corral host) before LXD deletes the source instance with its backups.
 * Checked on the lab's real nodes: the old data comes back inside the container on its new node,
 * the download is the archived tarball, and nothing of the container is left on the old node.
 */
describe('backups across migration and drain on real LXD nodes', () => {
  let lab: LabCorral;
  let owner: Caller;
  let admin: Caller;
  let lxdProject: string;
  let archiveDir: string;

  before(async () => {
    lab = await startLabCorral();
    ({ owner, admin, lxdProject } = lab);
    archiveDir = lab.server.services.backupArchive.dir;
  });
  after(() => lab?.stop());

  const read = async (id: string) => (await admin.ok(`query($id: ID!) { container(id: $id) { ${CONTAINER} node { name } } }`, { id })).container;
  const readBackup = async (id: string) => (await owner.ok(`query($id: ID!) { backup(id: $id) { ${BACKUP} } }`, { id })).backup;
  const nodeNamed = (name: string) => lab.nodes.find((n) => n.name === name)!;
  /** Waits for the operation a mutation answered with (the first field's `operation`). */
  const succeeded = async (as: Caller, res: GqlResponse, ms = 180_000) => {
    assert.equal(res.errors, undefined, JSON.stringify(res.errors));
    const operationId = (Object.values(res.data as Record<string, any>)[0] as any).operation.id as string;
    const op = await eventually(`operation ${operationId} to finish`, async () => {
      const found = (await as.ok(`query($id: ID!) { operation(id: $id) { id action state errorCode errorMessage } }`, { id: operationId })).operation;
      return ['SUCCEEDED', 'FAILED'].includes(found.state) ? found : null;
    }, ms);
    assert.equal(op.state, 'SUCCEEDED', JSON.stringify(op));
    return op;
  };
  const sh = (node: LabNode, name: string, script: string) => lxc(node, 'exec', '--project', lxdProject, name, '--', 'sh', '-c', script);
  const backupDirOn = (node: LabNode, name: string) => path.join(node.lxd.lxdDir, 'backups', 'instances', `${lxdProject}_${name}`);
  const sha256 = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

  /** A running container on `node` with a backup holding `before` in /root/proof, and `after` there now. */
  const containerWithBackup = async (node: LabNode) => {
    const name = unique('bkm');
    const res = await admin.gql(`mutation($i: CreateContainerInput!) { createContainer(input: $i) { ${CONTAINER} } }`, {
      i: { projectId: lab.projectId, clusterId: lab.clusterId, nodeId: lab.nodeIds.get(node.name), name, imageId: lab.imageIds.busybox, cpu: 1, memoryMiB: 64, diskMiB: 256 },
    });
    await succeeded(admin, res);
    const id = res.data.createContainer.id as string;
    await sh(node, name, 'echo before-backup > /root/proof');
    const created = await owner.gql(`mutation($c: ID!) { createBackup(containerId: $c) { ${BACKUP} } }`, { c: id });
    await succeeded(owner, created);
    const backupId = created.data.createBackup.id as string;
    await sh(node, name, 'echo after-backup > /root/proof');
    const backup = await readBackup(backupId);
    assert.deepEqual([backup.state, backup.location], ['READY', 'NODE']);
    assert.equal(fs.readdirSync(backupDirOn(node, name)).length, 1, 'LXD keeps the backup on the node');
    return { id, name, backupId, sizeOnNode: Number(backup.sizeBytes) };
  };

  /** After the move: the backup is READY in the archive, restores in place on the new node, and downloads as the archived file. */
  const provesTheBackupSurvived = async (c: { id: string; name: string; backupId: string; sizeOnNode: number }, from: LabNode, to: LabNode) => {
    const moved = await read(c.id);
    assert.deepEqual([moved.status, moved.node.name], ['RUNNING', to.name]);
    assert.equal((await sh(to, c.name, 'cat /root/proof')).trim(), 'after-backup', 'the data moved');
    // Nothing of it is left on the old node: the instance and the backup LXD kept with it are gone.
    assert.equal(JSON.parse(await lxc(from, 'list', '--project', lxdProject, '--format', 'json')).some((i: any) => i.name === c.name), false);
    assert.equal(fs.existsSync(backupDirOn(from, c.name)), false, `no backups of it on ${from.name}`);

    const listed = (await owner.ok(`query($c: ID!) { backups(containerId: $c) { edges { node { ${BACKUP} } } } }`, { c: c.id })).backups.edges.map((e: any) => e.node);
    assert.deepEqual(listed.map((b: any) => [b.id, b.state, b.location]), [[c.backupId, 'READY', 'ARCHIVE']]);
    const backup = listed[0];
    const file = path.join(archiveDir, `${c.backupId}.tar.gz`);
    assert.ok(fs.existsSync(file), `archived at ${file}`);
    assert.equal(fs.statSync(file).size, c.sizeOnNode, 'the whole tarball, as big as LXD said');
    assert.equal(Number(backup.sizeBytes), c.sizeOnNode);
    assert.equal(backup.sha256, sha256(file));
    const { stdout } = await run('tar', ['tzf', file]);
    assert.ok(stdout.split('\n').includes('backup/index.yaml'), stdout.slice(0, 300));

    // Restore in place, onto the node the container is on now: the old content is back.
    await succeeded(owner, await owner.gql(`mutation($id: ID!) { stopContainer(id: $id) { ${CONTAINER} } }`, { id: c.id }));
    await succeeded(owner, await owner.gql(`mutation($id: ID!) { restoreBackup(id: $id) { ${CONTAINER} } }`, { id: c.backupId }));
    await succeeded(owner, await owner.gql(`mutation($id: ID!) { startContainer(id: $id) { ${CONTAINER} } }`, { id: c.id }));
    assert.equal((await sh(to, c.name, 'cat /root/proof')).trim(), 'before-backup', `the backup's content is back on ${to.name}`);
    const names = JSON.parse(await lxc(to, 'list', '--project', lxdProject, '--format', 'json')).map((i: any) => i.name) as string[];
    assert.equal(names.filter((n) => n.startsWith('corral-restore-')).length, 0, `no temporary instance is left: ${names}`);

    // Download: the archived tarball, byte for byte.
    const res = await fetch(`${lab.server.url}${backup.downloadUrl}`, { headers: { cookie: owner.cookie! } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-length'), String(c.sizeOnNode));
    const body = Buffer.from(await res.arrayBuffer());
    assert.equal(createHash('sha256').update(body).digest('hex'), backup.sha256);
    const tarball = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'corral-download-')), 'backup.tar.gz');
    fs.writeFileSync(tarball, body);
    assert.ok((await run('tar', ['tzf', tarball])).stdout.split('\n').includes('backup/index.yaml'));
    fs.rmSync(path.dirname(tarball), { recursive: true, force: true });
  };

  test('a cold migration carries the backups into the archive; restore in place and download work from there on the new node', async () => {
    const [from, to] = lab.nodes as [LabNode, LabNode];
    const c = await containerWithBackup(from);
    const started = Date.now();
    await succeeded(admin, await admin.gql(`mutation($id: ID!, $t: ID!) { migrateContainer(id: $id, targetNodeId: $t) { ${CONTAINER} } }`, { id: c.id, t: lab.nodeIds.get(to.name) }));
    console.log(`# migrateContainer with one backup to archive (busybox) took ${Date.now() - started} ms`);
    await provesTheBackupSurvived(c, from, to);

    // Deleting the backup removes its archive file.
    await succeeded(owner, await owner.gql(`mutation($id: ID!) { deleteBackup(id: $id) { ${BACKUP} } }`, { id: c.backupId }));
    assert.equal(fs.existsSync(path.join(archiveDir, `${c.backupId}.tar.gz`)), false);
  });

  test('draining a node carries its containers’ backups into the archive; they restore on the node the container went to', async () => {
    const [, drained] = lab.nodes as [LabNode, LabNode];
    const other = lab.nodes.find((n) => n !== drained)!;
    const c = await containerWithBackup(drained);
    const nodeId = lab.nodeIds.get(drained.name)!;
    try {
      const drain = await admin.gql(`mutation($id: ID!) { drainNode(id: $id) { id status operation { id } } }`, { id: nodeId });
      await succeeded(admin, drain, 300_000);
      assert.equal((await admin.ok(`query($id: ID!) { node(id: $id) { status } }`, { id: nodeId })).node.status, 'MAINTENANCE');
      await provesTheBackupSurvived(c, drained, nodeNamed(other.name));
      // Deleting the container deletes its archived backups with it.
      await succeeded(owner, await owner.gql(`mutation($id: ID!) { deleteContainer(id: $id) { ${CONTAINER} } }`, { id: c.id }));
      assert.equal(fs.existsSync(path.join(archiveDir, `${c.backupId}.tar.gz`)), false);
    } finally {
      await admin.ok(`mutation($id: ID!) { undrainNode(id: $id) { status } }`, { id: nodeId });
    }
    assert.equal((await admin.ok(`query($id: ID!) { node(id: $id) { status } }`, { id: nodeId })).node.status, 'READY');
  });
});
