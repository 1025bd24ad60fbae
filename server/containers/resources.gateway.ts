import { lxdPath } from '../lxd/client';
import { LxdError } from '../lxd/errors';
import { getInstance, getInstanceState } from '../lxd/instances';
import { getStoragePool } from '../lxd/storage-pools';
import { listWarnings, type LxdWarning } from '../lxd/warnings';
import type { NodeCapabilities, NodeCapabilityName } from '../nodes/node-capabilities';
import { probeNicLimits, type NicLimitsProbe } from '../nodes/nic-limits-probe';
import { LxdGateway } from '../nodes/lxd-gateway';
import type { NodeGateway } from '../nodes/node-gateway';
import type { Node } from '../nodes/node.entity';

/** An instance's root disk as configured on the node, and what it uses now. */
export interface RootDisk {
  /** The root device as the instance itself carries it (a copy from the profile when it had none). */
  device: Record<string, string>;
  /** The configured size in bytes; null when none is set. */
  sizeBytes: number | null;
  /** Bytes used now, from `GET …/state` (`disk.root.usage`); null when the driver does not say. */
  usageBytes: number | null;
}

/**
 * The node-side calls of live resource changes. Every method is bounded in time (the client's
 * timeouts) and safe to repeat.
 */
export interface ResourcesGateway {
  /** `PATCH /1.0/instances/{name}` with `config` (LXD merges keys; live on a running container). Reads the config back. */
  patchConfig(node: Node, project: string, name: string, config: Record<string, string>): Promise<Record<string, string>>;
  rootDisk(node: Node, project: string, name: string): Promise<RootDisk | null>;
  /** `PATCH` of the root device with a new `size`. Reads the device back. */
  setRootDisk(node: Node, project: string, name: string, device: Record<string, string>): Promise<Record<string, string>>;
  /** The instance's devices as they apply (profile devices included, the instance's own winning); null when it does not exist. */
  devices(node: Node, project: string, name: string): Promise<Record<string, Record<string, string>> | null>;
  /** One `PATCH /1.0/instances/{name}` with config keys and whole devices, so they land together or not at all. Returns the devices read back. */
  patchInstance(node: Node, project: string, name: string, body: { config?: Record<string, string>; devices?: Record<string, Record<string, string>> }): Promise<{ config: Record<string, string>; devices: Record<string, Record<string, string>> }>;
  /** What the node can enforce (see NodeCapabilities), read from the node. */
  capabilities(node: Node, storagePool: string): Promise<NodeCapabilities>;
}

/** Storage drivers whose root disk `size` LXD enforces (`dir` accepts it and ignores it without prjquota). */
const QUOTA_DRIVERS = new Set(['btrfs', 'zfs', 'lvm', 'ceph']);

/**
 * LXD's own warnings (API extension `warnings`) about cgroup controllers it could not find: it
 * accepts the matching limits and ignores them, so each makes the feature unsupported.
 */
const WARNED: [NodeCapabilityName, RegExp][] = [
  ['blkioWeight', /blkio\.weight|disk priority/i],
  ['netPrio', /network priority/i],
  ['blkioThrottle', /disk I\/O limits|CGroup blkio$/i],
  ['cpuAllowance', /CGroup CPU controller|CPU time limits/i],
  ['memoryLimit', /CGroup memory controller|memory limits/i],
];

/**
 * Reads the capabilities from the pool's driver, LXD's unresolved warnings and the NIC limits
 * probe (nic-limits-probe.ts; null: not probed yet).
 */
export function capabilitiesFrom(driver: string | null, warnings: LxdWarning[], nic: NicLimitsProbe | null = null): NodeCapabilities {
  const caps: NodeCapabilities = {
    diskQuota: driver !== null && QUOTA_DRIVERS.has(driver),
    cpuAllowance: true,
    memoryLimit: true,
    blkioWeight: true,
    blkioThrottle: true,
    netPrio: true,
    // NIC limits only as the probe found them on the node; CRIU is not visible through LXD 5.0.2's API, and Corral never guesses.
    nicIngressLimit: nic !== null && nic.ingress === null,
    nicEgressLimit: nic !== null && nic.egress === null,
    liveMigration: false,
    reasons: [
      driver === null ? 'diskQuota: the storage pool is missing' : QUOTA_DRIVERS.has(driver) ? null : `diskQuota: the ${driver} storage driver does not enforce sizes`,
      nic === null ? 'nicIngressLimit: not probed yet (the node has no container image to probe with)' : nic.ingress && `nicIngressLimit: tc htb on the host veth failed: ${nic.ingress}`,
      nic === null ? 'nicEgressLimit: not probed yet (the node has no container image to probe with)' : nic.egress && `nicEgressLimit: tc police (act_police) on the host veth failed: ${nic.egress}`,
      'liveMigration: CRIU cannot be verified through LXD',
    ].filter((r): r is string => typeof r === 'string'),
  };
  for (const warning of warnings) {
    if (warning.status === 'resolved') continue;
    const text = `${warning.type} (${warning.message})`;
    for (const [feature, pattern] of WARNED) {
      if (caps[feature] && pattern.test(text)) {
        caps[feature] = false;
        caps.reasons.push(`${feature}: ${text}`);
      }
    }
  }
  return caps;
}

/** Parses LXD's size strings as Corral writes them (`<n>B`) and the common unit forms. */
export function parseSize(value: string | undefined): number | null {
  if (!value) return null;
  const match = /^(\d+)\s*(B|kB|MB|GB|TB|KiB|MiB|GiB|TiB)?$/.exec(value.trim());
  if (!match) return null;
  const units: Record<string, number> = { B: 1, kB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12, KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30, TiB: 2 ** 40 };
  return Number(match[1]) * units[match[2] ?? 'B']!;
}

