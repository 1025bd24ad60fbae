import fs from 'node:fs';
import net from 'node:net';
import { run, waitUntil } from './exec';
import { AUTHORIZED_KEYS, SSH_DIR, SSH_KEY, SSH_PORT, ensureDir, type NodeLayout } from './layout';
import { inNode } from './net';
import { pidFromFile, terminate } from './proc';

/** The lab's client key pair, authorised on every node. */
export async function ensureLabKey(): Promise<void> {
  ensureDir(SSH_DIR, 0o700);
  if (!fs.existsSync(SSH_KEY)) {
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'corral-lab', '-f', SSH_KEY]);
  }
  const pub = fs.readFileSync(`${SSH_KEY}.pub`, 'utf8');
  if (!fs.existsSync(AUTHORIZED_KEYS) || fs.readFileSync(AUTHORIZED_KEYS, 'utf8') !== pub) {
    fs.writeFileSync(AUTHORIZED_KEYS, pub, { mode: 0o600 });
  }
}

/**
 * Each node's own sshd configuration. The lab file is authorised first; ~/.ssh/authorized_keys
 * as well, because Corral's node setup installs its own key there (the nodes share this
 * machine's filesystem, so a key installed through one node opens them all). No PAM: there is
 * no systemd/logind here and root logs in with keys only.
 * SetEnv gives every session the node's own paths: the nodes share one filesystem, so the node
 * playbook (ansible/) and Corral's SSH commands prefix what they write with CORRAL_NODE_ROOT
 * and talk to the node's LXD through LXD_DIR.
 */
function sshdConfig(node: NodeLayout): string {
  return [
    `ListenAddress ${node.address}:${SSH_PORT}`,
    `HostKey ${node.hostKey}`,
    `PidFile ${node.sshdPidFile}`,
    'PermitRootLogin prohibit-password',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    `AuthorizedKeysFile ${AUTHORIZED_KEYS} .ssh/authorized_keys`,
    'PrintMotd no',
    'AcceptEnv LANG LC_*',
    `SetEnv CORRAL_NODE_ROOT=${node.nodeRoot} LXD_DIR=${node.lxdDir}`,
    'Subsystem sftp /usr/lib/openssh/sftp-server',
    '',
  ].join('\n');
}

export function sshdPid(node: NodeLayout): number | null {
  return pidFromFile(node.sshdPidFile, node.sshdConfig);
}

function portOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port, timeout: 1_000 });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
}

/** Starts the node's sshd unless it runs already; resolves once it accepts connections. */
export async function ensureSshd(node: NodeLayout): Promise<void> {
  if (!fs.existsSync(node.hostKey)) {
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `corral-lab-${node.name}`, '-f', node.hostKey]);
  }
  const config = sshdConfig(node);
  const configChanged = !fs.existsSync(node.sshdConfig) || fs.readFileSync(node.sshdConfig, 'utf8') !== config;
  if (configChanged) fs.writeFileSync(node.sshdConfig, config);
  const running = sshdPid(node);
  if (running !== null && !configChanged) return;
  if (running !== null) await terminate([running], `sshd of ${node.name}`);
  // sshd's privilege separation directory; Debian's init script normally makes it.
  fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  await run('/usr/sbin/sshd', ['-t', '-f', node.sshdConfig]);
  const [cmd, ...args] = inNode(node, ['/usr/sbin/sshd', '-f', node.sshdConfig]);
  // sshd forks into the background itself; this returns once the parent has exited.
  await run(cmd, args, { timeoutMs: 20_000, label: `sshd in ${node.namespace}` });
  await waitUntil(`sshd of ${node.name} to accept connections on ${node.address}:${SSH_PORT}`, 10_000, async () => sshdPid(node) !== null && (await portOpen(node.address, SSH_PORT)));
}

export async function stopSshd(node: NodeLayout): Promise<void> {
  const pid = sshdPid(node);
  if (pid !== null) await terminate([pid], `sshd of ${node.name}`);
}
