import { Field, ObjectType } from 'type-graphql';

/**
 * What a node can enforce, as detected on the node by the health check. A limit that LXD would
 * accept and silently ignore counts as unsupported; so does one Corral cannot verify.
 */
@ObjectType({ description: 'What a node can enforce, detected on the node by the health check. Unverifiable features count as unsupported.' })
export class NodeCapabilities {
  @Field({ description: 'Root disk sizes are enforced (storage pool driver btrfs, zfs or lvm; `dir` ignores them).' })
  diskQuota!: boolean;

  @Field({ description: 'CPU caps (`limits.cpu.allowance`, CFS quota).' })
  cpuAllowance!: boolean;

  @Field({ description: 'Memory limits (memory cgroup).' })
  memoryLimit!: boolean;

  @Field({ description: 'IO weight (`limits.disk.priority`; needs blkio.weight).' })
  blkioWeight!: boolean;

  @Field({ description: 'IO throttles in IOPS or bytes per second (`limits.read`, `limits.write`).' })
  blkioThrottle!: boolean;

  @Field({ description: 'Network weight (`limits.network.priority`; needs the net_prio cgroup).' })
  netPrio!: boolean;

  @Field({ description: 'NIC ingress limits (`limits.ingress`: tc htb on the host veth), probed on the node with a throwaway container.' })
  nicIngressLimit!: boolean;

  @Field({ description: 'NIC egress limits (`limits.egress`: tc police, needs act_police), probed on the node with a throwaway container.' })
  nicEgressLimit!: boolean;

  @Field({ description: 'Live migration (CRIU).' })
  liveMigration!: boolean;

  @Field(() => [String], { description: 'Why each unsupported feature is missing, as the node said it.' })
  reasons!: string[];
}

export type NodeCapabilityName = Exclude<keyof NodeCapabilities, 'reasons'>;
