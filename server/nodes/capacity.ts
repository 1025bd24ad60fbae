import type { Cluster } from '../clusters/cluster.entity';
import type { Node } from './node.entity';

/** What a container takes on a node, or what containers take together. */
export interface Footprint {
  cpu: number;
  memoryBytes: number;
  diskBytes: number;
}

const MiB = 2 ** 20;

/**
 * What `node` lacks to take `need` on top of `used`, in words (empty when it fits): CPU and
 * memory within the cluster's overcommit, disk never overcommitted. One rule for every move onto
 * a node (migration, drain).
 */
export function shortOfRoom(node: Pick<Node, 'cpuThreads' | 'memoryBytes' | 'diskBytes'>, cluster: Pick<Cluster, 'cpuOvercommit' | 'memoryOvercommit'>, used: Footprint, need: Footprint): string[] {
  return [
    used.cpu + need.cpu > node.cpuThreads * cluster.cpuOvercommit ? `${need.cpu} CPUs` : null,
    used.memoryBytes + need.memoryBytes > node.memoryBytes * cluster.memoryOvercommit ? `${Math.ceil(need.memoryBytes / MiB)} MiB of memory` : null,
    used.diskBytes + need.diskBytes > node.diskBytes ? `a ${Math.ceil(need.diskBytes / MiB)} MiB disk` : null,
  ].filter((s): s is string => s !== null);
}

/** Memory left on a node within the cluster's overcommit (placement prefers the most). */
export const freeMemory = (node: Pick<Node, 'memoryBytes'>, cluster: Pick<Cluster, 'memoryOvercommit'>, used: Footprint) => node.memoryBytes * cluster.memoryOvercommit - used.memoryBytes;

/**
 * The node among `candidates` that takes `need` with the most memory left (the rule of
 * placement), or null when none has room. `used` is what each candidate holds now.
 */
export function roomiest<N extends Pick<Node, 'id' | 'cpuThreads' | 'memoryBytes' | 'diskBytes'>>(candidates: readonly N[], cluster: Pick<Cluster, 'cpuOvercommit' | 'memoryOvercommit'>, used: ReadonlyMap<string, Footprint>, need: Footprint): N | null {
  const fitting = candidates.filter((n) => shortOfRoom(n, cluster, used.get(n.id)!, need).length === 0);
  fitting.sort((a, b) => freeMemory(b, cluster, used.get(b.id)!) - freeMemory(a, cluster, used.get(a.id)!) || a.id.localeCompare(b.id));
  return fitting[0] ?? null;
}
