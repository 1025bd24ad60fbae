import { z } from 'zod';
import { lxdPath, parseMetadata } from '../lxd/client';
import { isConflict, isNotFound, LxdError } from '../lxd/errors';
import { getInstance } from '../lxd/instances';
import { LxdGateway } from '../nodes/lxd-gateway';
import type { NodeGateway } from '../nodes/node-gateway';
import type { Node } from '../nodes/node.entity';

/**
 * The bridge Corral attaches BRIDGED NICs to when none is named: one managed LXD bridge per
 * tenant project on each node, `crb` and the last 12 hex digits of the project's ID (interface
 * names have at most 15 characters), in the node's default project (tenant projects share the
 * default project's networks). Layer 2 only (`ipv4.address=none`, `ipv6.address=none`: no
 * dnsmasq, no NAT, no firewall rules). Corral creates it on first use.
 *
 * Per project, not one for all: LXD 5.0.2 refuses a second NIC of any instance with the same
 * name on one managed bridge, across all projects ("Instance DNS name … already used on
 * network"), so a shared bridge would let one tenant's container names block (and reveal
 * themselves to) another's. A project bridge also keeps tenants apart on layer 2.
 */
export const projectBridge = (projectId: string) => `crb${projectId.replaceAll('-', '').slice(-12)}`;

/** The config key that lets every tenant attach NICs to a managed bridge the provider made; Corral's project bridges never carry it. */
export const ATTACHABLE_KEY = 'user.corral.attachable';
/** The config key naming the tenant project a Corral project bridge belongs to. */
export const PROJECT_KEY = 'user.corral.project';

/** A managed network on a node, as far as NICs care. */
export interface NodeNetwork {
  name: string;
  type: string;
  managed: boolean;
  /** Carries `user.corral.attachable=true`: every tenant may attach NICs to it. */
  attachable: boolean;
  /** The tenant project whose bridge it is (`user.corral.project`), if it is one of Corral's project bridges. */
  project: string | null;
}

/** The node-side calls of adding and removing NICs. Every method is bounded in time and safe to repeat. */
export interface NicsGateway {
  /** `GET /1.0/networks/{name}` (default project); null when it does not exist. */
  network(node: Node, name: string): Promise<NodeNetwork | null>;
  /** Creates the project's bridge (see projectBridge) when missing; losing a creation race is fine. */
  ensureProjectBridge(node: Node, projectId: string): Promise<void>;
  /** The instance's own devices and its expanded ones (profiles included); null when the instance does not exist. */
  devices(node: Node, project: string, name: string): Promise<{ own: Record<string, Record<string, string>>; expanded: Record<string, Record<string, string>> } | null>;
  /** `PATCH` of one device: LXD hot-plugs a NIC into a running container. Returns the device read back. */
  attach(node: Node, project: string, name: string, device: string, config: Record<string, string>): Promise<Record<string, string>>;
  /** Removes one of the instance's own devices (GET with ETag, PUT without it, `If-Match`): PATCH cannot remove a device. A missing one counts as removed. */
  detach(node: Node, project: string, name: string, device: string): Promise<void>;
}

const networkSchema = z.object({ name: z.string(), type: z.string().default(''), managed: z.boolean().default(false), config: z.record(z.string(), z.string()).nullable().default({}) });

/** The LXD implementation over the node's pinned client (LXD-NOTES: PATCH to add, PUT + ETag to remove). */
export class LxdNicsGateway implements NicsGateway {
  constructor(private readonly lxd: Pick<LxdGateway, 'clientFor'>) {}

  async network(node: Node, name: string): Promise<NodeNetwork | null> {
    const client = await this.lxd.clientFor(node);
    try {
      const { metadata } = await client.sync('GET', lxdPath`/1.0/networks/${name}`, { project: 'default' });
      const n = parseMetadata(networkSchema, metadata, 'GET /1.0/networks/{name}');
      return { name: n.name, type: n.type, managed: n.managed, attachable: n.config?.[ATTACHABLE_KEY] === 'true', project: n.config?.[PROJECT_KEY] ?? null };
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
  }

  async ensureProjectBridge(node: Node, projectId: string): Promise<void> {
    const name = projectBridge(projectId);
    if (await this.network(node, name)) return;
    const client = await this.lxd.clientFor(node);
    try {
      await client.sync('POST', lxdPath`/1.0/networks`, {
        project: 'default',
        body: {
          name,
          type: 'bridge',
          description: `Corral: bridged NICs of tenant project ${projectId} (layer 2 only)`,
          config: { 'ipv4.address': 'none', 'ipv6.address': 'none', [PROJECT_KEY]: projectId },
        },
      });
    } catch (error) {
      if (!(isConflict(error) || /already exists/i.test((error as Error).message))) throw error;
    }
  }

  async devices(node: Node, project: string, name: string) {
    const instance = await getInstance(await this.lxd.clientFor(node), project, name);
    return instance ? { own: instance.devices, expanded: { ...instance.expandedDevices, ...instance.devices } } : null;
  }

  async attach(node: Node, project: string, name: string, device: string, config: Record<string, string>): Promise<Record<string, string>> {
    const client = await this.lxd.clientFor(node);
    await client.sync('PATCH', lxdPath`/1.0/instances/${name}`, { project, body: { devices: { [device]: config } } });
    const instance = await getInstance(client, project, name);
    const applied = instance?.devices[device];
    if (!applied) throw new LxdError(`device ${device} is missing on instance ${name} after it was added`, { status: 500, lxdCode: 0 });
    return applied;
  }

  async detach(node: Node, project: string, name: string, device: string): Promise<void> {
    const client = await this.lxd.clientFor(node);
    // Another writer between GET and PUT makes the ETag fail (412): read again.
    for (let attempt = 1; ; attempt++) {
      let current;
      try {
        current = await client.sync('GET', lxdPath`/1.0/instances/${name}`, { project });
      } catch (error) {
        if (isNotFound(error)) return;
        throw error;
      }
      const instance = current.metadata as Record<string, unknown> & { devices?: Record<string, unknown> | null };
      if (!instance.devices?.[device]) return;
      const devices = { ...instance.devices };
      delete devices[device];
      const body = {
        architecture: instance.architecture,
        config: instance.config,
        devices,
        ephemeral: instance.ephemeral,
        profiles: instance.profiles,
        stateful: instance.stateful,
        description: instance.description,
      };
      try {
        // LXD answers a PUT of an instance with an operation ("Updating instance").
        const reply = await client.request('PUT', lxdPath`/1.0/instances/${name}`, { project, body, ...(current.etag ? { headers: { 'if-match': current.etag } } : {}) });
        if (reply.type === 'async') await client.wait(reply.operation, { project });
        return;
      } catch (error) {
        if ((error as { status?: number }).status !== 412 || attempt >= 3) throw error;
      }
    }
  }
}

/** Test doubles of the node gateway (test/support/fake-gateway.ts) carry their own as `nics`. */
export function nicsGatewayFor(gateway: NodeGateway): NicsGateway {
  if (gateway instanceof LxdGateway) return new LxdNicsGateway(gateway);
  const carried = (gateway as { nics?: NicsGateway }).nics;
  if (carried) return carried;
  const unsupported = async (): Promise<never> => {
    throw new LxdError('this node gateway cannot change network interfaces', { status: 501, lxdCode: 0 });
  };
  return { network: unsupported, ensureProjectBridge: unsupported, devices: unsupported, attach: unsupported, detach: unsupported };
}
