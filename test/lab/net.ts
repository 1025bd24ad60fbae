import fs from 'node:fs';
import { run } from './exec';
import { BRIDGE, GATEWAY, GATEWAY6, PREFIX6_LEN, PREFIX_LEN, SUBNET_PREFIX, type NodeLayout } from './layout';

interface IpAddrInfo {
  ifname: string;
  addr_info?: { family: string; local: string; prefixlen: number }[];
}

async function ipJson<T>(args: string[]): Promise<T> {
  const r = await run('ip', ['-j', ...args]);
  return JSON.parse(r.stdout || '[]') as T;
}

async function linkExists(name: string, namespace?: string): Promise<boolean> {
  const ns = namespace ? ['-n', namespace] : [];
  return (await run('ip', [...ns, 'link', 'show', 'dev', name], { allowFail: true })).code === 0;
}

function namespaceExists(namespace: string): boolean {
  return fs.existsSync(`/run/netns/${namespace}`);
}

/** Lab namespaces that exist now, by name (`corral-n1`, …). */
export function labNamespaces(): string[] {
  if (!fs.existsSync('/run/netns')) return [];
  return fs.readdirSync('/run/netns').filter((n) => /^corral-n\d+$/.test(n));
}

/**
 * Refuses to take 198.18.0.0/24 if anything but the lab's own bridge already has an address
 * there: two interfaces on one subnet would route the lab's traffic somewhere else.
 */
async function assertSubnetFree(): Promise<void> {
  const links = await ipJson<IpAddrInfo[]>(['-4', 'addr', 'show']);
  for (const link of links) {
    if (link.ifname === BRIDGE) continue;
    for (const a of link.addr_info ?? []) {
      if (a.local.startsWith(SUBNET_PREFIX)) {
        throw new Error(`${link.ifname} already has ${a.local}/${a.prefixlen}, inside the lab subnet ${SUBNET_PREFIX}0/${PREFIX_LEN}`);
      }
    }
  }
}

/** The bridge in the root namespace that all node veths join; the host is 198.18.0.1 on it. */
export async function ensureBridge(): Promise<void> {
  if (!(await linkExists(BRIDGE))) {
    await assertSubnetFree();
    await run('ip', ['link', 'add', BRIDGE, 'type', 'bridge']);
  }
  await run('ip', ['addr', 'replace', `${GATEWAY}/${PREFIX_LEN}`, 'dev', BRIDGE]);
  // nodad: usable at once, instead of after a second of duplicate address detection.
  await run('ip', ['-6', 'addr', 'replace', `${GATEWAY6}/${PREFIX6_LEN}`, 'dev', BRIDGE, 'nodad']);
  await run('ip', ['link', 'set', BRIDGE, 'up']);
}

export async function removeBridge(): Promise<void> {
  if (await linkExists(BRIDGE)) await run('ip', ['link', 'del', BRIDGE]);
}

/** The node's namespace, its veth pair into the bridge (eth0 inside), its addresses and default routes. */
export async function ensureNodeNetwork(node: NodeLayout): Promise<void> {
  const ns = node.namespace;
  if (!namespaceExists(ns)) await run('ip', ['netns', 'add', ns]);
  if (!(await linkExists('eth0', ns))) {
    // A host end left over from a namespace that was deleted behind our back would block the name.
    if (await linkExists(node.hostVeth)) await run('ip', ['link', 'del', node.hostVeth]);
    await run('ip', ['link', 'add', node.hostVeth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
  }
  await run('ip', ['link', 'set', node.hostVeth, 'master', BRIDGE, 'up']);
  await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  await run('ip', ['-n', ns, 'addr', 'replace', `${node.address}/${PREFIX_LEN}`, 'dev', 'eth0']);
  await run('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
  await run('ip', ['-n', ns, 'route', 'replace', 'default', 'via', GATEWAY]);
  await run('ip', ['-n', ns, '-6', 'addr', 'replace', `${node.address6}/${PREFIX6_LEN}`, 'dev', 'eth0', 'nodad']);
  await run('ip', ['-n', ns, '-6', 'route', 'replace', 'default', 'via', GATEWAY6]);
}

/** Deleting the namespace also destroys eth0 and with it the host end of the pair. */
export async function removeNodeNetwork(node: NodeLayout): Promise<void> {
  if (namespaceExists(node.namespace)) await run('ip', ['netns', 'del', node.namespace]);
  if (await linkExists(node.hostVeth)) await run('ip', ['link', 'del', node.hostVeth]);
}

interface Mount {
  fstype: string;
  options: string;
  source: string;
  target: string;
}

/** mountinfo escapes blanks and backslashes in paths as octal. */
function unescapeMountPath(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** The filesystems mounted below /sys in this mount namespace (cgroup hierarchies here), in mount order. */
function mountsBelowSys(): Mount[] {
  const mounts: Mount[] = [];
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    if (!line) continue;
    const [left, right] = line.split(' - ');
    const f = left.split(' ');
    const [fstype, source, options] = right.split(' ');
    const root = f[3];
    const target = unescapeMountPath(f[4]);
    // Bind mounts of a subtree (root other than /) cannot be recreated by a plain mount.
    if (!target.startsWith('/sys/') || root !== '/') continue;
    mounts.push({ fstype, options, source: unescapeMountPath(source), target });
  }
  return mounts;
}

/**
 * Mounts the given filesystems again, raises the open-file limit as far as allowed (LXD's own
 * init script asks for 65536; here root lacks CAP_SYS_RESOURCE, so the hard limit is the most),
 * then execs the command. Mounts arrive as positional parameters, four per mount, so nothing
 * is interpolated into the script.
 */
const ENTER_NODE_SCRIPT = `set -e
while [ "$1" != "--" ]; do
  mkdir -p "$4"
  mount -t "$1" -o "$2" "$3" "$4" || { echo "corral-lab: cannot mount $1 on $4" >&2; exit 1; }
  shift 4
done
shift
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
exec "$@"`;

/**
 * The argv that runs `command` inside node's namespace. `ip netns exec` gives the command a
 * private mount namespace with a fresh /sys for the network namespace (so LXD sees the node's
 * interfaces in /sys/class/net), but that unmounts /sys/fs/cgroup: without it, LXD starts
 * containers outside any cgroup and every limit fails with "setting cgroup item for the
 * container failed". So the cgroup hierarchies are mounted again before the command runs.
 * The mounts stay in that private namespace and vanish with its last process.
 */
export function inNode(node: NodeLayout, command: string[]): string[] {
  const mountArgs = mountsBelowSys().flatMap((m) => [m.fstype, m.options, m.source, m.target]);
  return ['ip', 'netns', 'exec', node.namespace, 'sh', '-c', ENTER_NODE_SCRIPT, 'sh', ...mountArgs, '--', ...command];
}
