import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BackupScheduler } from '../../server/backups/backup-scheduler';
import { backupHandlers, restoreTempName } from '../../server/backups/backups.operations';
import { createLogger } from '../../server/app/logger';
import { generateLicenceKeyPair, issueLicence } from '../../server/licences/licence-document';
import { Operation } from '../../server/operations/operation.entity';
import { codeOf, type Caller } from '../support/client';
import { twoTenants, unique } from '../support/factories';
import { FakeGateway } from '../support/fake-gateway';
import { forEachDatabase, sqlFor, startTestServer, type TestServer } from '../support/server';

const BACKUP = `id state sizeBytes scheduled downloadUrl containerId createdAt operation { id action state errorCode }`;
const CREATE = `mutation($c: ID!, $k: String) { createBackup(containerId: $c, idempotencyKey: $k) { ${BACKUP} } }`;
const RESTORE = `mutation($id: ID!, $k: String) { restoreBackup(id: $id, idempotencyKey: $k) { id status operation { id action state errorCode } } }`;
const RESTORE_NEW = `mutation($id: ID!, $n: String!) { restoreBackupAsNew(id: $id, name: $n) { id name status operation { id action state errorCode } } }`;
const SCHEDULE = `mutation($c: ID!, $cron: String!, $keep: Int!) { setBackupSchedule(containerId: $c, cron: $cron, keep: $keep) { id backupSchedule { cron keep enabled nextRunAt lastRunAt } } }`;

