import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildCorralSchema } from '../../server/app/schema';
import { Project } from '../../server/accounts/project.entity';
import { Caller, codeOf } from '../support/client';
import { createAccount, createProject, signInAsAdmin, signInAsNewUser, twoTenants, unique } from '../support/factories';
import { startTestServer, forEachDatabase, type TestServer } from '../support/server';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generateLicenceKeyPair, issueLicence } from '../../server/licences/licence-document';
import { FakeGateway } from '../support/fake-gateway';

const EVENTS = `query($a: ID, $action: String) { auditEvents(accountId: $a, action: $action, first: 100) {
  edges { node { action outcome errorCode accountId targetType targetId actorUserId actorEmail sourceAddress requestId createdAt } } } }`;

forEachDatabase((TEST_DB) => {
  describe(`audit trail (${TEST_DB})`, () => {
    let server: TestServer;
    let f: Awaited<ReturnType<typeof twoTenants>>;
    const keys = generateLicenceKeyPair();
    before(async () => {
      const imageDir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-images-'));
      fs.writeFileSync(path.join(imageDir, 'tiny.tar.gz'), 'stand-in image');
      fs.writeFileSync(path.join(imageDir, 'spare.tar.gz'), 'another stand-in image');
      server = await startTestServer(TEST_DB, { CORRAL_IMAGE_DIR: imageDir, CORRAL_LICENCE_PUBLIC_KEY: keys.publicKey }, { gateway: new FakeGateway() });
      f = await twoTenants(server.url);
    });
    after(() => server.stop());

    test('every mutation in the schema names an audited action, and writes it', async () => {
      // Each mutation writes an event with its action; this list is the contract, checked both ways.
      const actions: Record<string, string> = {
        login: 'session.create',
        logout: 'session.delete',
        createAccount: 'account.create',
        createProject: 'project.create',
        deleteProject: 'project.delete',
        createUser: 'user.create',
        createApiToken: 'apiToken.create',
        revokeApiToken: 'apiToken.revoke',
        createCluster: 'cluster.create',
        addNode: 'node.add',
        deleteImage: 'image.delete',
        installLicence: 'licence.install',
        createContainer: 'container.create',
        startContainer: 'container.start',
        stopContainer: 'container.stop',
        restartContainer: 'container.restart',
        deleteContainer: 'container.delete',
        updateContainerResources: 'container.updateResources',
        resizeContainerDisk: 'container.resizeDisk',
        setContainerIoLimits: 'container.setIoLimits',
        setContainerNetworkLimits: 'container.setNetworkLimits',
        setContainerRootPassword: 'container.setRootPassword',
        migrateContainer: 'container.migrate',
        drainNode: 'node.drain',
        undrainNode: 'node.undrain',
        connectNode: 'node.connect',
        retryNodeSetup: 'node.setup.retry',
        createBackup: 'backup.create',
        deleteBackup: 'backup.delete',
        restoreBackup: 'backup.restore',
        restoreBackupAsNew: 'backup.restoreAsNew',
        setBackupSchedule: 'backupSchedule.set',
        removeBackupSchedule: 'backupSchedule.remove',
        cloneContainer: 'container.clone',
        createImageFromContainer: 'container.createImage',
        addNetworkInterface: 'container.addNetworkInterface',
        removeNetworkInterface: 'container.removeNetworkInterface',
        addContainerAddress: 'container.addAddress',
        removeContainerAddress: 'container.removeAddress',
        setContainerFirewall: 'container.setFirewall',
        createIpPool: 'ipPool.create',
        deleteIpPool: 'ipPool.delete',
      };
      const schema = await buildCorralSchema();
      assert.deepEqual(Object.keys(schema.getMutationType()!.getFields()).sort(), Object.keys(actions).sort());
      const seen = new Set(
        (await server.db.query(`SELECT DISTINCT action FROM audit_events`)).map((r: { action: string }) => r.action),
      );
      // twoTenants ran logins, account, user, project and token creation; run the rest here.
      const project = await createProject(f.ownerA.caller, f.customerA.id);
      await f.ownerA.caller.ok(`mutation($id: ID!) { deleteProject(id: $id) { id } }`, { id: project.id });
      await f.ownerA.caller.ok(`mutation($id: ID!) { revokeApiToken(id: $id) { id } }`, { id: f.tokenA.apiToken.id });
      const extra = await new Caller(server.url).login(f.ownerA.user.email, 'a long test password');
      await extra.ok(`mutation { logout }`);
      // The infrastructure and container mutations, against the fake gateway.
      const admin = f.admin;
      await admin.ok(`mutation($l: String!) { installLicence(licence: $l) { licensee } }`, {
        l: issueLicence({ licensee: 'Audit', maxNodes: 5, maxContainers: 5, expiresAt: '2099-01-01T00:00:00Z' }, keys.privateKey),
      });
      const clusterId = (await admin.ok(`mutation { createCluster(input: { name: "audit" }) { id } }`)).createCluster.id;
      await admin.ok(`mutation($c: ID!) { addNode(input: { clusterId: $c, name: "n1", url: "https://198.18.0.201:8443", secret: "fake-secret" }) { id } }`, { c: clusterId });
      const ipPool = (await admin.ok(`mutation($c: ID!) { createIpPool(input: { clusterId: $c, name: "audited", cidr: "198.51.100.0/28" }) { id } }`, { c: clusterId })).createIpPool;
      await admin.ok(`mutation($id: ID!) { deleteIpPool(id: $id) { id } }`, { id: ipPool.id });
      const images = (await admin.ok(`{ images { edges { node { id name } } } }`)).images.edges.map((e: any) => e.node);
      await admin.ok(`mutation($id: ID!) { deleteImage(id: $id) { id } }`, { id: images.find((i: any) => i.name === 'spare').id });
      const owner = f.ownerA.caller;
      const created = (
        await owner.ok(`mutation($i: CreateContainerInput!) { createContainer(input: $i) { id operation { id } } }`, {
          i: { projectId: f.projectA.id, name: 'audited', imageId: images.find((i: any) => i.name === 'tiny').id, cpu: 1, memoryMiB: 64, diskMiB: 128 },
        })
      ).createContainer;
      await server.services.runner.settled(created.operation.id);
      for (const [mutation, args] of [['updateContainerResources', 'input: { cpu: 2, cpuLimitPercent: 50 }'], ['resizeContainerDisk', 'diskMiB: 256'], ['setContainerIoLimits', 'input: { weight: 5, writeMbit: 80 }'], ['setContainerNetworkLimits', 'input: { weight: 5 }'], ['setContainerRootPassword', 'password: "a long root password"']]) {
        const res = await owner.ok(`mutation($id: ID!) { ${mutation}(id: $id, ${args}) { operation { id } } }`, { id: created.id });
        await server.services.runner.settled(Object.values(res as Record<string, any>)[0].operation.id);
      }
      for (const [mutation, type] of [['addNetworkInterface', 'AddNetworkInterfaceInput'], ['removeNetworkInterface', 'RemoveNetworkInterfaceInput']]) {
        const res = await owner.ok(`mutation($i: ${type}!) { ${mutation}(input: $i) { operation { id } } }`, { i: { containerId: created.id, name: 'eth1' } });
        await server.services.runner.settled(Object.values(res as Record<string, any>)[0].operation.id);
      }
      await admin.ok(`mutation($c: ID!) { createIpPool(input: { clusterId: $c, name: "addresses", cidr: "198.51.100.16/28" }) { id } }`, { c: clusterId });
      for (const [mutation, type, extra] of [['addContainerAddress', 'AddContainerAddressInput', { family: 'IPV4' }], ['removeContainerAddress', 'RemoveContainerAddressInput', { address: '198.51.100.17' }]] as const) {
        const res = await owner.ok(`mutation($i: ${type}!) { ${mutation}(input: $i) { operation { id } } }`, { i: { containerId: created.id, ...extra } });
        await server.services.runner.settled(Object.values(res as Record<string, any>)[0].operation.id);
      }
      // Clearing is allowed on a node added without SSH (setting rules there is NODE_UNAVAILABLE).
      await owner.ok(`mutation($c: ID!) { setContainerFirewall(input: { containerId: $c, tcpConnectionLimit: null, inboundPorts: null }) { id } }`, { c: created.id });
      const cloned = (await owner.ok(`mutation($i: CloneContainerInput!) { cloneContainer(input: $i) { operation { id } } }`, { i: { containerId: created.id, name: 'audited-clone' } })).cloneContainer;
      await server.services.runner.settled(cloned.operation.id);
      const imaged = (await admin.ok(`mutation($i: CreateImageFromContainerInput!) { createImageFromContainer(input: $i) { id } }`, { i: { containerId: created.id, name: 'audited-image' } })).createImageFromContainer;
      await server.services.runner.settled(imaged.id);
      // Backups: take one, schedule and unschedule, restore it as new and in place (stopped), delete it.
      const backup = (await owner.ok(`mutation($c: ID!) { createBackup(containerId: $c) { id operation { id } } }`, { c: created.id })).createBackup;
      await server.services.runner.settled(backup.operation.id);
      await owner.ok(`mutation($c: ID!) { setBackupSchedule(containerId: $c, cron: "0 3 * * *", keep: 2) { id } }`, { c: created.id });
      await owner.ok(`mutation($c: ID!) { removeBackupSchedule(containerId: $c) { id } }`, { c: created.id });
      const restoredAsNew = (await owner.ok(`mutation($id: ID!) { restoreBackupAsNew(id: $id, name: "audited-restored") { operation { id } } }`, { id: backup.id })).restoreBackupAsNew;
      await server.services.runner.settled(restoredAsNew.operation.id);
      for (const doc of [`mutation($id: ID!) { stopContainer(id: $id) { operation { id } } }`, `mutation($id: ID!) { restoreBackup(id: $id) { operation { id } } }`, `mutation($id: ID!) { deleteBackup(id: $id) { operation { id } } }`, `mutation($id: ID!) { startContainer(id: $id) { operation { id } } }`]) {
        const res = await owner.ok(doc, { id: doc.includes('Container(') ? created.id : backup.id });
        await server.services.runner.settled(Object.values(res as Record<string, any>)[0].operation.id);
      }
      const n2 = (await admin.ok(`mutation($c: ID!) { addNode(input: { clusterId: $c, name: "n2", url: "https://198.18.0.202:8443", secret: "fake-secret" }) { id } }`, { c: clusterId })).addNode.id;
      const migrated = (await admin.ok(`mutation($id: ID!, $t: ID!) { migrateContainer(id: $id, targetNodeId: $t) { operation { id } } }`, { id: created.id, t: n2 })).migrateContainer;
      await server.services.runner.settled(migrated.operation.id);
      assert.equal((await owner.ok(`query($id: ID!) { operation(id: $id) { state } }`, { id: migrated.operation.id })).operation.state, 'SUCCEEDED');
      const n1 = (await admin.ok(`{ nodes { edges { node { id name } } } }`)).nodes.edges.find((e: any) => e.node.name === 'n1').node.id;
      const drained = (await admin.ok(`mutation($id: ID!) { drainNode(id: $id) { operation { id } } }`, { id: n1 })).drainNode;
      await server.services.runner.settled(drained.operation.id);
      assert.equal((await admin.ok(`mutation($id: ID!) { undrainNode(id: $id) { status } }`, { id: n1 })).undrainNode.status, 'READY');
      // Over SSH to a loopback port where nothing listens: the setup fails at once, and is retried.
      const connected = (await admin.ok(`mutation($c: ID!) { connectNode(input: { clusterId: $c, name: "ssh", host: "127.0.0.2", port: 9, password: "audit" }) { id operation { id } } }`, { c: clusterId })).connectNode;
      await server.services.runner.settled(connected.operation.id);
      const retried = (await admin.ok(`mutation($id: ID!) { retryNodeSetup(input: { id: $id, password: "audit" }) { operation { id } } }`, { id: connected.id })).retryNodeSetup;
      await server.services.runner.settled(retried.operation.id);
      for (const mutation of ['stopContainer', 'startContainer', 'restartContainer', 'deleteContainer']) {
        const res = await owner.ok(`mutation($id: ID!) { ${mutation}(id: $id) { operation { id } } }`, { id: created.id });
        await server.services.runner.settled(Object.values(res as Record<string, any>)[0].operation.id);
      }
      for (const r of await server.db.query(`SELECT DISTINCT action FROM audit_events`)) seen.add(r.action);
      assert.deepEqual([...seen].sort(), Object.values(actions).sort());
    });

    test('a successful mutation records actor, account, action, target, outcome, source and time', async () => {
      const project = await createProject(f.ownerA.caller, f.customerA.id);
      const events = (await f.ownerA.caller.ok(EVENTS, { a: f.customerA.id, action: 'project.create' })).auditEvents.edges.map((e: any) => e.node);
      const event = events.find((e: any) => e.targetId === project.id);
      assert.ok(event, 'an event for the new project');
      assert.equal(event.outcome, 'SUCCESS');
      assert.equal(event.errorCode, null);
      assert.equal(event.accountId, f.customerA.id);
      assert.equal(event.targetType, 'project');
      assert.equal(event.actorUserId, f.ownerA.user.id);
      assert.equal(event.actorEmail, f.ownerA.user.email);
      assert.match(event.sourceAddress, /127\.0\.0\.1/);
      assert.ok(Date.now() - Date.parse(event.createdAt) < 60_000);
    });

    test('a failed mutation records its error code and leaves no trace of its effect', async () => {
      const name = unique('dup');
      await f.ownerA.caller.ok(`mutation($a: ID!, $n: String!) { createProject(input: { accountId: $a, name: $n }) { id } }`, { a: f.customerA.id, n: name });
      const dup = await f.ownerA.caller.gql(`mutation($a: ID!, $n: String!) { createProject(input: { accountId: $a, name: $n }) { id } }`, { a: f.customerA.id, n: name });
      assert.equal(codeOf(dup), 'CONFLICT');
      assert.equal(await server.db.manager.countBy(Project, { name }), 1);
      const events = (await f.ownerA.caller.ok(EVENTS, { a: f.customerA.id, action: 'project.create' })).auditEvents.edges.map((e: any) => e.node);
      assert.equal(events[0].outcome, 'FAILURE', 'newest first');
      assert.equal(events[0].errorCode, 'CONFLICT');
    });

    test('an effect and its audit event commit together: when the event cannot be written, the effect is undone', async () => {
      const name = unique('atomic');
      // Make the audit insert fail inside the transaction: a CHECK that refuses this one action's event.
      const guard = TEST_DB === 'postgres'
        ? `ALTER TABLE audit_events ADD CONSTRAINT no_project_create CHECK (action <> 'project.create' OR outcome <> 'SUCCESS') NOT VALID`
        : `CREATE TRIGGER no_project_create BEFORE INSERT ON audit_events WHEN NEW.action = 'project.create' AND NEW.outcome = 'SUCCESS' BEGIN SELECT RAISE(ABORT, 'refused'); END`;
      const unguard = TEST_DB === 'postgres' ? `ALTER TABLE audit_events DROP CONSTRAINT no_project_create` : `DROP TRIGGER no_project_create`;
      await server.db.query(guard);
      try {
        const res = await f.ownerA.caller.gql(`mutation($a: ID!, $n: String!) { createProject(input: { accountId: $a, name: $n }) { id } }`, { a: f.customerA.id, n: name });
        assert.equal(codeOf(res), 'INTERNAL_SERVER_ERROR');
        assert.equal(res.errors?.[0]?.message, 'Internal error');
      } finally {
        await server.db.query(unguard);
      }
      assert.equal(await server.db.manager.countBy(Project, { name }), 0);
    });

    test("a refused probe of another tenant's object is filed under the prober, never shown to the target", async () => {
      const probe = await f.memberB.caller.gql(`mutation($id: ID!) { deleteProject(id: $id) { id } }`, { id: f.projectA.id });
      assert.ok(['NOT_FOUND', 'FORBIDDEN'].includes(String(codeOf(probe))));
      const ownerView = (await f.ownerA.caller.ok(EVENTS, {})).auditEvents.edges.map((e: any) => e.node);
      assert.ok(ownerView.every((e: any) => e.accountId === f.customerA.id), "the owner sees only its own account's events");
      assert.ok(!ownerView.some((e: any) => e.actorUserId === f.memberB.user.id));
      const resellerView = (await f.resellerAdminB.caller.ok(EVENTS, {})).auditEvents.edges.map((e: any) => e.node);
      assert.ok(resellerView.every((e: any) => [f.resellerB.id, f.customerB.id].includes(e.accountId)));
    });

    test('failed logins are recorded against the account they tried', async () => {
      await new Caller(server.url).gql(`mutation($e: String!) { login(email: $e, password: "not it at all") { id } }`, { e: f.ownerA.user.email });
      const events = (await f.ownerA.caller.ok(EVENTS, { action: 'session.create' })).auditEvents.edges.map((e: any) => e.node);
      assert.ok(events.some((e: any) => e.outcome === 'FAILURE' && e.errorCode === 'UNAUTHENTICATED' && e.actorEmail === f.ownerA.user.email));
    });
  });

  describe(`keyset pagination (${TEST_DB})`, () => {
    let server: TestServer;
    let statements = 0;
    before(async () => {
      server = await startTestServer(TEST_DB, {}, {
        queryLogger: {
          logQuery: () => void statements++,
          logQueryError: () => undefined,
          logQuerySlow: () => undefined,
          logSchemaBuild: () => undefined,
          logMigration: () => undefined,
          log: () => undefined,
        },
      });
    });
    after(() => server.stop());

    test('pages follow each other without gaps or repeats, and a bad cursor is refused', async () => {
      const admin = await signInAsAdmin(server.url);
      const customer = await createAccount(admin, 'CUSTOMER');
      const created: string[] = [];
      for (let i = 0; i < 7; i++) created.push((await createProject(admin, customer.id)).id);
      const seen: string[] = [];
      let after: string | null = null;
      for (;;) {
        const page: any = (await admin.ok(`query($a: ID!, $after: String) { projects(accountId: $a, first: 3, after: $after) { edges { node { id } } pageInfo { endCursor hasNextPage } } }`, { a: customer.id, after }))
          .projects;
        seen.push(...page.edges.map((e: any) => e.node.id));
        if (!page.pageInfo.hasNextPage) break;
        after = page.pageInfo.endCursor;
      }
      assert.deepEqual(seen, created);
      assert.equal(codeOf(await admin.gql(`{ projects(after: "bm9wZQ") { edges { node { id } } } }`)), 'BAD_USER_INPUT');
      assert.equal(codeOf(await admin.gql(`{ projects(first: 101) { edges { node { id } } } }`)), 'BAD_USER_INPUT');
      assert.equal(codeOf(await admin.gql(`{ projects(first: 0) { edges { node { id } } } }`)), 'BAD_USER_INPUT');
    });

    test('a page of 100 with nested accounts costs a fixed, small number of SQL statements', async () => {
      const admin = await signInAsAdmin(server.url);
      const reseller = await createAccount(admin, 'RESELLER');
      const { caller: resellerAdmin } = await signInAsNewUser(admin, reseller.id, 'RESELLER_ADMIN');
      const customers = [];
      for (let i = 0; i < 5; i++) customers.push(await createAccount(resellerAdmin, 'CUSTOMER'));
      for (let i = 0; i < 100; i++) await createProject(resellerAdmin, customers[i % 5]!.id);

      statements = 0;
      const page = await resellerAdmin.ok(`{ projects(first: 100) { edges { node { id name account { id name parent { id name } } } } pageInfo { hasNextPage } } }`);
      const used = statements;
      assert.equal(page.projects.edges.length, 100);
      assert.ok(page.projects.edges.every((e: any) => e.node.account.parent.id === reseller.id));
      // Session lookup, the page, one batch of accounts, one batch of parents: never one per row.
      assert.ok(used <= 6, `a page of 100 took ${used} statements`);
      console.log(`# a page of 100 projects with accounts and parents: ${used} SQL statements`);
    });
  });
});
