import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CorralError, ErrorCode } from '../../server/app/errors';
import { Node } from '../../server/nodes/node.entity';
import { NodeSetup } from '../../server/provisioning/node-setup.entity';
import { generateLicenceKeyPair, issueLicence } from '../../server/licences/licence-document';
import { generateClientIdentity } from '../../server/lxd/identity';
import { PlaybookFailedError, type PlaybookRequest, type PlaybookResult, type PlaybookRunner } from '../../server/provisioning/ansible-runner';
import { READ_SERVER_CERTIFICATE } from '../../server/provisioning/node-setup.operations';
import type { ExecResult, SshSession, SshTarget, SshTransport } from '../../server/provisioning/ssh-transport';
import { Ssh2Transport } from '../../server/provisioning/ssh-transport';
import { codeOf, type Caller } from '../support/client';
import { twoTenants } from '../support/factories';
import { subscribe } from '../support/live';
import { FakeGateway } from '../support/fake-gateway';
import { forEachDatabase, startTestServer, type TestServer } from '../support/server';

/** A node over a fake SSH: a host key, a password, an os-release and an authorized_keys file. */
class FakeSsh implements SshTransport {
  hostKey = 'SHA256:fakehostkeyfakehostkeyfakehostkeyfakehostke';
  password = 'right password';
  osRelease = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n';
  authorizedKeys: string[] = [];
  corralKey: string | null = null;
  opened: SshTarget[] = [];
  /** While set, reading /etc/os-release waits for it: a setup held half-way. */
  hold: Promise<void> | null = null;
  /** LXD's server certificate as the playbook leaves it on the node. */
  serverCertificate = '';
  /** The BGP peers files written, by host. */
  peers = new Map<string, string>();

  async open(target: SshTarget): Promise<SshSession> {
    this.opened.push(target);
    if (target.host === 'unreachable.test') throw new CorralError(ErrorCode.NODE_UNREACHABLE, 'no route');
    if (target.hostKey !== null && target.hostKey !== this.hostKey) throw new CorralError(ErrorCode.SSH_HOST_KEY_MISMATCH, 'host key changed');
    const byKey = target.privateKey !== undefined && target.privateKey === this.corralKey && this.authorizedKeys.length > 0;
    if (target.password !== this.password && !byKey) throw new CorralError(ErrorCode.SSH_AUTH_FAILED, 'refused the credentials');
    return {
      hostKey: this.hostKey,
      hostKeyLine: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeFakeFakeFakeFakeFakeFakeFakeFakeFakeFake',
      exec: async (command: string): Promise<ExecResult> => {
        if (command === READ_SERVER_CERTIFICATE) return { code: 0, stdout: this.serverCertificate, stderr: '' };
        if (command.includes('birdc')) {
          this.peers.set(target.host, /<<'CORRAL_EOF'\n([\s\S]*?)CORRAL_EOF/.exec(command)?.[1] ?? '');
          return { code: 0, stdout: 'BIRD 2.0.12 ready.\nReconfigured\n', stderr: '' };
        }
        if (command === 'cat /etc/os-release') {
          await this.hold;
          return { code: 0, stdout: this.osRelease, stderr: '' };
        }
        const key = /printf '%s\\n' '([^']+)'/.exec(command)?.[1];
        if (key) {
          if (!this.authorizedKeys.includes(key)) this.authorizedKeys.push(key);
          return { code: 0, stdout: '', stderr: '' };
        }
        return { code: 127, stdout: '', stderr: `unexpected command ${command}` };
      },
      close() {},
    };
  }
}

/** The node playbook as a script: its tasks, and a task that fails while `failAt` names it. */
class FakePlaybook implements PlaybookRunner {
  tasks = ['Gathering Facts', 'corral_node : Install nftables before LXD', 'corral_node : Initialise LXD', 'corral_node : Trust the Corral client certificate'];
  failAt: string | null = null;
  runs: PlaybookRequest[] = [];
  private converged = new Set<string>();

  async run(request: PlaybookRequest, onTask: (name: string, index: number) => Promise<void> | void): Promise<PlaybookResult> {
    this.runs.push(request);
    for (const [i, task] of this.tasks.entries()) {
      await onTask(task, i + 1);
      if (task === this.failAt) throw new PlaybookFailedError(task, `${task}: non-zero return code\nPLAY RECAP: ${request.host} : ok=${i} changed=1 unreachable=0 failed=1`, `${task}: non-zero return code\nPLAY RECAP: ${request.host} : ok=${i} changed=1 unreachable=0 failed=1\n\n(output)`);
    }
    const changed = this.converged.has(request.host) ? 0 : 3;
    this.converged.add(request.host);
    return { changed, recap: null, tail: '' };
  }
}

