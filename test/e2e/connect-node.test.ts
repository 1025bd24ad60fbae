import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { utils } from 'ssh2';
import { generateLicenceKeyPair, issueLicence } from '../../server/licences/licence-document';
import { NodeSetup } from '../../server/provisioning/node-setup.entity';
import type { Caller } from '../support/client';
import { codeOf } from '../support/client';
import { signInAsAdmin } from '../support/factories';
import { fingerprintOf } from '../../server/lxd/identity';
import { eventually, requireSshLab } from '../support/lab';
import { subscribe } from '../support/live';
import { startTestServer, type TestServer } from '../support/server';

const NODE = `id name url status fingerprint lastError setup { host port user hostKeyFingerprint os corralKeyInstalled step output changedTasks } operation { id action state step errorCode errorMessage }`;
const CONNECT = `mutation($i: ConnectNodeInput!, $k: String) { connectNode(input: $i, idempotencyKey: $k) { ${NODE} } }`;
const RETRY = `mutation($i: RetryNodeSetupInput!) { retryNodeSetup(input: $i) { ${NODE} } }`;
const AUTHORIZED_KEYS = '/root/.ssh/authorized_keys';
/** The first run on a node with nothing installed starts LXD and initialises its pool. */
const PLAYBOOK_MS = 10 * 60_000;

type SshNode = Awaited<ReturnType<typeof requireSshLab>>['nodes'][number];

/** bird's protocols on a lab node, asked over its control socket inside the node's namespace. */
const birdProtocols = (node: SshNode) => execFileSync('ip', ['netns', 'exec', node.namespace, 'birdc', '-s', `/var/lib/corral-lab/${node.name}/run/bird/bird.ctl`, 'show', 'protocols'], { encoding: 'utf8', timeout: 10_000 });

/**
 * connectNode over SSH and Ansible against real lab nodes (their own sshd in their own network
 * namespaces; LXD and bird2 installed and started by the node playbook when they are not there).
 */
