import { createHash } from 'node:crypto';
import type { ResourcesGateway } from '../../server/containers/resources.gateway';
import type { NodeCapabilities } from '../../server/nodes/node-capabilities';
import type { Image } from '../../server/images/image.entity';
import type { InstanceSpec, InstanceSummary, LifecycleEvent, NodeCapacity, NodeGateway } from '../../server/nodes/node-gateway';
import type { Node } from '../../server/nodes/node.entity';

/**
 * An in-memory stand-in for LXD, for fast tests of Corral's own logic (authorization, operations,
 * placement) on both databases. Acceptance runs against the lab's real LXD (test/e2e).
 */
export class FakeGateway implements NodeGateway {
  readonly instances = new Map<string, { node: string; status: string }>();
  readonly images = new Set<string>();
  capacityOf: NodeCapacity = { cpuThreads: 8, memoryBytes: 16 * 1024 ** 3, diskBytes: 200 * 1024 ** 3 };
  /** Make the next calls wait on this, to hold an operation in the middle. */
  gate: Promise<void> | null = null;

  /** Instance config and root disk (with its usage) per instance, for resource changes. */
  readonly configs = new Map<string, { config: Record<string, string>; root: Record<string, string>; usageBytes: number }>();

  /** What every fake node reports it can enforce. */
  capabilitiesOf: NodeCapabilities = { diskQuota: true, cpuAllowance: true, memoryLimit: true, blkioWeight: true, blkioThrottle: true, netPrio: true, nicIngressLimit: true, nicEgressLimit: true, liveMigration: true, reasons: [] };

  private key = (node: Node, project: string, name: string) => `${node.id}/${project}/${name}`;

  /** The resources gateway (resources.gateway.ts) over the same in-memory instances. */
  readonly resources: ResourcesGateway = {
    patchConfig: async (node, project, name, config) => {
      await this.gate;
      const entry = this.configOf(node, project, name);
      Object.assign(entry.config, config);
      return { ...entry.config };
    },
    rootDisk: async (node, project, name) => {
      if (!this.instances.has(this.key(node, project, name))) return null;
      const entry = this.configOf(node, project, name);
      return { device: { ...entry.root }, sizeBytes: Number.parseInt(entry.root.size ?? '', 10) || null, usageBytes: entry.usageBytes };
    },
    setRootDisk: async (node, project, name, device) => {
      await this.gate;
      const entry = this.configOf(node, project, name);
      entry.root = { ...device };
      return { ...entry.root };
    },
    devices: async (node, project, name) => {
      if (!this.instances.has(this.key(node, project, name))) return null;
      return { root: { ...this.configOf(node, project, name).root } };
    },
    patchInstance: async (node, project, name, body) => {
      await this.gate;
      const entry = this.configOf(node, project, name);
      Object.assign(entry.config, body.config ?? {});
      if (body.devices?.root) entry.root = { ...body.devices.root };
      return { config: { ...entry.config }, devices: { root: { ...entry.root } } };
    },
    capabilities: async () => ({ ...this.capabilitiesOf, reasons: [...this.capabilitiesOf.reasons] }),
  };

  private configOf(node: Node, project: string, name: string) {
    const key = this.key(node, project, name);
    if (!this.instances.has(key)) throw Object.assign(new Error('Instance not found'), { status: 404 });
    let entry = this.configs.get(key);
    if (!entry) this.configs.set(key, (entry = { config: {}, root: { type: 'disk', path: '/', pool: 'default' }, usageBytes: 1024 * 1024 }));
    return entry;
  }

  async enrol(url: string, secret: string) {
    if (secret !== 'fake-secret') throw new Error('not authorised');
    return { serverCertificate: `-----BEGIN CERTIFICATE-----\n${url}\n-----END CERTIFICATE-----\n`, fingerprint: createHash('sha256').update(url).digest('hex') };
  }
  async capacity() {
    return this.capacityOf;
  }
  async ensureProject() {}
  async ensureImage(node: Node, image: Image) {
    await this.gate;
    this.images.add(`${node.id}/${image.fingerprint}`);
  }
  async createInstance(node: Node, project: string, spec: InstanceSpec) {
    await this.gate;
    const key = this.key(node, project, spec.name);
    if (this.instances.has(key)) throw Object.assign(new Error('already exists'), { status: 400 });
    this.instances.set(key, { node: node.id, status: 'Stopped' });
    this.configs.set(key, { config: { 'limits.cpu': String(spec.cpu), 'limits.memory': `${spec.memoryBytes}B` }, root: { type: 'disk', path: '/', pool: spec.storagePool, size: `${spec.diskBytes}B` }, usageBytes: 1024 * 1024 });
  }
  async instanceStatus(node: Node, project: string, name: string) {
    return this.instances.get(this.key(node, project, name))?.status ?? null;
  }
  async setState(node: Node, project: string, name: string, action: 'start' | 'stop' | 'restart') {
    await this.gate;
    const instance = this.instances.get(this.key(node, project, name));
    if (!instance) throw Object.assign(new Error('Instance not found'), { status: 404 });
    instance.status = action === 'stop' ? 'Stopped' : 'Running';
  }
  /** Root password hashes set with `setRootPasswordHash`, by `node/project/name`. */
  readonly rootPasswords = new Map<string, string>();
  async setRootPasswordHash(node: Node, project: string, name: string, shadowHash: string) {
    await this.gate;
    const instance = this.instances.get(this.key(node, project, name));
    if (!instance) throw Object.assign(new Error('Instance not found'), { status: 404 });
    if (instance.status !== 'Running') throw Object.assign(new Error('Instance is not running'), { status: 400 });
    this.rootPasswords.set(this.key(node, project, name), shadowHash);
  }
  /** Cold migration (migration.gateway.ts): copies the stopped instance and its config to another node. */
  async copyInstance(source: Node, target: Node, project: string, name: string) {
    await this.gate;
    const from = this.key(source, project, name);
    const instance = this.instances.get(from);
    if (!instance) throw Object.assign(new Error('Instance not found'), { status: 404 });
    if (instance.status !== 'Stopped') throw Object.assign(new Error('Instance is running'), { status: 400 });
    const to = this.key(target, project, name);
    if (this.instances.has(to)) throw Object.assign(new Error('already exists'), { status: 409 });
    this.instances.set(to, { node: target.id, status: 'Stopped' });
    const config = this.configs.get(from);
    if (config) this.configs.set(to, { config: { ...config.config }, root: { ...config.root }, usageBytes: config.usageBytes });
  }
  async removeInstance(node: Node, project: string, name: string) {
    await this.deleteInstance(node, project, name);
  }
  async deleteInstance(node: Node, project: string, name: string) {
    await this.gate;
    this.instances.delete(this.key(node, project, name));
  }
  async listInstances(node: Node): Promise<InstanceSummary[]> {
    return [...this.instances.entries()]
      .filter(([, v]) => v.node === node.id)
      .map(([k, v]) => {
        const [, project, name] = k.split('/');
        return { project: project!, name: name!, status: v.status };
      });
  }
  async watch(_node: Node, _onEvent: (event: LifecycleEvent) => void) {
    return { close: () => undefined };
  }
  forget() {}
  async close() {}
}