/** Backups against the fake gateway: refusals, faults, replay and the scheduler's claims. */
forEachDatabase((TEST_DB) => {
  describe(`container backups (${TEST_DB})`, () => {
    let server: TestServer;
    let fake: FakeGateway;
    let f: Awaited<ReturnType<typeof twoTenants>>;
    let owner: Caller;
    let imageId: string;
    const keys = generateLicenceKeyPair();
    const sql = (text: string) => sqlFor(server)(text);

    before(async () => {
      const imageDir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-images-'));
      fs.writeFileSync(path.join(imageDir, 'tiny.tar.gz'), 'stand-in image');
      fake = new FakeGateway();
      server = await startTestServer(
        TEST_DB,
        { CORRAL_IMAGE_DIR: imageDir, CORRAL_LICENCE_PUBLIC_KEY: keys.publicKey, CORRAL_BACKUP_MIN_INTERVAL_SECONDS: '60', CORRAL_SCHEDULE_SECONDS: '3600' },
        { gateway: fake },
      );
      f = await twoTenants(server.url);
      owner = f.ownerA.caller;
      await f.admin.ok(`mutation($l: String!) { installLicence(licence: $l) { licensee } }`, {
        l: issueLicence({ licensee: 'Backups', maxNodes: 10, maxContainers: 50, expiresAt: '2099-01-01T00:00:00Z' }, keys.privateKey),
      });
      const cluster = (await f.admin.ok(`mutation { createCluster(input: { name: "lab" }) { id } }`)).createCluster.id;
      await f.admin.ok(`mutation($c: ID!) { addNode(input: { clusterId: $c, name: "node-a", url: "https://198.18.0.201:8443", secret: "fake-secret" }) { id } }`, { c: cluster });
      imageId = (await f.admin.ok(`{ images { edges { node { id name } } } }`)).images.edges.find((e: any) => e.node.name === 'tiny').node.id;
    });
    after(() => server.stop());

    const settle = async (operationId: string) => {
      await server.services.runner.settled(operationId);
      return (await owner.ok(`query($id: ID!) { operation(id: $id) { id action state errorCode errorMessage } }`, { id: operationId })).operation;
    };
    const create = async (name = unique('bk')) => {
      const created = (await owner.ok(`mutation($i: CreateContainerInput!) { createContainer(input: $i) { id operation { id } } }`, {
        i: { projectId: f.projectA.id, name, imageId, cpu: 1, memoryMiB: 64, diskMiB: 128 },
      })).createContainer;
      await settle(created.operation.id);
      return { id: created.id as string, name };
    };
    const stop = async (id: string) => settle((await owner.ok(`mutation($id: ID!) { stopContainer(id: $id) { operation { id } } }`, { id })).stopContainer.operation.id);
    const backUp = async (containerId: string) => {
      const backup = (await owner.ok(CREATE, { c: containerId })).createBackup;
      assert.equal(backup.state, 'CREATING');
      const op = await settle(backup.operation.id);
      assert.equal(op.state, 'SUCCEEDED', JSON.stringify(op));
      return (await owner.ok(`query($id: ID!) { backup(id: $id) { ${BACKUP} } }`, { id: backup.id })).backup;
    };
    const operationCount = async () => Number((await server.db.query(`SELECT COUNT(*) AS n FROM operations`))[0].n);
    const lxdProject = () => `corral-${f.projectA.id.replaceAll('-', '')}`;
    const download = (id: string, cookie?: string) => fetch(`${server.url}/backups/${id}/download`, { headers: cookie ? { cookie } : {} });

    test('a backup is taken, listed, read and downloaded by its owner, and by no other tenant', async () => {
      const { id } = await create();
      const backup = await backUp(id);
      assert.equal(backup.state, 'READY');
      assert.equal(backup.scheduled, false);
      assert.equal(backup.downloadUrl, `/backups/${backup.id}/download`);
      assert.ok(Number(backup.sizeBytes) > 0);
      const listed = (await owner.ok(`query($c: ID!) { backups(containerId: $c) { edges { node { id } } } }`, { c: id })).backups.edges.map((e: any) => e.node.id);
      assert.deepEqual(listed, [backup.id]);

      const res = await download(backup.id, owner.cookie);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-disposition') ?? '', /^attachment; filename=".+\.tar\.gz"$/);
      assert.equal(res.headers.get('content-length'), String(backup.sizeBytes));
      const body = await res.text();
      assert.ok(body.includes(`/${lxdProject()}/`) && body.endsWith(`/${(await server.db.query(sql(`SELECT "lxdName" FROM container_backups WHERE id = ?`), [backup.id]))[0].lxdName}`), body);

      const before = await operationCount();
      for (const other of [f.memberB.caller, f.resellerAdminB.caller]) {
        assert.equal(codeOf(await other.gql(`query($id: ID!) { backup(id: $id) { id } }`, { id: backup.id })), 'NOT_FOUND');
        assert.equal(codeOf(await other.gql(`query($c: ID!) { backups(containerId: $c) { edges { node { id } } } }`, { c: id })), 'NOT_FOUND');
        // A customer member may not write containers at all (FORBIDDEN by role); another reseller's admin may, but not these (NOT_FOUND).
        const refused = other === f.memberB.caller ? 'FORBIDDEN' : 'NOT_FOUND';
        assert.equal(codeOf(await other.gql(CREATE, { c: id })), refused);
        assert.equal(codeOf(await other.gql(RESTORE, { id: backup.id })), refused);
        assert.equal(codeOf(await other.gql(`mutation($id: ID!) { deleteBackup(id: $id) { id } }`, { id: backup.id })), refused);
        const theirs = await download(backup.id, other.cookie);
        assert.equal(theirs.status, 404);
        assert.equal(((await theirs.json()) as any).errors[0].extensions.code, 'NOT_FOUND');
      }
      assert.equal((await download(backup.id)).status, 401, 'anonymous');
      assert.equal(await operationCount(), before, 'nothing was recorded');
    });

    test('restoring onto a running container asks for a stop and changes nothing', async () => {
      const { id } = await create();
      const backup = await backUp(id);
      const before = await operationCount();
      const res = await owner.gql(RESTORE, { id: backup.id });
      assert.equal(codeOf(res), 'CONTAINER_RUNNING', JSON.stringify(res.errors));
      assert.equal(res.data, null);
      assert.equal(await operationCount(), before);
      assert.equal((await owner.ok(`query($id: ID!) { container(id: $id) { status } }`, { id })).container.status, 'RUNNING');
    });

    test('restore in place refreshes the stopped container from a temporary import and keeps its other backups', async () => {
      const { id, name } = await create();
      const first = await backUp(id);
      const second = await backUp(id);
      await stop(id);
      const restored = (await owner.ok(RESTORE, { id: first.id })).restoreBackup;
      const op = await settle(restored.operation.id);
      assert.deepEqual([op.action, op.state], ['backup.restore', 'SUCCEEDED'], JSON.stringify(op));
      const target = `${(await server.db.query(sql(`SELECT "nodeId" FROM containers WHERE id = ?`), [id]))[0].nodeId}/${lxdProject()}/${name}`;
      assert.equal(fake.restoredFrom.get(target), restoreTempName(op.id));
      assert.equal([...fake.instances.keys()].some((k) => k.endsWith(`/${restoreTempName(op.id)}`)), false, 'the temporary instance is gone');
      assert.equal([...fake.backupStore.keys()].filter((k) => k.startsWith(`${target}/`)).length, 2, 'both backups are still on the node');
      const states = (await owner.ok(`query($c: ID!) { backups(containerId: $c) { edges { node { id state } } } }`, { c: id })).backups.edges.map((e: any) => [e.node.id, e.node.state]);
      assert.deepEqual(states, [[second.id, 'READY'], [first.id, 'READY']]);
      assert.equal((await owner.ok(`query($id: ID!) { container(id: $id) { status } }`, { id })).container.status, 'STOPPED');
    });

    test('a failed import leaves the original untouched and removes the temporary instance', async () => {
      const { id, name } = await create();
      const backup = await backUp(id);
      await stop(id);
      const importBackup = fake.backups.importBackup;
      fake.backups.importBackup = async () => {
        throw Object.assign(new Error('disk full'), { status: 400 });
      };
      try {
        const op = await settle((await owner.ok(RESTORE, { id: backup.id })).restoreBackup.operation.id);
        assert.deepEqual([op.state, op.errorCode], ['FAILED', 'LXD_ERROR'], JSON.stringify(op));
      } finally {
        fake.backups.importBackup = importBackup;
      }
      const nodeId = (await server.db.query(sql(`SELECT "nodeId" FROM containers WHERE id = ?`), [id]))[0].nodeId;
      assert.equal(fake.restoredFrom.has(`${nodeId}/${lxdProject()}/${name}`), false, 'the original was not refreshed');
      assert.equal(fake.instances.get(`${nodeId}/${lxdProject()}/${name}`)?.status, 'Stopped');
      assert.equal((await owner.ok(`query($id: ID!) { backup(id: $id) { state } }`, { id: backup.id })).backup.state, 'READY');
    });

    test('a restore that Corral stopped in the middle is finished by recovery', async () => {
      const { id, name } = await create();
      const backup = await backUp(id);
      await stop(id);
      const op = await settle((await owner.ok(RESTORE, { id: backup.id })).restoreBackup.operation.id);
      const nodeId = (await server.db.query(sql(`SELECT "nodeId" FROM containers WHERE id = ?`), [id]))[0].nodeId;
      fake.restoredFrom.delete(`${nodeId}/${lxdProject()}/${name}`);
      // As a crash after the import would leave it: the temporary instance is still there.
      await fake.backups.createBackup({ id: nodeId } as never, lxdProject(), name, 'scratch', 1);
      const handler = backupHandlers(server.db, fake, fake.backups, server.services.backupArchive, createLogger({ logLevel: 'silent' }))['backup.restore']!;
      const operation = await server.db.manager.findOneByOrFail(Operation, { id: op.id });
      await handler.recover(operation, { progress: async () => undefined });
      assert.equal(fake.restoredFrom.get(`${nodeId}/${lxdProject()}/${name}`), restoreTempName(op.id));
      assert.equal([...fake.instances.keys()].some((k) => k.endsWith(`/${restoreTempName(op.id)}`)), false);
    });

    test('a backup deleted behind Corral’s back fails the restore with BACKUP_MISSING and is marked so', async () => {
      const { id, name } = await create();
      const backup = await backUp(id);
      await stop(id);
      for (const key of fake.backupStore.keys()) if (key.includes(`/${name}/`)) fake.backupStore.delete(key);
      const op = await settle((await owner.ok(RESTORE, { id: backup.id })).restoreBackup.operation.id);
      assert.deepEqual([op.state, op.errorCode], ['FAILED', 'BACKUP_MISSING'], JSON.stringify(op));
      const read = (await owner.ok(`query($id: ID!) { backup(id: $id) { state downloadUrl } }`, { id: backup.id })).backup;
      assert.deepEqual(read, { state: 'MISSING', downloadUrl: null });
      const before = await operationCount();
      assert.equal(codeOf(await owner.gql(RESTORE, { id: backup.id })), 'BACKUP_MISSING');
      assert.equal(codeOf(await owner.gql(RESTORE_NEW, { id: backup.id, n: unique('copy') })), 'BACKUP_MISSING');
      const res = await download(backup.id, owner.cookie);
      assert.equal(res.status, 404);
      assert.equal(((await res.json()) as any).errors[0].extensions.code, 'BACKUP_MISSING');
      assert.equal(await operationCount(), before);
      // A missing backup can still be deleted from Corral.
      const deleted = (await owner.ok(`mutation($id: ID!) { deleteBackup(id: $id) { id state operation { id } } }`, { id: backup.id })).deleteBackup;
      assert.equal((await settle(deleted.operation.id)).state, 'SUCCEEDED');
      assert.equal(codeOf(await owner.gql(`query($id: ID!) { backup(id: $id) { id } }`, { id: backup.id })), 'NOT_FOUND');
    });

    test('a download of a backup that vanished from the node answers BACKUP_MISSING and marks it', async () => {
      const { id, name } = await create();
      const backup = await backUp(id);
      for (const key of fake.backupStore.keys()) if (key.includes(`/${name}/`)) fake.backupStore.delete(key);
      const res = await download(backup.id, owner.cookie);
      assert.equal(res.status, 404);
      assert.equal(((await res.json()) as any).errors[0].extensions.code, 'BACKUP_MISSING');
      assert.equal((await owner.ok(`query($id: ID!) { backup(id: $id) { state } }`, { id: backup.id })).backup.state, 'MISSING');
    });

    test('restore as new gives a running container with a new identity; a taken name is a CONFLICT', async () => {
      const { id, name } = await create();
      const backup = await backUp(id);
      const before = await operationCount();
      assert.equal(codeOf(await owner.gql(RESTORE_NEW, { id: backup.id, n: name })), 'CONFLICT');
      assert.equal(codeOf(await owner.gql(RESTORE_NEW, { id: backup.id, n: 'not a name!' })), 'BAD_USER_INPUT');
      assert.equal(await operationCount(), before);
      const copyName = unique('copy');
      const copy = (await owner.ok(RESTORE_NEW, { id: backup.id, n: copyName })).restoreBackupAsNew;
      assert.equal(copy.status, 'CREATING');
      const op = await settle(copy.operation.id);
      assert.deepEqual([op.action, op.state], ['backup.restoreAsNew', 'SUCCEEDED'], JSON.stringify(op));
      const row = (await owner.ok(`query($id: ID!) { container(id: $id) { name status cpu memoryBytes } }`, { id: copy.id })).container;
      assert.deepEqual(row, { name: copyName, status: 'RUNNING', cpu: 1, memoryBytes: 64 * 1024 * 1024 }, JSON.stringify(row));
      const config = [...fake.configs.entries()].find(([k]) => k.endsWith(`/${copyName}`))![1].config;
      assert.match(config['volatile.uuid'] ?? '', /^[0-9a-f-]{36}$/);
      assert.match(config['volatile.cloud-init.instance-id'] ?? '', /^[0-9a-f-]{36}$/);
    });

    test('restore as new is held to the licence and to the nodes’ room, like createContainer, and changes nothing when refused', async () => {
      const { id } = await create();
      const backup = await backUp(id);
      const before = await operationCount();
      const containers = Number((await server.db.query(`SELECT COUNT(*) AS n FROM containers`))[0].n);
      await f.admin.ok(`mutation($l: String!) { installLicence(licence: $l) { licensee } }`, {
        l: issueLicence({ licensee: 'Backups', maxNodes: 10, maxContainers: containers, expiresAt: '2099-01-01T00:00:00Z' }, keys.privateKey),
      });
      try {
        assert.equal(codeOf(await owner.gql(RESTORE_NEW, { id: backup.id, n: unique('over') })), 'LICENCE_LIMIT');
      } finally {
        await f.admin.ok(`mutation($l: String!) { installLicence(licence: $l) { licensee } }`, {
          l: issueLicence({ licensee: 'Backups', maxNodes: 10, maxContainers: 50, expiresAt: '2099-01-01T00:00:00Z' }, keys.privateKey),
        });
      }
      await server.db.query(`UPDATE nodes SET "memoryBytes" = 1`);
      try {
        assert.equal(codeOf(await owner.gql(RESTORE_NEW, { id: backup.id, n: unique('full') })), 'CAPACITY_EXCEEDED');
      } finally {
        await server.db.query(sql(`UPDATE nodes SET "memoryBytes" = ?`), [16 * 1024 ** 3]);
      }
      assert.equal(await operationCount(), before);
      assert.equal(Number((await server.db.query(`SELECT COUNT(*) AS n FROM containers`))[0].n), containers);
    });

    test('a second mutation while an operation runs is OPERATION_IN_PROGRESS', async () => {
      const { id } = await create();
      const ready = await backUp(id);
      await stop(id);
      let release!: () => void;
      fake.gate = new Promise<void>((resolve) => (release = resolve));
      try {
        const running = (await owner.ok(CREATE, { c: id })).createBackup;
        for (const [doc, vars] of [
          [CREATE, { c: id }],
          [RESTORE, { id: ready.id }],
          [`mutation($id: ID!) { deleteBackup(id: $id) { id } }`, { id: ready.id }],
          [`mutation($id: ID!) { deleteBackup(id: $id) { id } }`, { id: running.id }],
          [RESTORE_NEW, { id: running.id, n: unique('early') }],
        ] as const) {
          const res = await owner.gql(doc, vars);
          assert.equal(codeOf(res), 'OPERATION_IN_PROGRESS', `${doc}: ${JSON.stringify(res.errors)}`);
        }
        release();
        assert.equal((await settle(running.operation.id)).state, 'SUCCEEDED');
      } finally {
        fake.gate = null;
        release();
      }
    });

    test('a replayed idempotency key returns the first backup; with other input it is refused', async () => {
      const { id } = await create();
      const other = await create();
      const key = unique('key');
      const first = (await owner.ok(CREATE, { c: id, k: key })).createBackup;
      await settle(first.operation.id);
      const count = await operationCount();
      const again = (await owner.ok(CREATE, { c: id, k: key })).createBackup;
      assert.equal(again.id, first.id);
      assert.equal(again.state, 'READY');
      assert.equal(await operationCount(), count, 'no second operation');
      assert.equal(codeOf(await owner.gql(CREATE, { c: other.id, k: key })), 'IDEMPOTENCY_KEY_REUSED');
    });

    test('a schedule refuses a bad cron, one more frequent than the minimum interval, and keep outside 1–100', async () => {
      const { id } = await create();
      for (const [cron, keep, field] of [
        ['not a cron', 3, 'cron'],
        ['*/10 * * * * *', 3, 'cron'],
        ['* * * * *', 3, null],
        ['0 3 * * *', 0, null],
        ['0 3 * * *', 101, null],
        ['0 3 * * * * *', 3, 'cron'],
      ] as const) {
        const res = await owner.gql(SCHEDULE, { c: id, cron, keep });
        if (field === null && cron === '* * * * *') {
          // Every minute is exactly the minimum interval here (60 s): accepted.
          assert.equal(res.errors, undefined, JSON.stringify(res.errors));
          continue;
        }
        assert.equal(codeOf(res), 'BAD_USER_INPUT', `${cron} keep ${keep}: ${JSON.stringify(res.errors)}`);
        if (field) assert.equal(res.errors![0]!.extensions?.field, field);
      }
      const schedule = (await owner.ok(`query($id: ID!) { container(id: $id) { backupSchedule { cron keep enabled } } }`, { id })).container.backupSchedule;
      assert.deepEqual(schedule, { cron: '* * * * *', keep: 3, enabled: true });
      assert.equal(codeOf(await f.resellerAdminB.caller.gql(SCHEDULE, { c: id, cron: '0 3 * * *', keep: 2 })), 'NOT_FOUND');
      await owner.ok(`mutation($c: ID!) { removeBackupSchedule(containerId: $c) { id } }`, { c: id });
      assert.equal((await owner.ok(`query($id: ID!) { container(id: $id) { backupSchedule { cron } } }`, { id })).container.backupSchedule, null);
      assert.equal(codeOf(await owner.gql(`mutation($c: ID!) { removeBackupSchedule(containerId: $c) { id } }`, { c: id })), 'NOT_FOUND');
    });

    test('the scheduler takes each due run once, even with two schedulers, and keeps only the newest N scheduled backups', async () => {
      const { id } = await create();
      const manual = await backUp(id);
      await owner.ok(SCHEDULE, { c: id, cron: '0 * * * *', keep: 2 });
      const schedulers = [server.services.backupScheduler, new BackupScheduler(server.db, server.services.backups, createLogger({ logLevel: 'silent' }), 3_600_000)];
      schedulers[1]!.start();
      try {
        for (let hour = 1; hour <= 4; hour++) {
          const now = new Date(Date.now() + hour * 3_600_000 + 1000);
          const count = await operationCount();
          await Promise.all(schedulers.map((s) => s.tick(now)));
          assert.equal(await operationCount(), count + 1, `run ${hour}: one backup for the due time, not two: ${JSON.stringify(await server.db.query(`SELECT action, "idempotencyKey", "createdAt" FROM operations ORDER BY id DESC LIMIT 3`))}`);
          const [op] = await server.db.query(sql(`SELECT id FROM operations WHERE "containerId" = ? ORDER BY id DESC LIMIT 1`), [id]);
          assert.equal((await settle(op.id)).state, 'SUCCEEDED');
          const scheduled = (await owner.ok(`query($c: ID!) { backups(containerId: $c) { edges { node { id scheduled state } } } }`, { c: id })).backups.edges.map((e: any) => e.node);
          assert.equal(scheduled.filter((b: any) => b.scheduled).length, Math.min(hour, 2), JSON.stringify(scheduled));
          assert.ok(scheduled.some((b: any) => b.id === manual.id), 'a backup taken on request is never pruned');
        }
        const schedule = (await owner.ok(`query($id: ID!) { container(id: $id) { backupSchedule { lastRunAt nextRunAt } } }`, { id })).container.backupSchedule;
        assert.ok(Date.parse(schedule.nextRunAt) > Date.parse(schedule.lastRunAt));
      } finally {
        await schedulers[1]!.stop();
      }
    });
  });
});