describe('connectNode over SSH and Ansible on real lab nodes', () => {
  let server: TestServer;
  let admin: Caller;
  let clusterId: string;
  let n1: SshNode;
  let n2: SshNode;
  let labKey: string;
  let n1Id: string;
  let corralPublicKey: string | undefined;

  before(async () => {
    const lab = await requireSshLab();
    n1 = lab.nodes.find((n) => n.name === 'n1')!;
    n2 = lab.nodes.find((n) => n.name === 'n2')!;
    assert.ok(n1 && n2, 'lab nodes n1 and n2');
    labKey = fs.readFileSync(n1.ssh.privateKeyPath, 'utf8');
    const licenceKeys = generateLicenceKeyPair();
    server = await startTestServer('sqlite', { CORRAL_LICENCE_PUBLIC_KEY: licenceKeys.publicKey, CORRAL_HEALTH_SECONDS: '2' });
    admin = await signInAsAdmin(server.url);
    await admin.ok(`mutation($l: String!) { installLicence(licence: $l) { licensee } }`, {
      l: issueLicence({ licensee: 'Lab', maxNodes: 10, maxContainers: 10, expiresAt: '2099-01-01T00:00:00Z' }, licenceKeys.privateKey),
    });
    clusterId = (await admin.ok(`mutation { createCluster(input: { name: "ssh-lab", storageDriver: BTRFS, storagePool: "default" }) { id } }`)).createCluster.id;
  });
  after(async () => {
    // The lab nodes share this machine's /root/.ssh: take this run's key out again.
    if (corralPublicKey && fs.existsSync(AUTHORIZED_KEYS)) {
      const kept = fs.readFileSync(AUTHORIZED_KEYS, 'utf8').split('\n').filter((line) => line.trim() !== corralPublicKey);
      fs.writeFileSync(AUTHORIZED_KEYS, kept.join('\n'));
    }
    await server?.stop();
  });

  const read = async (id: string) => (await admin.ok(`query($id: ID!) { node(id: $id) { ${NODE} } }`, { id })).node;
  const settled = (id: string, operationId: string, ms = PLAYBOOK_MS) =>
    eventually(`node.setup ${operationId} to finish`, async () => {
      const node = await read(id);
      return node.operation?.id === operationId && ['SUCCEEDED', 'FAILED'].includes(node.operation.state) ? node : null;
    }, ms);

  test('a wrong key fails with SSH_AUTH_FAILED and leaves the node FAILED at the connect step; a retry with the right key runs the playbook, task by task, and makes it READY, pinned, checked and keyed', async () => {
    const wrongKey = utils.generateKeyPairSync('ed25519').private;
    const started = await admin.gql(CONNECT, { i: { clusterId, name: 'n1', host: n1.address, privateKey: wrongKey } });
    assert.equal(started.errors, undefined, JSON.stringify(started.errors));
    const first = started.data!.connectNode;
    assert.equal(first.status, 'SETTING_UP');
    const failed = await settled(first.id, first.operation.id);
    assert.equal(failed.operation.state, 'FAILED');
    assert.equal(failed.operation.errorCode, 'SSH_AUTH_FAILED', JSON.stringify(failed.operation));
    assert.equal(failed.status, 'FAILED');
    assert.match(failed.setup.step, /^connecting to root@198\.18\.0\.11:22/);
    assert.match(failed.setup.output, /refused the credentials/);
    assert.equal(failed.setup.corralKeyInstalled, false);
    assert.equal(failed.setup.hostKeyFingerprint, null, 'no host key is pinned before authentication succeeded');

    // A second connectNode of the same host is refused: the FAILED node is continued with retryNodeSetup.
    const again = await admin.gql(CONNECT, { i: { clusterId, name: 'n1-again', host: n1.address, privateKey: labKey } });
    assert.equal(codeOf(again), 'CONFLICT');

    const retried = (await admin.ok(RETRY, { i: { id: first.id, privateKey: labKey, lxdTrustPassword: 'corral-lab' } })).retryNodeSetup;
    assert.equal(retried.status, 'SETTING_UP');
    // The playbook's tasks arrive live as the setup's steps.
    const live = subscribe(admin.ws(), { query: `subscription($n: ID!) { nodeSetupProgress(nodeId: $n) { id state progress step } }`, variables: { n: first.id } });
    const ready = await settled(first.id, retried.operation.id);
    assert.equal(ready.operation.state, 'SUCCEEDED', JSON.stringify(ready.operation));
    assert.equal(ready.status, 'READY');
    assert.equal(ready.url, 'https://198.18.0.11:8443');
    assert.equal(typeof ready.setup.changedTasks, 'number');
    await live.end(30_000);
    const events = live.events.map((e) => e.nodeSetupProgress).filter((e) => e.id === retried.operation.id);
    await live.close();
    const tasks = events.map((e) => e.step).filter((step: string) => /^corral_node : /.test(step));
    assert.ok(new Set(tasks).size >= 3, `the playbook's tasks were the setup's steps: ${JSON.stringify(events.map((e) => e.step))}`);
    assert.ok(events.every((e, i) => i === 0 || e.progress >= events[i - 1].progress), 'progress only rises');

    // LXD is pinned to the certificate on the node, read over SSH.
    assert.equal(ready.fingerprint, fingerprintOf(fs.readFileSync('/var/lib/corral-lab/n1/lxd/server.crt', 'utf8')));
    n1Id = first.id;

    // The pinned host key is the one the node's sshd serves.
    const expected = execFileSync('ssh-keygen', ['-lf', `/var/lib/corral-lab/${n1.name}/ssh_host_ed25519_key.pub`], { encoding: 'utf8' }).split(' ')[1];
    assert.equal(ready.setup.hostKeyFingerprint, expected);
    assert.equal(ready.setup.os, 'Debian GNU/Linux 12 (bookworm)');
    assert.equal(ready.setup.corralKeyInstalled, true);

    // Corral's own public key is in root's authorized_keys on the node, once.
    corralPublicKey = (await server.services.nodeSetups.identity()).publicKey;
    const lines = fs.readFileSync(AUTHORIZED_KEYS, 'utf8').split('\n').map((l) => l.trim());
    assert.equal(lines.filter((l) => l === corralPublicKey).length, 1);

    // The node takes part like any other: LXD answers through the pinned certificate.
    const stats = await admin.ok(`query($id: ID!) { node(id: $id) { cpuThreads memoryBytes } }`, { id: first.id });
    assert.ok(stats.node.cpuThreads > 0);
  });

  test('a second node connected with the lab key is READY, and the two nodes\' bird have each other as an Established iBGP peer', async () => {
    const started = (await admin.ok(CONNECT, { i: { clusterId, name: 'n2', host: n2.address, privateKey: labKey, lxdTrustPassword: 'corral-lab' } })).connectNode;
    const ready = await settled(started.id, started.operation.id);
    assert.equal(ready.operation.state, 'SUCCEEDED', JSON.stringify(ready.operation));
    assert.equal(ready.status, 'READY');
    assert.equal(ready.setup.os, 'Debian GNU/Linux 12 (bookworm)');

    // Corral wrote each node's peers file with the other one, and bird took it.
    assert.match(fs.readFileSync('/var/lib/corral-lab/n1/etc/bird/corral-peers.conf', 'utf8'), /^protocol bgp peer_198_18_0_12 from corral_peer \{ neighbor 198\.18\.0\.12 as 65000; \}$/m);
    assert.match(fs.readFileSync('/var/lib/corral-lab/n2/etc/bird/corral-peers.conf', 'utf8'), /^protocol bgp peer_198_18_0_11 from corral_peer \{ neighbor 198\.18\.0\.11 as 65000; \}$/m);
    await eventually('n1 and n2 to be Established iBGP peers', async () => /^peer_198_18_0_12\s+BGP\s.*\bEstablished\b/m.test(birdProtocols(n1)) && /^peer_198_18_0_11\s+BGP\s.*\bEstablished\b/m.test(birdProtocols(n2)), 60_000);
  });

  test('a second run of the playbook (retryNodeSetup on a READY node) changes nothing and the node stays READY', async () => {
    const retried = (await admin.ok(RETRY, { i: { id: n1Id } })).retryNodeSetup;
    assert.equal(retried.status, 'READY');
    const again = await settled(n1Id, retried.operation.id);
    assert.equal(again.operation.state, 'SUCCEEDED', JSON.stringify(again.operation));
    assert.equal(again.status, 'READY');
    assert.equal(again.setup.changedTasks, 0, 'PLAY RECAP changed=0');
    assert.equal(again.setup.step, 'ready');
  });

  test('an unreachable address fails quickly with NODE_UNREACHABLE', async () => {
    const t0 = Date.now();
    const started = (await admin.ok(CONNECT, { i: { clusterId, name: 'nowhere', host: '198.18.0.250', password: 'whatever' } })).connectNode;
    const failed = await settled(started.id, started.operation.id, 30_000);
    assert.equal(failed.operation.errorCode, 'NODE_UNREACHABLE', JSON.stringify(failed.operation));
    assert.equal(failed.status, 'FAILED');
    assert.ok(Date.now() - t0 < 15_000, `took ${Date.now() - t0} ms`);
  });

  test('a changed host key is refused with SSH_HOST_KEY_MISMATCH before authenticating', async () => {
    const node = (await admin.ok(`{ nodes { edges { node { id name status } } } }`)).nodes.edges.map((e: any) => e.node).find((n: any) => n.name === 'n1');
    assert.ok(node, 'the node of the first test');
    // As if the node's host key had been replaced since it was pinned; the node is then put back to SSH_READY to retry.
    await server.db.manager.update(NodeSetup, { nodeId: node.id }, { hostKeyFingerprint: 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' });
    await server.db.query(`UPDATE nodes SET status = 'SSH_READY' WHERE id = ?`, [node.id]);
    const retried = (await admin.ok(RETRY, { i: { id: node.id } })).retryNodeSetup;
    const failed = await settled(node.id, retried.operation.id);
    assert.equal(failed.operation.errorCode, 'SSH_HOST_KEY_MISMATCH', JSON.stringify(failed.operation));
    assert.equal(failed.status, 'FAILED');
    assert.equal(failed.setup.hostKeyFingerprint, 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'the pin is not replaced by what the node presented');
  });
});