/** The LXD implementation: the node's pinned client from {@link LxdGateway.clientFor}. */
export class LxdResourcesGateway implements ResourcesGateway {
  /**
   * NIC limit probes per node (and node certificate), once per process: the probe starts a
   * throwaway container. One that found nothing to probe with, or failed, is tried again.
   */
  private readonly nicProbes = new Map<string, Promise<NicLimitsProbe | null>>();

  constructor(private readonly gateway: LxdGateway) {}

  private nicLimits(node: Node, storagePool: string): Promise<NicLimitsProbe | null> {
    const key = `${node.id}/${node.fingerprint}/${storagePool}`;
    let probe = this.nicProbes.get(key);
    if (!probe) {
      probe = (async () => probeNicLimits(await this.gateway.clientFor(node), storagePool))();
      this.nicProbes.set(key, probe);
      probe.then(
        (found) => found === null && this.nicProbes.delete(key),
        () => this.nicProbes.delete(key),
      );
    }
    return probe;
  }

  async patchConfig(node: Node, project: string, name: string, config: Record<string, string>): Promise<Record<string, string>> {
    const client = await this.gateway.clientFor(node);
    const before = config['limits.cpu'] === undefined ? null : await getInstance(client, project, name);
    await client.sync('PATCH', lxdPath`/1.0/instances/${name}`, { project, body: { config } });
    const count = config['limits.cpu'];
    if (before && count !== undefined && /^\d+$/.test(count) && before.status === 'Running' && before.config['limits.cpu'] !== count) {
      // LXD 5.0.2 triggers its CPU re-balance before it commits the new limits.cpu, so the
      // scheduler may still read the old count and leave the cpuset as it was (seen in the lab:
      // limits.cpu=1 with cpuset.cpus 0-1 for good). Two more changes that mean the same count
      // ("0N", then "N") trigger it again after the commit, whichever value it reads.
      for (const nudge of [`0${count}`, count]) {
        await client.sync('PATCH', lxdPath`/1.0/instances/${name}`, { project, body: { config: { 'limits.cpu': nudge } } });
      }
    }
    const instance = await getInstance(client, project, name);
    if (!instance) throw new LxdError(`Instance not found: ${name}`, { status: 404 });
    return instance.config;
  }

  async rootDisk(node: Node, project: string, name: string): Promise<RootDisk | null> {
    const client = await this.gateway.clientFor(node);
    const instance = await getInstance(client, project, name);
    if (!instance) return null;
    const device = instance.devices.root ?? instance.expandedDevices.root;
    if (!device) throw new LxdError(`instance ${name} has no root disk`, { status: 500, lxdCode: 0 });
    const state = await getInstanceState(client, project, name);
    const usage = state?.disk.root?.usage;
    return { device: { ...device }, sizeBytes: parseSize(device.size), usageBytes: typeof usage === 'number' ? usage : null };
  }

  async setRootDisk(node: Node, project: string, name: string, device: Record<string, string>): Promise<Record<string, string>> {
    const client = await this.gateway.clientFor(node);
    await client.sync('PATCH', lxdPath`/1.0/instances/${name}`, { project, body: { devices: { root: device } } });
    const instance = await getInstance(client, project, name);
    if (!instance?.devices.root) throw new LxdError(`instance ${name} has no root disk after the resize`, { status: 500, lxdCode: 0 });
    return instance.devices.root;
  }

  async devices(node: Node, project: string, name: string): Promise<Record<string, Record<string, string>> | null> {
    const instance = await getInstance(await this.gateway.clientFor(node), project, name);
    return instance ? { ...instance.expandedDevices, ...instance.devices } : null;
  }

  async patchInstance(node: Node, project: string, name: string, body: { config?: Record<string, string>; devices?: Record<string, Record<string, string>> }) {
    const client = await this.gateway.clientFor(node);
    await client.sync('PATCH', lxdPath`/1.0/instances/${name}`, { project, body });
    const instance = await getInstance(client, project, name);
    if (!instance) throw new LxdError(`Instance not found: ${name}`, { status: 404 });
    return { config: instance.config, devices: instance.devices };
  }

  async capabilities(node: Node, storagePool: string): Promise<NodeCapabilities> {
    const client = await this.gateway.clientFor(node);
    const [pool, warnings] = await Promise.all([getStoragePool(client, storagePool), listWarnings(client)]);
    const nic = pool
      ? await this.nicLimits(node, storagePool).catch((error: Error): NicLimitsProbe => {
          const failed = `the probe failed: ${error.message.split('\n')[0]}`;
          return { ingress: failed, egress: failed };
        })
      : null;
    return capabilitiesFrom(pool?.driver ?? null, warnings, nic);
  }
}

/**
 * The resources gateway for the process's node gateway: LXD's, or the one a test stand-in
 * carries as `resources`.
 */
export function resourcesGatewayFor(gateway: NodeGateway): ResourcesGateway {
  if (gateway instanceof LxdGateway) return new LxdResourcesGateway(gateway);
  const carried = (gateway as { resources?: ResourcesGateway }).resources;
  if (carried) return carried;
  const unsupported = async (): Promise<never> => {
    throw new LxdError('this node gateway cannot change resources', { status: 501, lxdCode: 0 });
  };
  return { patchConfig: unsupported, rootDisk: unsupported, setRootDisk: unsupported, devices: unsupported, patchInstance: unsupported, capabilities: unsupported };
}
