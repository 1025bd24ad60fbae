import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { lxdPath, parseMetadata, type LxdClient } from '../lxd/client';
import { createInstance, deleteInstance, listInstances, setInstanceState } from '../lxd/instances';

/** What the probe found: null for a limit LXD applied on the node, else why it could not. */
export interface NicLimitsProbe {
  ingress: string | null;
  egress: string | null;
}

/** Probe instances live in the node's default project; leftovers of a crashed probe carry this prefix. */
export const NIC_PROBE_PREFIX = 'corral-nic-probe-';

const imagesSchema = z.array(z.object({ fingerprint: z.string(), type: z.string().default('container'), size: z.number().default(0) }));

/** LXD refused a NIC limit on the probe's device (rather than failing for another reason). */
const refusedOnDevice = (message: string) => /device "probe"|tc |qdisc|TC action/i.test(message);

/** The first line of what LXD said, without the `tc` command line it ran. */
export function why(message: string): string {
  const kernel = /\(Error: ([^)\n]+)/.exec(message)?.[1];
  return kernel ? `${kernel.trim()} (LXD: ${message.split(':').slice(0, 2).join(':').trim()})` : message.split('\n')[0]!.trim();
}

/**
 * Finds out whether LXD can apply NIC `limits.ingress` (tc htb on the host veth) and
 * `limits.egress` (an ingress qdisc with a u32 filter and a `police` action, which needs
 * `act_police`) on this node, by trying them, as LXD-NOTES §12 describes, on a throwaway
 * container: the smallest container image already on the node, a `p2p` NIC with
 * `limits.ingress=1Mbit` started, then `limits.egress=1Mbit` hot-plugged on the running
 * container. The container is deleted again whatever happens; leftovers of an interrupted probe
 * are removed first.
 *
 * @returns null when the node has no container image yet to probe with (probe again later).
 * @throws LxdError, LxdUnavailableError when the node fails for a reason other than the limits.
 */
export async function probeNicLimits(client: LxdClient, storagePool: string): Promise<NicLimitsProbe | null> {
  const { metadata } = await client.sync('GET', lxdPath`/1.0/images`, { project: 'default', query: { recursion: 1 } });
  const images = parseMetadata(imagesSchema, metadata ?? [], 'GET /1.0/images').filter((i) => i.type === 'container');
  if (images.length === 0) return null;
  const image = images.sort((a, b) => a.size - b.size)[0]!;

  for (const leftover of await listInstances(client, 'default')) {
    if (leftover.name.startsWith(NIC_PROBE_PREFIX)) await removeProbe(client, leftover.name);
  }

  const name = `${NIC_PROBE_PREFIX}${randomBytes(4).toString('hex')}`;
  const probe = { type: 'nic', nictype: 'p2p', name: 'eth0', 'limits.ingress': '1Mbit' };
  await createInstance(client, 'default', {
    name,
    source: { type: 'image', fingerprint: image.fingerprint },
    profiles: [],
    config: { 'limits.cpu': '1', 'limits.memory': '64MiB', 'user.corral.probe': 'nic-limits' },
    devices: { root: { type: 'disk', path: '/', pool: storagePool }, probe },
    description: 'Corral: probes NIC limits; deleted right away',
  });
  try {
    try {
      await setInstanceState(client, 'default', name, { action: 'start' });
    } catch (error) {
      const message = (error as Error).message;
      if (!refusedOnDevice(message)) throw error;
      return { ingress: why(message), egress: 'not probed: the ingress limit failed first' };
    }
    try {
      await client.sync('PATCH', lxdPath`/1.0/instances/${name}`, { project: 'default', body: { devices: { probe: { ...probe, 'limits.egress': '1Mbit' } } } });
    } catch (error) {
      const message = (error as Error).message;
      if (!refusedOnDevice(message)) throw error;
      return { ingress: null, egress: why(message) };
    }
    return { ingress: null, egress: null };
  } finally {
    await removeProbe(client, name);
  }
}

/** deleteInstance stops it (forced) first and counts a missing one as deleted. */
async function removeProbe(client: LxdClient, name: string): Promise<void> {
  await deleteInstance(client, 'default', name);
}
