import { LxdClient } from '../server/lxd/client';
import { generateClientIdentity } from '../server/lxd/identity';
import { deleteInstance, listInstances } from '../server/lxd/instances';
import { ensureProject } from '../server/lxd/projects';
import type { LabNode } from '../test/support/lab';

/**
 * The benchmarks' baseline: our own trusted LXD client per lab node and an LXD project like
 * Corral's, emptied of whatever an interrupted earlier run left.
 */
export async function directClients(nodes: LabNode[], project: string): Promise<LxdClient[]> {
  const identity = await generateClientIdentity('corral-bench');
  return Promise.all(
    nodes.map(async (node) => {
      const pin = await LxdClient.enrol(node.lxd.url, identity, node.lxd.trustPassword);
      const client = new LxdClient({ url: node.lxd.url, ...pin }, identity);
      await ensureProject(client, project, { config: { 'features.images': 'false', 'features.profiles': 'false' } });
      for (const left of await listInstances(client, project)) await deleteInstance(client, project, left.name);
      return client;
    }),
  );
}
