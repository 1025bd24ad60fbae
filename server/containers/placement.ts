import type { EntityManager } from 'typeorm';
import { CorralError, ErrorCode } from '../app/errors';
import type { Cluster } from '../clusters/cluster.entity';
import { type Footprint, roomiest } from '../nodes/capacity';
import { type Node, NodeStatus } from '../nodes/node.entity';
import type { NodesService } from '../nodes/nodes.service';

/** What a new container needs of a node. */
export type ContainerSpec = Footprint;

/**
 * The node for a new container (created or cloned) among `candidates` of `cluster`: the READY
 * one with the most free memory that fits (nodes/capacity.ts has the rule). NODE_UNAVAILABLE
 * when none is READY, CAPACITY_EXCEEDED when none has room; `field` names the input the refusal
 * is about.
 */
export async function placeContainer(
  nodes: Pick<NodesService, 'allocation'>,
  cluster: Cluster,
  candidates: Node[],
  spec: ContainerSpec,
  options: { named: boolean; field: string },
  /** The transaction that will record the container: the nodes' room is read (and held) in it. */
  em: EntityManager,
): Promise<Node> {
  const ready = candidates.filter((n) => n.status === NodeStatus.READY);
  if (ready.length === 0) throw new CorralError(ErrorCode.NODE_UNAVAILABLE, options.named ? 'the node is not ready' : 'no node of the cluster is ready');
  const chosen = roomiest(ready, cluster, await nodes.allocation(ready.map((n) => n.id), em), spec);
  if (!chosen) throw new CorralError(ErrorCode.CAPACITY_EXCEEDED, 'no node has room for a container this size', { field: options.field });
  return chosen;
}