const NODE = `id name status url lastError setup { host port user hostKeyFingerprint os corralKeyInstalled step output changedTasks } operation { id action state step errorCode errorMessage }`;
const CONNECT = `mutation($i: ConnectNodeInput!, $k: String) { connectNode(input: $i, idempotencyKey: $k) { ${NODE} } }`;
const RETRY = `mutation($i: RetryNodeSetupInput!) { retryNodeSetup(input: $i) { ${NODE} } }`;

forEachDatabase((TEST_DB) => {
  describe(`connectNode (${TEST_DB})`, () => {
    let server: TestServer;
    let admin: Caller;
    let f: Awaited<ReturnType<typeof twoTenants>>;
    let clusterId: string;
    let ssh: FakeSsh;
    let playbook: FakePlaybook;
    const keys = generateLicenceKeyPair();

    before(async () => {
      server = await startTestServer(TEST_DB, { CORRAL_LICENCE_PUBLIC_KEY: keys.publicKey }, { gateway: new FakeGateway() });
      f = await twoTenants(server.url);
      admin = f.admin;
      await admin.ok(`mutation($l: String!) { installLicence(licence: $l) { licensee } }`, {
        l: issueLicence({ licensee: 'Ssh', maxNodes: 20, maxContainers: 5, expiresAt: '2099-01-01T00:00:00Z' }, keys.privateKey),
      });
      clusterId = (await admin.ok(`mutation { createCluster(input: { name: "ssh" }) { id } }`)).createCluster.id;
      ssh = new FakeSsh();
      ssh.corralKey = (await server.services.nodeSetups.identity()).privateKey;
      ssh.serverCertificate = (await generateClientIdentity('fake-lxd-node')).certificate;
      server.services.nodeSetups.transport = ssh;
      playbook = new FakePlaybook();
      server.services.nodeSetups.playbook = playbook;
    });
    after(() => server?.stop());

    const read = async (id: string) => (await admin.ok(`query($id: ID!) { node(id: $id) { ${NODE} } }`, { id })).node;
    const settle = async (node: any) => {
      await server.services.runner.settled(node.operation.id);
      return read(node.id);
    };
    const count = () => server.db.manager.count(Node);

    test('bad input is refused before anything is recorded', async () => {
      const before = await count();
      const base = { clusterId, name: 'bad', host: '198.18.0.99', password: 'x' };
      const cases: [Record<string, unknown>, string][] = [
        [{ ...base, password: undefined }, 'BAD_USER_INPUT'],
        [{ ...base, privateKey: 'key' }, 'BAD_USER_INPUT'],
        [{ ...base, host: 'bad host;rm' }, 'BAD_USER_INPUT'],
        [{ ...base, port: 70000 }, 'BAD_USER_INPUT'],
        [{ ...base, user: 'Root User' }, 'BAD_USER_INPUT'],
        [{ ...base, name: 'Bad_Name' }, 'BAD_USER_INPUT'],
        [{ ...base, clusterId: '0190f5b2-0000-7000-8000-000000000000' }, 'NOT_FOUND'],
      ];
      for (const [input, code] of cases) assert.equal(codeOf(await admin.gql(CONNECT, { i: input })), code, JSON.stringify(input));
      // Tenants are refused by role.
      assert.equal(codeOf(await f.ownerA.caller.gql(CONNECT, { i: base })), 'FORBIDDEN');
      assert.equal(await count(), before);
      assert.equal(await server.db.manager.count(NodeSetup), 0);
    });

    test('a password connects: host key pinned, OS recorded, Corral key installed once, the playbook run with the pinned key and the cluster\'s settings, LXD pinned through the certificate read over SSH; the node is READY and a second run changes nothing', async () => {
      const started = (await admin.ok(CONNECT, { i: { clusterId, name: 'node-a', host: '198.18.0.101', password: ssh.password, lxdTrustPassword: 'lxd-secret' } })).connectNode;
      assert.equal(started.status, 'SETTING_UP');
      assert.equal(started.url, 'https://198.18.0.101:8443');
      const ready = await settle(started);
      assert.equal(ready.operation.state, 'SUCCEEDED', JSON.stringify(ready.operation));
      assert.equal(ready.status, 'READY');
      assert.deepEqual({ ...ready.setup }, { host: '198.18.0.101', port: 22, user: 'root', hostKeyFingerprint: ssh.hostKey, os: 'Debian GNU/Linux 12 (bookworm)', corralKeyInstalled: true, step: 'ready', output: null, changedTasks: 3 });
      assert.equal(ssh.authorizedKeys.length, 1);
      assert.equal(ssh.authorizedKeys[0], (await server.services.nodeSetups.identity()).publicKey);

      // The playbook ran with Corral's key, the host key the SSH session verified, and the cluster's settings.
      const run = playbook.runs.at(-1)!;
      assert.equal(run.privateKey, (await server.services.nodeSetups.identity()).privateKey);
      assert.match(run.hostKeyLine, /^ssh-ed25519 /);
      assert.deepEqual({ ...run.vars, corral_client_certificate: undefined }, {
        corral_node_address: '198.18.0.101',
        corral_storage_pool: 'default',
        corral_storage_driver: 'btrfs',
        corral_client_certificate: undefined,
        corral_lxd_trust_password: 'lxd-secret',
        corral_fabric_asn: 65000,
      });
      assert.equal(run.vars.corral_client_certificate, await server.services.nodes.clientCertificate());

      // LXD is pinned to the certificate read over SSH.
      const row = await server.db.manager.findOneByOrFail(Node, { id: started.id });
      assert.equal(row.serverCertificate.trim(), ssh.serverCertificate.trim());
      assert.match(row.fingerprint, /^[0-9a-f]{64}$/);

      // The password and the trust password are nowhere in the database.
      for (const table of ['nodes', 'node_setups', 'operations', 'audit_events']) {
        const rows = JSON.stringify(await server.db.query(`SELECT * FROM ${table}`));
        assert.ok(!rows.includes(ssh.password) && !rows.includes('lxd-secret'), table);
      }

      // A second run (retryNodeSetup on a READY node) uses only Corral's key and the pin, changes nothing, and the node stays READY throughout.
      ssh.opened = [];
      const retried = (await admin.ok(RETRY, { i: { id: started.id } })).retryNodeSetup;
      assert.equal(retried.status, 'READY');
      const again = await settle(retried);
      assert.equal(again.operation.state, 'SUCCEEDED', JSON.stringify(again.operation));
      assert.equal(again.status, 'READY');
      assert.equal(again.setup.changedTasks, 0);
      assert.equal(playbook.runs.at(-1)!.vars.corral_lxd_trust_password, '', 'the trust password was not kept');
      assert.ok(ssh.opened.every((t) => t.password === undefined && t.hostKey === ssh.hostKey), 'only Corral\'s key, and the pinned host key');
      assert.equal(ssh.authorizedKeys.length, 1, 'the key is not installed twice');
    });

    test('a failing playbook task leaves the node FAILED with NODE_SETUP_FAILED, the task as its step and the message with the recap as its output; a retry runs it again and the node is READY', async () => {
      playbook.failAt = 'corral_node : Initialise LXD';
      try {
        const failed = await settle((await admin.ok(CONNECT, { i: { clusterId, name: 'node-playbook', host: '198.18.0.107', password: ssh.password } })).connectNode);
        assert.equal(failed.operation.errorCode, 'NODE_SETUP_FAILED', JSON.stringify(failed.operation));
        assert.equal(failed.status, 'FAILED');
        assert.equal(failed.setup.step, 'corral_node : Initialise LXD');
        assert.match(failed.setup.output, /non-zero return code\nPLAY RECAP: 198\.18\.0\.107 : ok=2 changed=1 unreachable=0 failed=1/);
        assert.equal(failed.setup.corralKeyInstalled, true, 'the SSH steps before it are kept');
        assert.equal(failed.setup.changedTasks, null);
        playbook.failAt = null;
        const ready = await settle((await admin.ok(RETRY, { i: { id: failed.id } })).retryNodeSetup);
        assert.equal(ready.status, 'READY', JSON.stringify(ready.operation));
        assert.equal(ready.setup.output, null);
      } finally {
        playbook.failAt = null;
      }
    });

    test('when a node is READY the BGP peers file of every READY node of the cluster connected over SSH lists the others, with the cluster\'s AS number', async () => {
      const fabricCluster = (await admin.ok(`mutation { createCluster(input: { name: "fabric", fabricAsn: 4200000001 }) { id fabricAsn } }`)).createCluster;
      assert.equal(fabricCluster.fabricAsn, 4200000001);
      assert.equal(codeOf(await admin.gql(`mutation { createCluster(input: { name: "bad-asn", fabricAsn: 4294967295 }) { id } }`)), 'BAD_USER_INPUT');
      assert.equal(codeOf(await admin.gql(`mutation { createCluster(input: { name: "bad-asn", fabricAsn: 0 }) { id } }`)), 'BAD_USER_INPUT');
      await settle((await admin.ok(CONNECT, { i: { clusterId: fabricCluster.id, name: 'fab-1', host: '198.18.0.131', password: ssh.password } })).connectNode);
      assert.equal(ssh.peers.get('198.18.0.131')!.split('\n').filter((l) => l.startsWith('protocol')).length, 0, 'alone in its cluster, no peers');
      // A node added with addNode is no peer: Corral does not manage its bird.
      await admin.ok(`mutation($c: ID!) { addNode(input: { clusterId: $c, name: "fab-plain", url: "https://198.18.0.139:8443", secret: "fake-secret" }) { id } }`, { c: fabricCluster.id });
      await settle((await admin.ok(CONNECT, { i: { clusterId: fabricCluster.id, name: 'fab-2', host: '198.18.0.132', password: ssh.password } })).connectNode);
      assert.match(ssh.peers.get('198.18.0.131')!, /^protocol bgp peer_198_18_0_132 from corral_peer \{ neighbor 198\.18\.0\.132 as 4200000001; \}$/m);
      assert.match(ssh.peers.get('198.18.0.132')!, /^protocol bgp peer_198_18_0_131 from corral_peer \{ neighbor 198\.18\.0\.131 as 4200000001; \}$/m);
      for (const file of ssh.peers.values()) assert.ok(!file.includes('198.18.0.139'));
    });

    test('nodeSetupProgress streams the setup’s steps live to provider admins and completes when it ends; tenants are refused', async () => {
      let release!: () => void;
      ssh.hold = new Promise<void>((resolve) => (release = resolve));
      try {
        const started = (await admin.ok(CONNECT, { i: { clusterId, name: 'node-live', host: '198.18.0.110', password: ssh.password } })).connectNode;
        const query = `subscription($n: ID!) { nodeSetupProgress(nodeId: $n) { id action state progress step } }`;
        const refused = subscribe(f.ownerA.caller.ws(), { query, variables: { n: started.id } });
        assert.ok(['FORBIDDEN', 'NOT_FOUND'].includes(String((await refused.end()).errors?.[0]?.extensions?.code)), JSON.stringify(refused.ended));
        const live = subscribe(admin.ws(), { query, variables: { n: started.id } });
        const first = await live.until('the setup as it is now', (e) => e.nodeSetupProgress?.state === 'RUNNING');
        assert.equal(first.nodeSetupProgress.id, started.operation.id);
        assert.equal(first.nodeSetupProgress.action, 'node.setup');
        release();
        assert.deepEqual(await live.end(), { complete: true });
        const events = live.events.map((e) => e.nodeSetupProgress);
        assert.equal(events.at(-1).state, 'SUCCEEDED', JSON.stringify(events));
        assert.ok(new Set(events.map((e) => e.step)).size >= 3, `several steps arrive one by one: ${JSON.stringify(events)}`);
        assert.ok(events.every((e, i) => i === 0 || e.progress >= events[i - 1].progress), 'progress only rises');
        await live.close();
        await refused.close();
      } finally {
        release?.();
        ssh.hold = null;
      }
    });

    test('an unsupported OS leaves the node FAILED at the OS step, naming what was found; nothing is installed', async () => {
      ssh.osRelease = 'PRETTY_NAME="Ubuntu 18.04.6 LTS"\nID=ubuntu\nVERSION_ID="18.04"\n';
      ssh.authorizedKeys = [];
      try {
        const started = (await admin.ok(CONNECT, { i: { clusterId, name: 'node-old', host: '198.18.0.102', password: ssh.password } })).connectNode;
        const failed = await settle(started);
        assert.equal(failed.operation.errorCode, 'UNSUPPORTED_OS');
        assert.equal(failed.status, 'FAILED');
        assert.match(failed.setup.step, /detecting the OS/);
        assert.match(failed.setup.output, /Ubuntu 18\.04\.6 LTS/);
        assert.equal(failed.setup.os, 'Ubuntu 18.04.6 LTS');
        assert.equal(failed.setup.corralKeyInstalled, false);
        assert.deepEqual(ssh.authorizedKeys, []);
        // A retry needs the credentials again (they were not kept), and picks up from there.
        assert.equal(codeOf(await admin.gql(RETRY, { i: { id: started.id } })), 'BAD_USER_INPUT');
        ssh.osRelease = 'PRETTY_NAME="Ubuntu 22.04.4 LTS"\nID=ubuntu\nVERSION_ID="22.04"\n';
        const retried = await settle((await admin.ok(RETRY, { i: { id: started.id, password: ssh.password } })).retryNodeSetup);
        assert.equal(retried.status, 'READY', JSON.stringify(retried.operation));
        assert.equal(retried.setup.os, 'Ubuntu 22.04.4 LTS');
      } finally {
        ssh.osRelease = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n';
      }
    });

    test('wrong credentials, an unreachable host and a changed host key each fail with their code and leave the node FAILED with the step', async () => {
      const wrong = await settle((await admin.ok(CONNECT, { i: { clusterId, name: 'node-wrong', host: '198.18.0.103', password: 'not it' } })).connectNode);
      assert.equal(wrong.operation.errorCode, 'SSH_AUTH_FAILED');
      assert.equal(wrong.status, 'FAILED');
      assert.match(wrong.setup.step, /^connecting to root@198\.18\.0\.103:22/);
      assert.equal(wrong.setup.hostKeyFingerprint, null);
      // A node that is not set up takes no containers and cannot be drained (nor put in service by undrain).
      assert.equal(codeOf(await admin.gql(`mutation($id: ID!) { drainNode(id: $id) { id } }`, { id: wrong.id })), 'NODE_UNAVAILABLE');
      assert.equal((await admin.ok(`mutation($id: ID!) { undrainNode(id: $id) { status } }`, { id: wrong.id })).undrainNode.status, 'FAILED');

      const away = await settle((await admin.ok(CONNECT, { i: { clusterId, name: 'node-away', host: 'unreachable.test', password: ssh.password } })).connectNode);
      assert.equal(away.operation.errorCode, 'NODE_UNREACHABLE');
      assert.equal(away.status, 'FAILED');

      const pinned = await settle((await admin.ok(CONNECT, { i: { clusterId, name: 'node-pinned', host: '198.18.0.104', password: ssh.password } })).connectNode);
      assert.equal(pinned.status, 'READY');
      const original = ssh.hostKey;
      ssh.hostKey = 'SHA256:anotherhostkeyanotherhostkeyanotherhostkeyan';
      try {
        const changed = await settle((await admin.ok(RETRY, { i: { id: pinned.id } })).retryNodeSetup);
        assert.equal(changed.operation.errorCode, 'SSH_HOST_KEY_MISMATCH');
        assert.equal(changed.status, 'FAILED');
        assert.equal(changed.setup.hostKeyFingerprint, original, 'the pin stays');
      } finally {
        ssh.hostKey = original;
      }
    });

    test('the same host twice is a CONFLICT; the same idempotency key returns the first node; a node joined with addNode has no setup to retry', async () => {
      const first = (await admin.ok(CONNECT, { i: { clusterId, name: 'node-once', host: '198.18.0.105', password: ssh.password }, k: 'connect-once' })).connectNode;
      await settle(first);
      const replay = (await admin.ok(CONNECT, { i: { clusterId, name: 'node-once', host: '198.18.0.105', password: ssh.password }, k: 'connect-once' })).connectNode;
      assert.equal(replay.id, first.id);
      assert.equal(codeOf(await admin.gql(CONNECT, { i: { clusterId, name: 'node-twice', host: '198.18.0.105', password: ssh.password } })), 'CONFLICT');
      assert.equal(codeOf(await admin.gql(CONNECT, { i: { clusterId, name: 'node-once', host: '198.18.0.106', password: ssh.password } })), 'CONFLICT');
      const added = (await admin.ok(`mutation($c: ID!) { addNode(input: { clusterId: $c, name: "plain", url: "https://198.18.0.120:8443", secret: "fake-secret" }) { id } }`, { c: clusterId })).addNode;
      assert.equal(codeOf(await admin.gql(RETRY, { i: { id: added.id, password: 'x' } })), 'BAD_USER_INPUT');
      assert.equal(codeOf(await admin.gql(RETRY, { i: { id: '0190f5b2-0000-7000-8000-000000000000' } })), 'NOT_FOUND');
    });

    test('the real ssh2 transport maps a refused connection to NODE_UNREACHABLE within its bound', async () => {
      const t0 = Date.now();
      await assert.rejects(new Ssh2Transport().open({ host: '127.0.0.1', port: 9, user: 'root', password: 'x', hostKey: null, timeoutMs: 2_000 }), (e: unknown) => e instanceof CorralError && e.code === 'NODE_UNREACHABLE');
      assert.ok(Date.now() - t0 < 3_500);
    });
  });
});
