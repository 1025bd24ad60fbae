import fs from 'node:fs';
import path from 'node:path';
import { run, waitUntil } from './exec';
import { ensureBusyboxImage } from './images';
import {
  BRIDGE,
  BUSYBOX_IMAGE,
  DEBIAN_IMAGE,
  LOCK_FILE,
  SSH_KEY,
  SSH_PORT,
  STATE_DIR,
  TRUST_PASSWORD,
  ensureDir,
  nodeIndex,
  nodeLayout,
  type NodeLayout,
} from './layout';
import { ensureLxd, lxdPid, lxdUrl, stopLxd } from './lxd';
import { ensureBridge, ensureNodeNetwork, labNamespaces, removeBridge, removeNodeNetwork } from './net';
import { cmdline, netnsPids, pidsWithMarker, terminate, unmountBelow } from './proc';
import { ensureLabKey, ensureSshd, sshdPid, stopSshd } from './ssh';

export interface LabNodeStatus {
  name: string;
  namespace: string;
  address: string;
  /** The node's IPv6 fabric address on eth0 (/64 with the bridge at 2001:db8:ffff::1). */
  address6: string;
  /** CORRAL_NODE_ROOT in the node's SSH sessions: the prefix of every path the node playbook writes. */
  nodeRoot: string;
  ssh: { port: number; user: string; privateKeyPath: string; running: boolean };
  /** Null until the node has been brought up with `--with-lxd`. */
  lxd: { url: string; trustPassword: string; lxdDir: string; running: boolean } | null;
}

export interface LabStatus {
  bridge: string;
  nodes: LabNodeStatus[];
  /** Paths of the locally built images; null when not built (yet). */
  images: { busybox: string | null; debian: string | null };
}

export interface LabUpOptions {
  /**
   * How many nodes, default 2. The lab never shrinks: nodes an earlier `up --nodes M` made
   * beyond this are kept in shape too (and get LXD with `withLxd`); only `down` removes them.
   */
  nodes?: number;
  /** Also run and initialise an LXD daemon in every node. */
  withLxd?: boolean;
  /** Progress lines; silent by default. */
  log?: (line: string) => void;
}

const MAX_NODES = 200;
const REPO = path.resolve(__dirname, '../../..');

function assertRoot(): void {
  if (process.getuid?.() !== 0) throw new Error('the lab needs root (network namespaces, bridges, LXD)');
}

/** Numbers of the nodes that exist in any form: a namespace or a state directory. */
function existingNodes(): number[] {
  const dirs = fs.existsSync(STATE_DIR) ? fs.readdirSync(STATE_DIR).filter((d) => /^n\d+$/.test(d)) : [];
  const found = new Set([...labNamespaces(), ...dirs].map((name) => nodeIndex(name) ?? 0));
  found.delete(0);
  return [...found].sort((a, b) => a - b);
}

