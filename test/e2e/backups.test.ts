import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { restoreTempName } from '../../server/backups/backups.operations';
import { newId } from '../../server/common/ids';
import { Operation, OperationState } from '../../server/operations/operation.entity';
import { codeOf, type Caller, type GqlResponse } from '../support/client';
import { unique } from '../support/factories';
import { eventually, lxc, type LabNode } from '../support/lab';
import { startLabCorral, type LabCorral } from '../support/lab-corral';

const run = promisify(execFile);
const OPERATION = `operation { id action state progress step errorCode errorMessage }`;
const CONTAINER = `id name status ${OPERATION}`;
const BACKUP = `id state sizeBytes scheduled downloadUrl ${OPERATION}`;

/** Backups on the lab's real LXD: the data is checked inside the containers and the files on the node's disk. */
describe('backups on real LXD nodes', () => {
  let lab: LabCorral;
  let owner: Caller;
  let nodes: LabNode[];
  let lxdProject: string;
  let imageId: string;

  before(async () => {
    lab = await startLabCorral({ env: { CORRAL_SCHEDULE_SECONDS: '1', CORRAL_BACKUP_MIN_INTERVAL_SECONDS: '1' } });
    ({ owner, nodes, lxdProject } = lab);
    imageId = lab.imageIds.busybox!;
  });
  after(() => lab?.stop());

  const readContainer = async (id: string) => (await lab.admin.ok(`query($id: ID!) { container(id: $id) { ${CONTAINER} node { name } } }`, { id })).container;
  const readBackup = async (id: string) => (await owner.ok(`query($id: ID!) { backup(id: $id) { ${BACKUP} } }`, { id })).backup;
  /** Waits for the operation a mutation answered with, and returns it. */
  const settled = async (res: GqlResponse, ms = 180_000) => {
    assert.equal(res.errors, undefined, JSON.stringify(res.errors));
    const operationId = (Object.values(res.data as Record<string, any>)[0] as any).operation.id as string;
    return eventually(`operation ${operationId} to finish`, async () => {
      const op = (await owner.ok(`query($id: ID!) { operation(id: $id) { id action state progress errorCode errorMessage } }`, { id: operationId })).operation;
      return ['SUCCEEDED', 'FAILED'].includes(op.state) ? op : null;
    }, ms);
  };
  const succeeded = async (res: GqlResponse) => {
    const op = await settled(res);
    assert.equal(op.state, 'SUCCEEDED', JSON.stringify(op));
    return op;
  };
  const createRunning = async () => {
    const name = unique('bk');
    const res = await owner.gql(`mutation($i: CreateContainerInput!) { createContainer(input: $i) { ${CONTAINER} } }`, { i: { projectId: lab.projectId, name, imageId, cpu: 1, memoryMiB: 64, diskMiB: 256 } });
    await succeeded(res);
    const container = await readContainer(res.data.createContainer.id);
    assert.equal(container.status, 'RUNNING');
    return { id: container.id as string, name, node: nodes.find((n) => n.name === container.node.name)! };
  };
  const sh = (node: LabNode, name: string, script: string) => lxc(node, 'exec', '--project', lxdProject, name, '--', 'sh', '-c', script);
  const config = async (node: LabNode, name: string, key: string) => (await lxc(node, 'config', 'get', '--project', lxdProject, name, key)).trim();
  const lxdBackups = async (node: LabNode, name: string) => JSON.parse(await lxc(node, 'query', `/1.0/instances/${name}/backups?project=${lxdProject}`)) as string[];
  const lxdNameOf = async (backupId: string) => (await lab.server.db.query(`SELECT "lxdName" FROM container_backups WHERE id = ?`, [backupId]))[0].lxdName as string;
  /** Where LXD keeps a backup on the node's disk: `$LXD_DIR/backups/instances/<project>_<instance>/<backup>`. */
  const fileOf = (node: LabNode, instance: string, lxdName: string) => path.join(node.lxd.lxdDir, 'backups', 'instances', `${lxdProject}_${instance}`, lxdName);
  const power = (id: string, action: 'stopContainer' | 'startContainer') => owner.gql(`mutation($id: ID!) { ${action}(id: $id) { ${CONTAINER} } }`, { id });

  test('back up, change, restore in place, restore as new, download and delete, with the data checked inside the containers', async () => {
    const { id, name, node } = await createRunning();
    await sh(node, name, 'echo before-backup > /root/proof');

    const created = await owner.gql(`mutation($c: ID!) { createBackup(containerId: $c) { ${BACKUP} } }`, { c: id });
    assert.equal(created.data?.createBackup.state, 'CREATING', JSON.stringify(created.errors));
    let started = Date.now();
    await succeeded(created);
    console.log(`# createBackup (running busybox) took ${Date.now() - started} ms`);
    const backup = await readBackup(created.data.createBackup.id);
    assert.equal(backup.state, 'READY');
    const lxdName = await lxdNameOf(backup.id);
    assert.deepEqual(await lxdBackups(node, name), [`/1.0/instances/${name}/backups/${lxdName}`], 'LXD lists the backup');
    const file = fileOf(node, name, lxdName);
    assert.ok(fs.existsSync(file), `the backup file is on the node's disk: ${file}`);
    assert.equal(fs.statSync(file).size, Number(backup.sizeBytes), 'Corral knows its size');

    await sh(node, name, 'echo after-backup > /root/proof');
    const uuid = await config(node, name, 'volatile.uuid');
    const memory = await config(node, name, 'limits.memory');

    // A running container is refused, untouched.
    const pid = JSON.parse(await lxc(node, 'query', `/1.0/instances/${name}/state?project=${lxdProject}`)).pid;
    const refused = await owner.gql(`mutation($id: ID!) { restoreBackup(id: $id) { id } }`, { id: backup.id });
    assert.equal(codeOf(refused), 'CONTAINER_RUNNING', JSON.stringify(refused.errors));
    assert.equal(JSON.parse(await lxc(node, 'query', `/1.0/instances/${name}/state?project=${lxdProject}`)).pid, pid);
    assert.equal((await sh(node, name, 'cat /root/proof')).trim(), 'after-backup');

    // A second backup, to prove a restore keeps the container's other backups.
    const second = await owner.gql(`mutation($c: ID!) { createBackup(containerId: $c) { ${BACKUP} } }`, { c: id });
    await succeeded(second);
    await succeeded(await power(id, 'stopContainer'));
    started = Date.now();
    const restoreOp = await succeeded(await owner.gql(`mutation($id: ID!) { restoreBackup(id: $id) { ${CONTAINER} } }`, { id: backup.id }));
    console.log(`# restoreBackup (in place, busybox) took ${Date.now() - started} ms`);
    assert.equal(restoreOp.action, 'backup.restore');
    assert.equal((await readContainer(id)).status, 'STOPPED');
    await succeeded(await power(id, 'startContainer'));
    assert.equal((await sh(node, name, 'cat /root/proof')).trim(), 'before-backup', 'the old content is back');
    assert.equal(await config(node, name, 'volatile.uuid'), uuid, 'same identity');
    assert.equal(await config(node, name, 'limits.memory'), memory, "Corral's limits still apply");
    assert.equal((await lxdBackups(node, name)).length, 2, 'both backups are still on the node');
    const leftovers = JSON.parse(await lxc(node, 'list', '--project', lxdProject, '--format', 'json')).map((i: any) => i.name) as string[];
    assert.equal(leftovers.filter((n) => n.startsWith('corral-restore-')).length, 0, `no temporary instance is left: ${leftovers}`);

    // Restore as a new container: the old content, another identity.
    const copyName = unique('copy');
    const copyRes = await owner.gql(`mutation($id: ID!, $n: String!) { restoreBackupAsNew(id: $id, name: $n) { ${CONTAINER} } }`, { id: backup.id, n: copyName });
    started = Date.now();
    await succeeded(copyRes);
    console.log(`# restoreBackupAsNew (busybox) took ${Date.now() - started} ms`);
    const copy = await readContainer(copyRes.data.restoreBackupAsNew.id);
    assert.equal(copy.status, 'RUNNING');
    const copyNode = nodes.find((n) => n.name === copy.node.name)!;
    assert.equal((await sh(copyNode, copyName, 'cat /root/proof')).trim(), 'before-backup');
    assert.notEqual(await config(copyNode, copyName, 'volatile.uuid'), uuid, 'a new volatile.uuid');
    assert.notEqual(await config(copyNode, copyName, 'volatile.cloud-init.instance-id'), await config(node, name, 'volatile.cloud-init.instance-id'), 'a new cloud-init instance-id');
    assert.equal(await config(copyNode, copyName, 'limits.memory'), `${64 * 1024 * 1024}B`);

    // Download: a gzip tarball holding backup/index.yaml, with its length and a file name.
    const res = await fetch(`${lab.server.url}${backup.downloadUrl}`, { headers: { cookie: owner.cookie! } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-length'), String(backup.sizeBytes));
    assert.match(res.headers.get('content-disposition') ?? '', new RegExp(`^attachment; filename="${name}-.+\\.tar\\.gz"$`));
    const tarball = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'corral-download-')), 'backup.tar.gz');
    fs.writeFileSync(tarball, Buffer.from(await res.arrayBuffer()));
    assert.equal(fs.statSync(tarball).size, Number(backup.sizeBytes));
    const { stdout } = await run('tar', ['tzf', tarball]);
    fs.rmSync(path.dirname(tarball), { recursive: true, force: true });
    assert.ok(stdout.split('\n').includes('backup/index.yaml'), stdout.slice(0, 500));
    assert.equal((await fetch(`${lab.server.url}${backup.downloadUrl}`)).status, 401);

    // Delete: gone from LXD, from the disk and from Corral.
    await succeeded(await owner.gql(`mutation($id: ID!) { deleteBackup(id: $id) { ${BACKUP} } }`, { id: backup.id }));
    assert.equal((await lxdBackups(node, name)).includes(`/1.0/instances/${name}/backups/${lxdName}`), false);
    assert.equal(fs.existsSync(file), false, 'the file is gone from the node');
    assert.equal(codeOf(await owner.gql(`query($id: ID!) { backup(id: $id) { id } }`, { id: backup.id })), 'NOT_FOUND');

    // A backup deleted behind Corral's back: BACKUP_MISSING, and marked so.
    const secondId = second.data.createBackup.id as string;
    await lxc(node, 'query', '-X', 'DELETE', '--wait', `/1.0/instances/${name}/backups/${await lxdNameOf(secondId)}?project=${lxdProject}`);
    await succeeded(await power(id, 'stopContainer'));
    const missing = await settled(await owner.gql(`mutation($id: ID!) { restoreBackup(id: $id) { ${CONTAINER} } }`, { id: secondId }));
    assert.deepEqual([missing.state, missing.errorCode], ['FAILED', 'BACKUP_MISSING'], JSON.stringify(missing));
    assert.equal((await readBackup(secondId)).state, 'MISSING');
    assert.equal(await config(node, name, 'volatile.uuid'), uuid, 'the container is untouched');
  });

  test('a restore interrupted after its import is finished by recovery: old data back, no temporary instance left', async () => {
    const { id, name, node } = await createRunning();
    await sh(node, name, 'echo before-backup > /root/proof');
    const created = await owner.gql(`mutation($c: ID!) { createBackup(containerId: $c) { ${BACKUP} } }`, { c: id });
    await succeeded(created);
    await sh(node, name, 'echo after-backup > /root/proof');
    await succeeded(await power(id, 'stopContainer'));
    // What a crash after the import leaves: an operation RUNNING with no live runner, and its temporary instance on the node.
    const operationId = newId();
    const account = (await lab.server.db.query(`SELECT a.id, a.path FROM accounts a JOIN projects p ON p."accountId" = a.id WHERE p.id = ?`, [lab.projectId]))[0];
    await lab.server.db.manager.insert(Operation, {
      id: operationId,
      accountId: account.id,
      accountPath: account.path,
      containerId: id,
      nodeId: lab.nodeIds.get(node.name)!,
      action: 'backup.restore',
      state: OperationState.RUNNING,
      progress: 40,
      step: 'importing the backup under a temporary name',
      idempotencyKey: null,
      requestHash: 'crash',
      input: { id: created.data.createBackup.id },
      errorCode: null,
      errorMessage: null,
      actorUserId: null,
      leaseOwner: 'a runner that died',
      leaseExpiresAt: new Date(Date.now() - 60_000),
      finishedAt: null,
    });
    await lxc(node, 'copy', '--project', lxdProject, name, restoreTempName(operationId));
    // The runner's sweep takes the orphan over and recovers it.
    const op = await eventually('the orphaned restore to be recovered', async () => {
      const read = (await owner.ok(`query($id: ID!) { operation(id: $id) { state errorCode errorMessage } }`, { id: operationId })).operation;
      return ['SUCCEEDED', 'FAILED'].includes(read.state) ? read : null;
    }, 120_000);
    assert.equal(op.state, 'SUCCEEDED', JSON.stringify(op));
    const names = JSON.parse(await lxc(node, 'list', '--project', lxdProject, '--format', 'json')).map((i: any) => i.name) as string[];
    assert.equal(names.includes(restoreTempName(operationId)), false, `no temporary instance is left: ${names}`);
    await succeeded(await power(id, 'startContainer'));
    assert.equal((await sh(node, name, 'cat /root/proof')).trim(), 'before-backup');
  });

  test('a schedule with keep 2 and a fast cron takes backups and never keeps more than 2', async () => {
    const { id, name, node } = await createRunning();
    const manual = await owner.gql(`mutation($c: ID!) { createBackup(containerId: $c) { ${BACKUP} } }`, { c: id });
    await succeeded(manual);
    const set = await owner.gql(`mutation($c: ID!) { setBackupSchedule(containerId: $c, cron: "*/3 * * * * *", keep: 2) { id backupSchedule { cron keep nextRunAt } } }`, { c: id });
    assert.equal(set.errors, undefined, JSON.stringify(set.errors));
    const scheduledOps = async () =>
      (await owner.ok(`query($c: ID) { operations(containerId: $c, first: 100) { edges { node { action state } } } }`, { c: id })).operations.edges.map((e: any) => e.node).filter((o: any) => o.action === 'backup.create');
    const idle = (ops: any[]) => ops.every((o: any) => o.state === 'SUCCEEDED' || o.state === 'FAILED');
    /** What is kept between scheduled runs (no backup operation before or after the reads). */
    const samples: { corral: number; node: number; files: number }[] = [];
    const dir = path.join(node.lxd.lxdDir, 'backups', 'instances', `${lxdProject}_${name}`);
    await eventually('five scheduled backups to be taken', async () => {
      const before = await scheduledOps();
      if (idle(before)) {
        const corral = (await owner.ok(`query($c: ID!) { backups(containerId: $c) { edges { node { id scheduled state } } } }`, { c: id })).backups.edges.map((e: any) => e.node).filter((b: any) => b.scheduled);
        // The backup taken on request stays on the node too.
        const onNode = (await lxdBackups(node, name)).length - 1;
        const files = fs.readdirSync(dir).length - 1;
        const after = await scheduledOps();
        if (idle(after) && after.length === before.length) samples.push({ corral: corral.length, node: onNode, files });
      }
      return before.filter((o: any) => o.state === 'SUCCEEDED').length >= 6;
    }, 90_000);
    await owner.ok(`mutation($c: ID!) { removeBackupSchedule(containerId: $c) { id } }`, { c: id });
    await eventually('the last scheduled backup to finish', async () => idle(await scheduledOps()));
    assert.ok(samples.length > 0, 'the test saw quiet moments between runs');
    assert.deepEqual(samples.filter((s) => s.corral > 2 || s.node > 2 || s.files > 2), [], `never more than 2 kept: ${JSON.stringify(samples)}`);
    assert.ok(samples.some((s) => s.corral === 2 && s.node === 2 && s.files === 2), `it reached keep: ${JSON.stringify(samples)}`);
    const backups = (await owner.ok(`query($c: ID!) { backups(containerId: $c) { edges { node { id state scheduled } } } }`, { c: id })).backups.edges.map((e: any) => e.node);
    assert.ok(backups.some((b: any) => b.id === manual.data.createBackup.id), 'the backup taken on request was kept');
    // Removing the schedule keeps its backups, as ordinary ones from then on.
    assert.deepEqual(backups.map((b: any) => [b.state, b.scheduled]), [['READY', false], ['READY', false], ['READY', false]], JSON.stringify(backups));
    assert.equal((await lxdBackups(node, name)).length, 3, 'two scheduled and the one taken on request, on the node');
    assert.equal(fs.readdirSync(dir).length, 3, `files on the node: ${fs.readdirSync(dir)}`);
  });
});
