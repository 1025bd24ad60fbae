import type { DataSource } from 'typeorm';
import type { Logger } from '../app/logger';
import { Cluster } from '../clusters/cluster.entity';
import { Node, NodeStatus, SETUP_STATUSES } from '../nodes/node.entity';
import { NodeSetup } from '../provisioning/node-setup.entity';
import { withStdin, type NodeShell } from '../provisioning/node-shell';
import { renderPeersFile } from './fabric-peers';

/**
 * Writes `corral-peers.conf` and reloads bird (`birdc configure`). The file is replaced only when
 * its content changes; bird is told to reconfigure every time, so that a bird started since the
 * last write (or one that missed a reload) comes to the same state.
 */
export function peersScript(peersFile: string): string {
  return [
    'set -e',
    'dir="${CORRAL_NODE_ROOT:-}/etc/bird"',
    'mkdir -p "$dir"',
    withStdin('cat > "$dir/corral-peers.conf.new"', peersFile),
    'if cmp -s "$dir/corral-peers.conf.new" "$dir/corral-peers.conf"; then rm -f "$dir/corral-peers.conf.new"; else mv "$dir/corral-peers.conf.new" "$dir/corral-peers.conf"; fi',
    'birdc -s "${CORRAL_NODE_ROOT:-}/run/bird/bird.ctl" configure',
  ].join('\n');
}

/** birdc answers 0 even when bird refuses the new configuration; its reply tells. */
const RECONFIGURED = /Reconfigured|Reconfiguration in progress|Reconfiguration already in progress|Reconfiguration confirmed/;

/**
 * The cluster's iBGP fabric as Corral manages it: every node connected over SSH peers with every
 * other one. Nodes added with addNode (no SSH) are neither written nor peered with.
 */
export class FabricService {
  /** One sync at a time per cluster in this process, so that the last write reflects the last change. */
  private readonly chains = new Map<string, Promise<void>>();

  constructor(
    private readonly db: DataSource,
    private readonly shell: NodeShell,
    private readonly log: Logger,
  ) {}

  /**
   * Rewrites the peers file on every READY node of the cluster that was connected over SSH. Call
   * it after a node of the cluster became READY and after one was removed. The peers are the
   * cluster's other joined SSH nodes, whatever their health (a BGP session to a node that is down
   * waits for it; dropping it would only churn the file). A node that cannot be written is
   * logged and gets the reason as its `lastError`; nothing here throws.
   */
  syncCluster(clusterId: string): Promise<void> {
    const next = (this.chains.get(clusterId) ?? Promise.resolve()).then(() => this.sync(clusterId)).catch((error: unknown) => this.log.warn({ err: error, cluster: clusterId }, 'could not sync the fabric peers'));
    this.chains.set(clusterId, next);
    void next.finally(() => {
      if (this.chains.get(clusterId) === next) this.chains.delete(clusterId);
    });
    return next;
  }

  private async sync(clusterId: string): Promise<void> {
    const cluster = await this.db.manager.findOneBy(Cluster, { id: clusterId });
    if (!cluster) return;
    const setups = await this.db.manager.getRepository(NodeSetup).createQueryBuilder('setup').innerJoinAndSelect('setup.node', 'node').where('node.clusterId = :clusterId', { clusterId }).getMany();
    const members = setups.filter((s) => s.corralKeyInstalled && s.node && !SETUP_STATUSES.includes(s.node.status));
    const peers = members.map((s) => ({ address: s.host }));
    await Promise.all(
      members
        .filter((s) => s.node!.status === NodeStatus.READY)
        .map(async (s) => {
          const node = s.node!;
          try {
            const result = await this.shell.run(node.id, peersScript(renderPeersFile(s.host, peers, cluster.fabricAsn)));
            const reply = `${result.stdout}${result.stderr}`.trim();
            if (result.code !== 0 || !RECONFIGURED.test(reply)) throw new Error(`birdc configure answered (exit ${result.code}): ${reply.slice(0, 400)}`);
          } catch (error) {
            const message = `the BGP peers could not be written: ${(error as Error).message}`.slice(0, 500);
            this.log.warn({ node: node.name, err: message }, 'fabric peers not written');
            await this.db.manager.update(Node, { id: node.id }, { lastError: message });
          }
        }),
    );
  }
}
