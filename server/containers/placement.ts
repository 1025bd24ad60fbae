import { CorralError, ErrorCode } from '../app/errors';
import type { Cluster } from '../clusters/cluster.entity';
import { type Node, NodeStatus } from '../nodes/node.entity';
import type { NodesService } from '../nodes/nodes.service';

/** What a new container needs of a node. */
export interface ContainerSpec {
  cpu: number;
  memoryBytes: number;
  diskBytes: number;
}

/**
 * The node for a new container (created or cloned) among `candidates` of `cluster`: the READY
 * one with the most free memory that fits the container within the cluster's overcommit (disk
 * is never overcommitted). NODE_UNAVAILABLE when none is READY, CAPACITY_EXCEEDED when none has
 * room; `field` names the input the refusal is about.
 */
export async function placeContainer(
  nodes: Pick<NodesService, 'allocation'>,
  cluster: Cluster,
  candidates: Node[],
  spec: ContainerSpec,
  options: { named: boolean; field: string },
): Promise<Node> {
  const ready = candidates.filter((n) => n.status === NodeStatus.READY);
  if (ready.length === 0) throw new CorralError(ErrorCode.NODE_UNAVAILABLE, options.named ? 'the node is not ready' : 'no node of the cluster is ready');
  const allocated = await nodes.allocation(ready.map((n) => n.id));
  const room = ready
    .map((node) => {
      const used = allocated.get(node.id)!;
      return {
        node,
        cpu: node.cpuThreads * cluster.cpuOvercommit - used.cpu,
        memory: node.memoryBytes * cluster.memoryOvercommit - used.memoryBytes,
        disk: node.diskBytes - used.diskBytes,
      };
    })
    .filter((r) => r.cpu >= spec.cpu && r.memory >= spec.memoryBytes && r.disk >= spec.diskBytes)
    .sort((a, b) => b.memory - a.memory);
  if (room.length === 0) throw new CorralError(ErrorCode.CAPACITY_EXCEEDED, 'no node has room for a container this size', { field: options.field });
  return room[0]!.node;
}
