import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { createLogger } from '../../server/app/logger';
import { backupCarrier } from '../../server/backups/backup-carry';
import type { BackupNodes } from '../../server/backups/backups.gateway';
import { newId } from '../../server/common/ids';
import { migrationHandlers } from '../../server/containers/migration.operations';
import { generateLicenceKeyPair, issueLicence } from '../../server/licences/licence-document';
import { Operation, OperationState } from '../../server/operations/operation.entity';
import { codeOf, type Caller } from '../support/client';
import { twoTenants, unique } from '../support/factories';
import { FakeGateway } from '../support/fake-gateway';
import { forEachDatabase, sqlFor, startTestServer, type TestServer } from '../support/server';

const OPERATION = `operation { id action state errorCode errorMessage }`;
const BACKUP = `id state location sizeBytes sha256 scheduled downloadUrl ${OPERATION}`;
const MIGRATE = `mutation($id: ID!, $t: ID!) { migrateContainer(id: $id, targetNodeId: $t) { id ${OPERATION} } }`;

/**
 * Backups carried into Corral's archive when their container leaves the node (migration, drain),
 * against the fake gateway: what is archived and where reads come from afterwards, an archive
 * that fails, a crash in the middle, deletion, retention and another tenant.
 */
forEachDatabase((TEST_DB) => {
  describe(`backups carried into the archive (${TEST_DB})`, () => {
    let server: TestServer;
    let fake: FakeGateway;
    let f: Awaited<ReturnType<typeof twoTenants>>;
    let owner: Caller;
    let nodes: Record<'a' | 'b', string>;
    let imageId: string;
    let archiveDir: string;
    const keys = generateLicenceKeyPair();
    const log = createLogger({ logLevel: 'silent' });
    const sql = (text: string) => sqlFor(server)(text);

    before(async () => {
      const imageDir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-images-'));
      fs.writeFileSync(path.join(imageDir, 'tiny.tar.gz'), 'stand-in image');
      archiveDir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'corral-archive-')), 'backups');
      fake = new FakeGateway();
      server = await startTestServer(
        TEST_DB,
        { CORRAL_IMAGE_DIR: imageDir, CORRAL_LICENCE_PUBLIC_KEY: keys.publicKey, CORRAL_BACKUP_ARCHIVE_DIR: archiveDir, CORRAL_BACKUP_MIN_INTERVAL_SECONDS: '60', CORRAL_SCHEDULE_SECONDS: '3600' },
        { gateway: fake },
      );
      f = await twoTenants(server.url);
      owner = f.ownerA.caller;
      await f.admin.ok(`mutation($l: String!) { installLicence(licence: $l) { licensee } }`, {
        l: issueLicence({ licensee: 'Archive', maxNodes: 10, maxContainers: 50, expiresAt: '2099-01-01T00:00:00Z' }, keys.privateKey),
      });
      const cluster = (await f.admin.ok(`mutation { createCluster(input: { name: "lab" }) { id } }`)).createCluster.id;
      nodes = {} as typeof nodes;
      for (const [name, ip] of [['a', '201'], ['b', '202']] as const) {
        nodes[name] = (await f.admin.ok(`mutation($c: ID!, $n: String!, $u: String!) { addNode(input: { clusterId: $c, name: $n, url: $u, secret: "fake-secret" }) { id } }`, { c: cluster, n: `node-${name}`, u: `https://198.18.0.${ip}:8443` })).addNode.id;
      }
      imageId = (await f.admin.ok(`{ images { edges { node { id name } } } }`)).images.edges.find((e: any) => e.node.name === 'tiny').node.id;
    });
    after(() => server.stop());

    const settle = async (operationId: string) => {
      await server.services.runner.settled(operationId);
      return (await f.admin.ok(`query($id: ID!) { operation(id: $id) { id action state errorCode errorMessage } }`, { id: operationId })).operation;
    };
    /** A running container of customer A on node a. */
    const create = async () => {
      const name = unique('arc');
      const created = (await f.admin.ok(`mutation($i: CreateContainerInput!) { createContainer(input: $i) { id operation { id } } }`, {
        i: { projectId: f.projectA.id, clusterId: (await server.db.query(sql(`SELECT "clusterId" FROM nodes WHERE id = ?`), [nodes.a]))[0].clusterId, nodeId: nodes.a, name, imageId, cpu: 1, memoryMiB: 64, diskMiB: 128 },
      })).createContainer;
      assert.equal((await settle(created.operation.id)).state, 'SUCCEEDED');
      return { id: created.id as string, name };
    };
    const backUp = async (containerId: string) => {
      const backup = (await owner.ok(`mutation($c: ID!) { createBackup(containerId: $c) { id operation { id } } }`, { c: containerId })).createBackup;
      assert.equal((await settle(backup.operation.id)).state, 'SUCCEEDED');
      return backup.id as string;
    };
    const readBackup = async (id: string) => (await owner.ok(`query($id: ID!) { backup(id: $id) { ${BACKUP} } }`, { id })).backup;
    const row = async (id: string) => (await server.db.query(sql(`SELECT "nodeId", status FROM containers WHERE id = ?`), [id]))[0];
    const project = () => `corral-${f.projectA.id.replaceAll('-', '')}`;
    const key = (node: 'a' | 'b', name: string) => `${nodes[node]}/${project()}/${name}`;
    const onNode = (node: 'a' | 'b', name: string) => [...fake.backupStore.keys()].filter((k) => k.startsWith(`${key(node, name)}/`));
    const fileOf = (id: string) => path.join(archiveDir, `${id}.tar.gz`);
    const archived = () => (fs.existsSync(archiveDir) ? fs.readdirSync(archiveDir) : []);
    const migrate = async (id: string, target: 'a' | 'b') => settle((await f.admin.ok(MIGRATE, { id, t: nodes[target] })).migrateContainer.operation.id);
    const download = (id: string, cookie?: string) => fetch(`${server.url}/backups/${id}/download`, { headers: cookie ? { cookie } : {} });
    const sha256 = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

    test('a migration archives every READY backup before removing the source; reads, restores and deletes then use the archive', async () => {
      const { id, name } = await create();
      const first = await backUp(id);
      const second = await backUp(id);
      const lxdNames = (await server.db.query(sql(`SELECT id, "lxdName" FROM container_backups WHERE "containerId" = ?`), [id])) as { id: string; lxdName: string }[];
      const tarballOf = (backupId: string) => `${key('a', name)}/${lxdNames.find((b) => b.id === backupId)!.lxdName}`;
      assert.equal((await readBackup(first)).location, 'NODE');
      assert.equal((await readBackup(first)).sha256, null);

      const op = await migrate(id, 'b');
      assert.equal(op.state, 'SUCCEEDED', JSON.stringify(op));
      assert.deepEqual(await row(id), { nodeId: nodes.b, status: 'RUNNING' });
      assert.equal(fake.instances.has(key('a', name)), false, 'the source instance is gone');
      assert.deepEqual(onNode('a', name), [], 'nothing is left on the source node');
      for (const backupId of [first, second]) {
        const backup = await readBackup(backupId);
        assert.equal(backup.state, 'READY');
        assert.equal(backup.location, 'ARCHIVE');
        assert.equal(backup.downloadUrl, `/backups/${backupId}/download`);
        // The fake's tarball is the backup's key on the node: the archive holds exactly what the node exported.
        assert.equal(fs.readFileSync(fileOf(backupId), 'utf8'), tarballOf(backupId));
        assert.equal(Number(backup.sizeBytes), fs.statSync(fileOf(backupId)).size);
        assert.equal(backup.sha256, sha256(fileOf(backupId)));
      }
      assert.equal(archived().filter((n) => n.startsWith('.partial-')).length, 0, 'no temporary file is left');

      // Download streams the archive file, to the owner only.
      const res = await download(first, owner.cookie);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-length'), String(fs.statSync(fileOf(first)).size));
      assert.equal(await res.text(), tarballOf(first));
      for (const other of [f.memberB.caller, f.resellerAdminB.caller]) {
        const theirs = await download(first, other.cookie);
        assert.equal(theirs.status, 404);
        assert.equal(((await theirs.json()) as any).errors[0].extensions.code, 'NOT_FOUND');
        assert.equal(codeOf(await other.gql(`query($id: ID!) { backup(id: $id) { id } }`, { id: first })), 'NOT_FOUND');
      }
      assert.equal((await download(first)).status, 401);

      // Restore in place: imported from the archive file onto the node the container is on now.
      await settle((await owner.ok(`mutation($id: ID!) { stopContainer(id: $id) { operation { id } } }`, { id })).stopContainer.operation.id);
      const restore = (await owner.ok(`mutation($id: ID!) { restoreBackup(id: $id) { id ${OPERATION} } }`, { id: first })).restoreBackup;
      const restored = await settle(restore.operation.id);
      assert.equal(restored.state, 'SUCCEEDED', JSON.stringify(restored));
      assert.ok(fake.restoredFrom.has(key('b', name)), 'refreshed on node b');
      assert.ok(fs.existsSync(fileOf(first)), 'a restore keeps the archived file');

      // Restore as new: from the archive too, even with the node it was taken on offline.
      await server.db.query(sql(`UPDATE nodes SET status = 'OFFLINE' WHERE id = ?`), [nodes.a]);
      try {
        const copyName = unique('copy');
        const copy = (await owner.ok(`mutation($id: ID!, $n: String!) { restoreBackupAsNew(id: $id, name: $n) { id ${OPERATION} } }`, { id: second, n: copyName })).restoreBackupAsNew;
        const copied = await settle(copy.operation.id);
        assert.equal(copied.state, 'SUCCEEDED', JSON.stringify(copied));
        assert.equal(fake.instances.get(key('b', copyName))?.status, 'Running');
      } finally {
        await server.db.query(sql(`UPDATE nodes SET status = 'READY' WHERE id = ?`), [nodes.a]);
      }

      // Delete removes the file and the row.
      const deleted = (await owner.ok(`mutation($id: ID!) { deleteBackup(id: $id) { id state ${OPERATION} } }`, { id: first })).deleteBackup;
      assert.equal((await settle(deleted.operation.id)).state, 'SUCCEEDED');
      assert.equal(fs.existsSync(fileOf(first)), false, 'the archive file is gone');
      assert.equal(codeOf(await owner.gql(`query($id: ID!) { backup(id: $id) { id } }`, { id: first })), 'NOT_FOUND');

      // An archive file removed behind Corral's back: BACKUP_MISSING, and marked so.
      fs.copyFileSync(fileOf(second), `${fileOf(second)}.keep`);
      fs.rmSync(fileOf(second));
      const gone = await download(second, owner.cookie);
      assert.equal(gone.status, 404);
      assert.equal(((await gone.json()) as any).errors[0].extensions.code, 'BACKUP_MISSING');
      assert.equal((await readBackup(second)).state, 'MISSING');
      fs.renameSync(`${fileOf(second)}.keep`, fileOf(second));

      // Deleting the container deletes its archived backups with it, like LXD does with the ones it keeps.
      const removal = (await owner.ok(`mutation($id: ID!) { deleteContainer(id: $id) { id operation { id } } }`, { id })).deleteContainer;
      assert.equal((await settle(removal.operation.id)).state, 'SUCCEEDED');
      assert.equal(fs.existsSync(fileOf(second)), false, 'the container took its archived backups with it');
      assert.equal(Number((await server.db.query(sql(`SELECT COUNT(*) AS n FROM container_backups WHERE "containerId" = ?`), [id]))[0].n), 0);
    });

    test('an archive that cannot be written fails the migration before the source is touched: the container and its backups stay where they were', async () => {
      const { id, name } = await create();
      const backups = [await backUp(id), await backUp(id)];
      const files = archived();
      // The archive directory cannot be created: a file is in its way (as a full or read-only disk would refuse the write).
      const aside = `${archiveDir}.aside`;
      if (fs.existsSync(archiveDir)) fs.renameSync(archiveDir, aside);
      fs.writeFileSync(archiveDir, 'in the way');
      let op;
      try {
        op = await migrate(id, 'b');
      } finally {
        fs.rmSync(archiveDir);
        if (fs.existsSync(aside)) fs.renameSync(aside, archiveDir);
      }
      assert.deepEqual([op.state, op.errorCode], ['FAILED', 'BACKUP_ARCHIVE_FAILED'], JSON.stringify(op));
      assert.match(op.errorMessage, /archiv/);
      assert.deepEqual(await row(id), { nodeId: nodes.a, status: 'RUNNING' });
      assert.equal(fake.instances.get(key('a', name))?.status, 'Running', 'started again on the source');
      assert.equal(fake.instances.has(key('b', name)), false, 'the copy on the target is removed');
      assert.equal(onNode('a', name).length, 2, 'LXD still keeps both backups on the source');
      for (const backupId of backups) assert.deepEqual([(await readBackup(backupId)).state, (await readBackup(backupId)).location], ['READY', 'NODE']);
      assert.deepEqual(archived(), files, 'nothing new in the archive');

      // The node's export breaking off halfway is the node's fault (LXD_ERROR), with the same outcome and no partial file.
      const exportBackup = fake.backups.exportBackup;
      fake.backups.exportBackup = async (...args) => {
        const stream = await exportBackup(...args);
        return stream && { size: stream.size, body: Readable.from((async function* () {
          yield Buffer.from('half a tarb');
          throw new Error('connection reset by the node');
        })()) };
      };
      try {
        op = await migrate(id, 'b');
      } finally {
        fake.backups.exportBackup = exportBackup;
      }
      assert.deepEqual([op.state, op.errorCode], ['FAILED', 'LXD_ERROR'], JSON.stringify(op));
      assert.deepEqual(await row(id), { nodeId: nodes.a, status: 'RUNNING' });
      assert.equal(onNode('a', name).length, 2);
      assert.deepEqual(archived(), files, 'no partial file is left');

      // Once the archive works again, the same migration goes through and carries both.
      assert.equal((await migrate(id, 'b')).state, 'SUCCEEDED');
      for (const backupId of backups) assert.equal((await readBackup(backupId)).location, 'ARCHIVE');
    });

    test('Corral dying in the middle of the carry: recovery archives what remains, and the source goes only after every backup is archived', async () => {
      const { id, name } = await create();
      const backups = [await backUp(id), await backUp(id), await backUp(id)];
      const account = (await server.db.query(sql(`SELECT a.id, a.path FROM accounts a JOIN projects p ON p."accountId" = a.id WHERE p.id = ?`), [f.projectA.id]))[0];
      // A migration that a live runner holds (the lease is far off, so the test's runner leaves it alone).
      const operationId = newId();
      await server.db.manager.insert(Operation, {
        id: operationId,
        accountId: account.id,
        accountPath: account.path,
        containerId: id,
        nodeId: nodes.a,
        action: 'container.migrate',
        state: OperationState.RUNNING,
        progress: 0,
        step: 'moving the container',
        idempotencyKey: null,
        requestHash: 'crash',
        input: { id, targetNodeId: nodes.b, live: false },
        errorCode: null,
        errorMessage: null,
        actorUserId: null,
        leaseOwner: 'the runner that will die',
        leaseExpiresAt: new Date(Date.now() + 3_600_000),
        finishedAt: null,
      });
      const operation = await server.db.manager.findOneByOrFail(Operation, { id: operationId });
      // The process "dies" while streaming the second backup: the handler stops there, with no onFailure.
      let exports = 0;
      const dying: BackupNodes = {
        ...fake.backups,
        exportBackup: async (...args) => {
          if (++exports === 2) throw new Error('the process died');
          return fake.backups.exportBackup(...args);
        },
      };
      const step = { progress: async () => undefined };
      const crashing = migrationHandlers(server.db, fake, fake, log, backupCarrier(server.db, dying, server.services.backupArchive, log))['container.migrate']!;
      await assert.rejects(crashing.run(operation, step), /the process died/);
      // A temporary file a real crash would have left mid-write.
      fs.writeFileSync(path.join(archiveDir, `.partial-${backups[1]}-deadbeef0000`), 'half a tarb');

      const states = async () => Promise.all(backups.map(async (b) => (await readBackup(b)).location));
      assert.deepEqual(await states(), ['ARCHIVE', 'NODE', 'NODE'], 'the first was archived before the crash');
      assert.equal((await row(id)).nodeId, nodes.a, 'the row is still on the source');
      assert.equal(fake.instances.has(key('a', name)), true, 'the source instance is still there');
      assert.equal(onNode('a', name).length, 2, 'with the two backups not yet archived');

      // The runner that takes the operation over recovers it.
      const recovering = migrationHandlers(server.db, fake, fake, log, backupCarrier(server.db, fake.backups, server.services.backupArchive, log))['container.migrate']!;
      await recovering.recover(await server.db.manager.findOneByOrFail(Operation, { id: operation.id }), step);
      await server.db.manager.update(Operation, { id: operation.id }, { state: OperationState.SUCCEEDED, leaseExpiresAt: null, finishedAt: new Date() });
      assert.deepEqual(await states(), ['ARCHIVE', 'ARCHIVE', 'ARCHIVE']);
      assert.deepEqual(await row(id), { nodeId: nodes.b, status: 'RUNNING' });
      assert.equal(fake.instances.has(key('a', name)), false, 'the source went last');
      for (const b of backups) assert.equal((await readBackup(b)).sha256, sha256(fileOf(b)));
      assert.equal(archived().filter((n) => n.startsWith('.partial-')).length, 0, 'the leftover temporary file was cleaned up');
      const res = await download(backups[1]!, owner.cookie);
      assert.equal(res.status, 200);
      assert.equal((await res.text()).endsWith((await server.db.query(sql(`SELECT "lxdName" FROM container_backups WHERE id = ?`), [backups[1]]))[0].lxdName), true);
    });

    test('schedule retention prunes archived backups too, removing their files', async () => {
      const { id } = await create();
      await owner.ok(`mutation($c: ID!) { setBackupSchedule(containerId: $c, cron: "0 * * * *", keep: 1) { id } }`, { c: id });
      const scheduler = server.services.backupScheduler;
      const tick = async (hour: number) => {
        await scheduler.tick(new Date(Date.now() + hour * 3_600_000 + 1000));
        const [op] = await server.db.query(sql(`SELECT id FROM operations WHERE "containerId" = ? ORDER BY id DESC LIMIT 1`), [id]);
        assert.equal((await settle(op.id)).state, 'SUCCEEDED');
      };
      await tick(1);
      const [scheduled] = (await owner.ok(`query($c: ID!) { backups(containerId: $c) { edges { node { id scheduled } } } }`, { c: id })).backups.edges.map((e: any) => e.node.id);
      assert.equal((await migrate(id, 'b')).state, 'SUCCEEDED');
      assert.equal((await readBackup(scheduled)).location, 'ARCHIVE');
      assert.ok(fs.existsSync(fileOf(scheduled)));
      await tick(2);
      const left = (await owner.ok(`query($c: ID!) { backups(containerId: $c) { edges { node { id location } } } }`, { c: id })).backups.edges.map((e: any) => e.node);
      assert.equal(left.length, 1, JSON.stringify(left));
      assert.notEqual(left[0].id, scheduled);
      assert.equal(left[0].location, 'NODE', 'the new one is on the node the container is on now');
      assert.equal(fs.existsSync(fileOf(scheduled)), false, 'the pruned archived backup’s file is gone');
    });
  });
});
