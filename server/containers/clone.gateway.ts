import { CorralError, ErrorCode } from '../app/errors';
import { lxdPath } from '../lxd/client';
import { LxdError } from '../lxd/errors';
import { getInstance } from '../lxd/instances';
import { LxdGateway } from '../nodes/lxd-gateway';
import type { NodeGateway } from '../nodes/node-gateway';
import type { Node } from '../nodes/node.entity';
import { pullInstance } from './migration.gateway';

/** What cloning a container asks of its nodes, beyond the node gateway's own calls. */
export interface CloneNodes {
  /**
   * Copies instance `sourceName` (running or not) as `cloneName` in the same project: on the same
   * node with LXD's `copy` source, to another node with a migration pull. Only the instance, not
   * its snapshots; the copy gets its own `volatile.uuid` and cloud-init instance-id and the
   * source's config and devices (so its resources). Leaves the copy stopped and the source alone.
   * Waits within `deadlineMs`. The clone must not exist yet. `hwaddrs` gives the NICs Corral
   * added (device name → MAC) new MAC addresses, so that the clone never shares the source's.
   */
  cloneInstance(source: Node, target: Node, project: string, sourceName: string, cloneName: string, deadlineMs: number, hwaddrs?: Record<string, string>): Promise<void>;
}

/** btrfs refusing a copy because of the source's qgroup limit (LXD-NOTES section 5). */
const QGROUP_FAILURE = /qgroup|quota exceeded/i;

/** LXD's copy (same node, LXD-NOTES section 7) and migration (another node, section 8) from Corral's pinned clients. */
export class LxdCloneGateway implements CloneNodes {
  constructor(private readonly lxd: Pick<LxdGateway, 'clientFor'>) {}

  async cloneInstance(source: Node, target: Node, project: string, sourceName: string, cloneName: string, deadlineMs: number, hwaddrs: Record<string, string> = {}): Promise<void> {
    try {
      await this.copy(source, target, project, sourceName, cloneName, deadlineMs, hwaddrs);
    } catch (error) {
      if (!(error instanceof Error && QGROUP_FAILURE.test(error.message))) throw error;
      // A root disk resize that half-failed outside Corral (LXD-NOTES section 5) leaves the source's
      // btrfs qgroup limit below its usage: every copy of it then fails, and on LXD 5.0.2 no PATCH
      // can repair it (each one fails on the same limit; verified in the lab). Say so plainly.
      throw new CorralError(
        ErrorCode.LXD_ERROR,
        `the copy failed on the btrfs quota of ${sourceName} on node ${source.name}: its quota group limit is below what it uses (a disk resize failed half-way outside Corral). Nothing was cloned; the node's operator must raise the limit (btrfs qgroup limit on the pool) before it can be copied. LXD said: ${error.message}`,
        { qgroup: true },
      );
    }
  }

  private async copy(source: Node, target: Node, project: string, sourceName: string, cloneName: string, deadlineMs: number, hwaddrs: Record<string, string>): Promise<void> {
    const from = await this.lxd.clientFor(source);
    const instance = await getInstance(from, project, sourceName);
    if (!instance) throw new LxdError(`Instance not found: ${sourceName}`, { status: 404 });
    // The NICs with a fixed MAC get new ones; LXD merges these over the source's devices of the same name.
    const renumbered = Object.fromEntries(
      Object.entries(hwaddrs)
        .filter(([device]) => instance.devices[device]?.type === 'nic')
        .map(([device, hwaddr]) => [device, { ...instance.devices[device]!, hwaddr }]),
    );
    if (source.id === target.id) {
      // LXD resets the volatile keys of a copy itself (new volatile.uuid and cloud-init instance-id).
      await from.operation('POST', lxdPath`/1.0/instances`, {
        project,
        body: { name: cloneName, type: 'container', ...(Object.keys(renumbered).length ? { devices: renumbered } : {}), source: { type: 'copy', source: sourceName, instance_only: true } },
        waitMs: deadlineMs,
      });
      if (!(await getInstance(from, project, cloneName))) throw new LxdError(`instance ${cloneName} is missing after the copy`, { status: 500, lxdCode: 0 });
      return;
    }
    const to = await this.lxd.clientFor(target);
    if (await getInstance(to, project, cloneName)) throw new LxdError(`instance ${cloneName} already exists on node ${target.name}`, { status: 409 });
    await pullInstance(from, to, project, { ...instance, devices: { ...instance.devices, ...renumbered } }, { targetName: cloneName, instanceOnly: true, deadlineMs, targetNode: target.name });
  }
}

/** Test doubles of the node gateway (test/support/fake-gateway.ts) may clone themselves. */
function clones(gateway: NodeGateway): gateway is NodeGateway & CloneNodes {
  return typeof (gateway as Partial<CloneNodes>).cloneInstance === 'function';
}

/** The clone side of a node gateway: LXD's copy and migration for the real one, the double's own for a fake. */
export function cloneNodesFor(gateway: NodeGateway): CloneNodes {
  if (gateway instanceof LxdGateway) return new LxdCloneGateway(gateway);
  if (clones(gateway)) return gateway;
  return {
    cloneInstance: async () => {
      throw new LxdError('this node gateway cannot clone containers', { status: 501, lxdCode: 0 });
    },
  };
}