function tryLock(): boolean {
  try {
    fs.writeFileSync(LOCK_FILE, `${process.pid}\n`, { flag: 'wx' });
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  let holder: number;
  try {
    holder = Number(fs.readFileSync(LOCK_FILE, 'utf8').trim());
  } catch {
    return false; // Released in between; the next attempt may take it.
  }
  if (!Number.isInteger(holder) || cmdline(holder) === null) {
    // Left behind by a run that died; the next attempt takes it.
    fs.rmSync(LOCK_FILE, { force: true });
  }
  return false;
}

/** One `up` or `down` at a time on this machine, across processes. */
async function withLock<T>(fn: () => Promise<T>): Promise<T> {
  await waitUntil(`the lab lock ${LOCK_FILE} (another lab up/down is running)`, 300_000, tryLock, 250);
  try {
    return await fn();
  } finally {
    fs.rmSync(LOCK_FILE, { force: true });
  }
}

function nodeStatus(node: NodeLayout): LabNodeStatus {
  return {
    name: node.name,
    namespace: node.namespace,
    address: node.address,
    address6: node.address6,
    nodeRoot: node.nodeRoot,
    ssh: { port: SSH_PORT, user: 'root', privateKeyPath: SSH_KEY, running: sshdPid(node) !== null },
    lxd: fs.existsSync(node.lxdDir) ? { url: lxdUrl(node), trustPassword: TRUST_PASSWORD, lxdDir: node.lxdDir, running: lxdPid(node) !== null } : null,
  };
}

/** What exists now; changes nothing. */
export async function labStatus(): Promise<LabStatus> {
  return {
    bridge: BRIDGE,
    nodes: existingNodes().map((i) => nodeStatus(nodeLayout(i))),
    images: {
      busybox: fs.existsSync(BUSYBOX_IMAGE) ? BUSYBOX_IMAGE : null,
      debian: fs.existsSync(DEBIAN_IMAGE) ? DEBIAN_IMAGE : null,
    },
  };
}

/**
 * Makes the lab exist: bridge, nodes 1..N with sshd, the busybox image and, with `withLxd`, an
 * initialised LXD daemon per node. Idempotent: every step checks before it acts, so a second
 * run changes nothing, and `withLxd` after a plain `up` only adds the daemons.
 */
export async function labUp(opts: LabUpOptions = {}): Promise<LabStatus> {
  const count = opts.nodes ?? 2;
  const log = opts.log ?? (() => {});
  if (!Number.isInteger(count) || count < 1 || count > MAX_NODES) throw new Error(`--nodes must be a whole number from 1 to ${MAX_NODES}, not ${opts.nodes}`);
  assertRoot();
  // Before the lock: it may run apt for minutes, and it is idempotent on its own.
  await run('bash', [path.join(REPO, 'scripts/lab-deps.sh')], { timeoutMs: 900_000 });
  return withLock(async () => {
    ensureDir(STATE_DIR, 0o755);
    log('busybox image');
    await ensureBusyboxImage();
    log(`bridge ${BRIDGE}`);
    await ensureBridge();
    await ensureLabKey();
    const total = Math.max(count, ...existingNodes());
    const nodes = Array.from({ length: total }, (_, k) => nodeLayout(k + 1));
    for (const node of nodes) {
      log(`${node.name}: network namespace ${node.namespace}, ${node.address}, sshd`);
      ensureDir(node.dir, 0o755);
      await ensureNodeNetwork(node);
      await ensureSshd(node);
    }
    if (opts.withLxd) {
      log(`lxd in ${nodes.map((n) => n.name).join(', ')}`);
      await Promise.all(nodes.map((node) => ensureLxd(node)));
    }
    return labStatus();
  });
}

interface LoopDevice {
  name: string;
  'back-file': string | null;
}

/** Loop devices whose backing file lies in the lab's state directory (LXD's pool images). */
async function labLoopDevices(): Promise<string[]> {
  const r = await run('losetup', ['--list', '--json', '--output', 'NAME,BACK-FILE'], { allowFail: true });
  if (r.code !== 0 || !r.stdout.trim()) return [];
  const devices = (JSON.parse(r.stdout) as { loopdevices: LoopDevice[] }).loopdevices;
  return devices.filter((d) => d['back-file']?.startsWith(`${STATE_DIR}/`)).map((d) => d.name);
}

/**
 * Removes everything `up` made except the image cache: daemons (containers stopped cleanly
 * first), sshds and anything else left in the node namespaces, the namespaces and veths, the
 * bridge, loop devices and the state directory.
 */
export async function labDown(opts: { log?: (line: string) => void } = {}): Promise<void> {
  const log = opts.log ?? (() => {});
  assertRoot();
  await withLock(async () => {
    const nodes = existingNodes().map(nodeLayout);
    if (nodes.length) log(`lxd shutdown in ${nodes.map((n) => n.name).join(', ')}`);
    await Promise.all(nodes.map((node) => stopLxd(node)));
    for (const node of nodes) {
      await stopSshd(node);
      // SSH sessions, LXC monitors, bird and whatever a test started in the node.
      const leftovers = [...new Set([...(await netnsPids(node.namespace)), ...pidsWithMarker(`${node.dir}/`)])];
      if (leftovers.length) log(`${node.name}: stopping ${leftovers.length} leftover processes`);
      await terminate(leftovers, `processes left in ${node.name}`);
      await removeNodeNetwork(node);
    }
    await removeBridge();
    // The pools' loop devices clear themselves once the last mount namespace holding the pool
    // is gone; the kernel does that a moment after the daemon exits.
    try {
      await waitUntil('loop devices of the lab to be released', 10_000, async () => (await labLoopDevices()).length === 0);
    } catch {
      for (const dev of await labLoopDevices()) await run('losetup', ['-d', dev], { allowFail: true });
    }
    await unmountBelow(STATE_DIR);
    log(`remove ${STATE_DIR}`);
    fs.rmSync(STATE_DIR, { recursive: true, force: true });
  });
}
