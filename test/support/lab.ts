import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { labStatus, type LabStatus } from '../lab/lab';
import { connectLab } from './lab-connect';

const run = promisify(execFile);

export type LabNode = LabStatus['nodes'][number] & { lxd: NonNullable<LabStatus['nodes'][number]['lxd']> };

/**
 * The lab as the end-to-end suites need it: at least two nodes with LXD running. When the lab
 * was brought up with sshd only, n1 and n2 are first set up through connectNode (connectLab).
 * Fails, never skips, with the command that brings it up.
 */
export async function requireLab(): Promise<{ nodes: LabNode[]; busybox: string }> {
  await connectLab();
  const status = await labStatus();
  const nodes = status.nodes.filter((n): n is LabNode => !!n.lxd?.running);
  if (nodes.length < 2 || !status.images.busybox) {
    throw new Error('the end-to-end tests need the lab with two nodes: run "npm run lab -- up" (as root)');
  }
  return { nodes, busybox: status.images.busybox };
}

/** `lxc` against one lab node's own daemon, as an operator on that node would run it. */
export async function lxc(node: LabNode, ...args: string[]): Promise<string> {
  const { stdout } = await run('lxc', args, { env: { ...process.env, LXD_DIR: node.lxd.lxdDir }, timeout: 60_000 });
  return stdout;
}

/** Every instance on a node in Corral's LXD projects, as `project/name` → status. */
export async function corralInstances(node: LabNode): Promise<Map<string, string>> {
  const list = JSON.parse(await lxc(node, 'list', '--all-projects', '--format', 'json')) as { name: string; project: string; status: string }[];
  return new Map(list.filter((i) => i.project.startsWith('corral-')).map((i) => [`${i.project}/${i.name}`, i.status]));
}

/** Polls `check` every 100 ms until it returns a value, for at most `ms`; says what it waited for when it gives up. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined | null | false>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`gave up after ${ms} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Waits until the operation a container mutation started has finished and returns the container
 * as `read` gives it (its fields must include `id` and `operation { id action state }`). `res` is
 * the mutation's answer, whose first field is the container; an error in it fails at once.
 */
export async function settledContainer(read: (id: string) => Promise<any>, res: { data?: unknown; errors?: unknown }, ms = 120_000): Promise<any> {
  if (res.errors !== undefined) throw new Error(`the mutation failed: ${JSON.stringify(res.errors)}`);
  const first = Object.values(res.data as Record<string, any>)[0];
  return eventually(`operation ${first.operation.action} to finish`, async () => {
    const c = await read(first.id);
    return c.operation.id === first.operation.id && ['SUCCEEDED', 'FAILED'].includes(c.operation.state) ? c : null;
  }, ms);
}

/** The lab's nodes with sshd (LXD or not): what connectNode starts from. */
export async function requireSshLab(): Promise<{ nodes: LabStatus['nodes']; busybox: string }> {
  const status = await labStatus();
  const nodes = status.nodes.filter((n) => n.ssh.running);
  if (nodes.length < 2 || !status.images.busybox) throw new Error('the end-to-end tests need the lab with two nodes: run "npm run lab -- up" (as root)');
  return { nodes, busybox: status.images.busybox };
}
