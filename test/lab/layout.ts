import fs from 'node:fs';
import path from 'node:path';

/**
 * Where the lab keeps everything, and how node i is named and addressed. 198.18.0.0/24 is the
 * benchmarking range: this machine's own network (192.0.2.0/24) and the package mirror
 * (203.0.113.0/24) must never be reused by the lab.
 */
export const STATE_DIR = '/var/lib/corral-lab';
export const IMAGE_DIR = '/var/cache/corral-lab/images';
export const SSH_DIR = path.join(STATE_DIR, 'ssh');
export const SSH_KEY = path.join(SSH_DIR, 'id_ed25519');
export const AUTHORIZED_KEYS = path.join(SSH_DIR, 'authorized_keys');
/** Outside STATE_DIR so that `down` can hold it while it removes STATE_DIR. */
export const LOCK_FILE = '/run/corral-lab.lock';

export const BRIDGE = 'corral-br0';
export const SUBNET_PREFIX = '198.18.0.';
export const GATEWAY = `${SUBNET_PREFIX}1`;
export const PREFIX_LEN = 24;
/**
 * The fabric's IPv6 side: bird announces container /128s over the IPv4 sessions with a node's
 * global IPv6 address as next hop, so every node needs one. Kept apart from 2001:db8::/48, the
 * containers' range.
 */
export const SUBNET6_PREFIX = '2001:db8:ffff::';
export const GATEWAY6 = `${SUBNET6_PREFIX}1`;
export const PREFIX6_LEN = 64;

export const TRUST_PASSWORD = 'corral-lab';
export const LXD_PORT = 8443;
export const SSH_PORT = 22;
export const POOL_SIZE = '6GiB';

export const BUSYBOX_IMAGE = path.join(IMAGE_DIR, 'busybox.tar.gz');
export const DEBIAN_IMAGE = path.join(IMAGE_DIR, 'debian12.tar.gz');

/** Node i (1-based). Interface names stay under the kernel's 15 characters. */
export function nodeLayout(i: number) {
  const dir = path.join(STATE_DIR, `n${i}`);
  return {
    index: i,
    name: `n${i}`,
    namespace: `corral-n${i}`,
    address: `${SUBNET_PREFIX}${10 + i}`,
    /** Same digits as the IPv4 address's last part (read as hex by IPv6, which does not matter). */
    address6: `${SUBNET6_PREFIX}${10 + i}`,
    hostVeth: `corral-n${i}-h`,
    dir,
    /** What the node's SSH sessions see as CORRAL_NODE_ROOT: the prefix of every path the node playbook writes. */
    nodeRoot: dir,
    sshdConfig: path.join(dir, 'sshd_config'),
    hostKey: path.join(dir, 'ssh_host_ed25519_key'),
    sshdPidFile: path.join(dir, 'sshd.pid'),
    lxdDir: path.join(dir, 'lxd'),
    lxdLog: path.join(dir, 'lxd.log'),
    /** The daemon's stdout and stderr: what it prints before its log file is open. */
    lxdOut: path.join(dir, 'lxd.out'),
    lxdPidFile: path.join(dir, 'lxd.pid'),
  };
}

export type NodeLayout = ReturnType<typeof nodeLayout>;

/** Node numbers from names like `corral-n3` or `n3`. */
export function nodeIndex(name: string): number | null {
  const m = /^(?:corral-)?n(\d+)$/.exec(name);
  return m ? Number(m[1]) : null;
}

/**
 * A directory with exactly this mode. Container roots (uid 1000000 and up) must be able to
 * traverse STATE_DIR down to each pool, so every directory on that path has to be 0755 or 0711:
 * otherwise liblxc fails with "Could not access /var/lib/corral-lab. Please grant it x access".
 * (`mkdirSync` with `recursive` would give the same mode to every parent it creates.)
 */
export function ensureDir(dir: string, mode: number): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  fs.chmodSync(dir, mode);
}
