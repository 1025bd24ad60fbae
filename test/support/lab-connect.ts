import fs from 'node:fs';
import path from 'node:path';
import { generateLicenceKeyPair, issueLicence } from '../../server/licences/licence-document';
import { labStatus } from '../lab/lab';
import { STATE_DIR, TRUST_PASSWORD } from '../lab/layout';
import { signInAsAdmin } from './factories';
import { startTestServer, type TestServer } from './server';

/** Lab nodes the end-to-end suites run on. */
const LAB_NODES = ['n1', 'n2'];
const LOCK = path.join(STATE_DIR, 'connect.lock');
const AUTHORIZED_KEYS = '/root/.ssh/authorized_keys';
const SETUP_TIMEOUT_MS = 15 * 60_000;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** One connectLab at a time on this machine, across test processes; a lock left by a dead process is taken over. */
async function withLock<T>(fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + SETUP_TIMEOUT_MS + 60_000;
  for (;;) {
    try {
      fs.writeFileSync(LOCK, `${process.pid}\n`, { flag: 'wx' });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    let holder: number;
    try {
      holder = Number(fs.readFileSync(LOCK, 'utf8').trim() || NaN);
    } catch {
      continue; // released in between
    }
    if (!Number.isInteger(holder) || !alive(holder)) fs.rmSync(LOCK, { force: true });
    else if (Date.now() > deadline) throw new Error(`gave up waiting for ${LOCK} (held by process ${holder})`);
    else await new Promise((resolve) => setTimeout(resolve, 500));
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(LOCK, { force: true });
  }
}

/** The lab nodes share this machine's /root/.ssh: takes a test Corral's key out of root's authorized_keys again. */
export async function forgetCorralKey(server: TestServer): Promise<void> {
  const publicKey = (await server.services.nodeSetups.identity()).publicKey;
  if (fs.existsSync(AUTHORIZED_KEYS)) fs.writeFileSync(AUTHORIZED_KEYS, fs.readFileSync(AUTHORIZED_KEYS, 'utf8').split('\n').filter((line) => line.trim() !== publicKey).join('\n'));
}

const lxdRunning = async () => {
  const status = await labStatus();
  return LAB_NODES.every((name) => status.nodes.find((n) => n.name === name)?.lxd?.running);
};

/**
 * Makes lab nodes n1 and n2 Corral nodes the way a provider would: when their LXD does not run
 * (the lab was brought up with sshd only), a Corral of its own connects both with connectNode
 * (the lab's root key; `lxdTrustPassword` the lab's, so that the suites' startLabCorral can join
 * them with addNode), waits until both are READY and stops. A no-op when LXD runs on both,
 * unless `force` (to check this path on a lab whose LXD runs: the playbook then converges).
 */
export async function connectLab(options: { force?: boolean } = {}): Promise<void> {
  if (!options.force && (await lxdRunning())) return;
  await withLock(async () => {
    if (!options.force && (await lxdRunning())) return; // another process did it meanwhile
    const status = await labStatus();
    const nodes = LAB_NODES.map((name) => status.nodes.find((n) => n.name === name && n.ssh.running));
    if (nodes.some((n) => !n)) throw new Error(`the end-to-end tests need lab nodes ${LAB_NODES.join(' and ')} with sshd: run "npm run lab -- up" (as root)`);
    const privateKey = fs.readFileSync(nodes[0]!.ssh.privateKeyPath, 'utf8');
    const licenceKeys = generateLicenceKeyPair();
    const server = await startTestServer('sqlite', { CORRAL_LICENCE_PUBLIC_KEY: licenceKeys.publicKey });
    try {
      const admin = await signInAsAdmin(server.url);
      await admin.ok(`mutation($l: String!) { installLicence(licence: $l) { licensee } }`, {
        l: issueLicence({ licensee: 'Lab setup', maxNodes: 10, maxContainers: 10, expiresAt: '2099-01-01T00:00:00Z' }, licenceKeys.privateKey),
      });
      const clusterId = (await admin.ok(`mutation { createCluster(input: { name: "lab-setup", storageDriver: BTRFS, storagePool: "default" }) { id } }`)).createCluster.id;
      const started = await Promise.all(
        nodes.map(async (node) => (await admin.ok(`mutation($i: ConnectNodeInput!) { connectNode(input: $i) { id operation { id } } }`, { i: { clusterId, name: node!.name, host: node!.address, user: node!.ssh.user, privateKey, lxdTrustPassword: TRUST_PASSWORD } })).connectNode),
      );
      for (const [i, node] of started.entries()) {
        await server.services.runner.settled(node.operation.id);
        const read = (await admin.ok(`query($id: ID!) { node(id: $id) { name status setup { step output } operation { state errorCode errorMessage } } }`, { id: node.id })).node;
        if (read.status !== 'READY') throw new Error(`setting up lab node ${nodes[i]!.name} through connectNode failed: ${JSON.stringify(read)}`);
      }
      await forgetCorralKey(server);
    } finally {
      await server.stop();
    }
    if (!(await lxdRunning())) throw new Error('lab nodes were set up through connectNode, but the lab does not see their LXD running');
  });
}
