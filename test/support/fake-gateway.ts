import { createHash, randomUUID } from 'node:crypto';
import type { NicsGateway, NodeNetwork } from '../../server/containers/nics.gateway';
import type { AddressNodes, LiveResult } from '../../server/network/addresses.gateway';
import fs from 'node:fs';
import { Readable } from 'node:stream';
import type { BackupNodes } from '../../server/backups/backups.gateway';
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
      return { ...structuredClone(this.nicDevices.get(this.key(node, project, name)) ?? {}), root: { ...this.configOf(node, project, name).root } };
    },
    patchInstance: async (node, project, name, body) => {
      await this.gate;
      const entry = this.configOf(node, project, name);
      Object.assign(entry.config, body.config ?? {});
      if (body.devices?.root) entry.root = { ...body.devices.root };
      const nics = this.nicDevices.get(this.key(node, project, name)) ?? {};
      for (const [device, config] of Object.entries(body.devices ?? {})) if (device !== 'root') nics[device] = { ...config };
      if (Object.keys(nics).length) this.nicDevices.set(this.key(node, project, name), nics);
      return { config: { ...entry.config }, devices: { ...structuredClone(nics), root: { ...entry.root } } };
    },
    capabilities: async () => ({ ...this.capabilitiesOf, reasons: [...this.capabilitiesOf.reasons] }),
  };

  /** Managed networks by `node/name` (a project's bridge appears when ensured), and NIC devices by `node/project/name`. */
  readonly networks = new Map<string, NodeNetwork>();
  readonly nicDevices = new Map<string, Record<string, Record<string, string>>>();

  /** The NICs gateway (nics.gateway.ts) over the same in-memory instances. */
  readonly nics: NicsGateway = {
    network: async (node, name) => this.networks.get(`${node.id}/${name}`) ?? null,
    ensureProjectBridge: async (node, projectId) => {
      await this.gate;
      const name = `crb${projectId.replaceAll('-', '').slice(-12)}`;
      if (!this.networks.has(`${node.id}/${name}`)) this.networks.set(`${node.id}/${name}`, { name, type: 'bridge', managed: true, attachable: false, project: projectId });
    },
    devices: async (node, project, name) => {
      if (!this.instances.has(this.key(node, project, name))) return null;
      const own = { ...structuredClone(this.nicDevices.get(this.key(node, project, name)) ?? {}), root: { ...this.configOf(node, project, name).root } };
      return { own, expanded: own };
    },
    attach: async (node, project, name, device, config) => {
      await this.gate;
      const key = this.key(node, project, name);
      if (!this.instances.has(key)) throw Object.assign(new Error('Instance not found'), { status: 404 });
      this.nicDevices.set(key, { ...this.nicDevices.get(key), [device]: { ...config } });
      return { ...config };
    },
    detach: async (node, project, name, device) => {
      await this.gate;
      delete this.nicDevices.get(this.key(node, project, name))?.[device];
    },
  };

  /** Every routed-eth0 change (addresses.gateway.ts), in order: the device set (null: removed) and whether it was configured inside. */
  readonly addressChanges: { instance: string; device: Record<string, string> | null; live: LiveResult }[] = [];

  /** The addresses gateway (addresses.gateway.ts): eth0 kept with the other NIC devices. */
  readonly addresses: AddressNodes = {
    applyRoutedNic: async (node, project, name, device) => {
      await this.gate;
      const key = this.key(node, project, name);
      const instance = this.instances.get(key);
      if (!instance) throw Object.assign(new Error('Instance not found'), { status: 404 });
      const nics = this.nicDevices.get(key) ?? {};
      if (device) nics.eth0 = { ...device };
      else delete nics.eth0;
      this.nicDevices.set(key, nics);
      const live: LiveResult = device && instance.status === 'Running' ? 'configured' : 'stopped';
      this.addressChanges.push({ instance: key, device: device ? { ...device } : null, live });
      return live;
    },
  };

  /** LXD backups by `node/project/instance/backup`, each a copy of the instance's config when taken. */
  readonly backupStore = new Map<string, { config: Record<string, string> }>();
  /** Every tarball ever exported, by its content: it stays importable wherever it was copied to (Corral's archive), after the node's copy is gone. */
  readonly tarballs = new Map<string, { config: Record<string, string> }>();

  /** The backups gateway (backups.gateway.ts): an export's body is the backup's key, which an import reads back. */
  readonly backups: BackupNodes = {
    createBackup: async (node, project, instance, backup) => {
      await this.gate;
      const key = this.key(node, project, instance);
      if (!this.instances.has(key)) throw Object.assign(new Error('Instance not found'), { status: 404 });
      this.backupStore.set(`${key}/${backup}`, { config: { ...(this.configs.get(key)?.config ?? {}) } });
      this.tarballs.set(`${key}/${backup}`, this.backupStore.get(`${key}/${backup}`)!);
    },
    backupExists: async (node, project, instance, backup) => this.backupStore.has(`${this.key(node, project, instance)}/${backup}`),
    deleteBackup: async (node, project, instance, backup) => {
      await this.gate;
      this.backupStore.delete(`${this.key(node, project, instance)}/${backup}`);
    },
    exportBackup: async (node, project, instance, backup) => {
      const key = `${this.key(node, project, instance)}/${backup}`;
      return this.backupStore.has(key) ? { size: Buffer.byteLength(key), body: Readable.from([Buffer.from(key)]) } : null;
    },
    importBackup: async (node, project, name, _pool, file) => {
      await this.gate;
      const stored = this.tarballs.get(fs.readFileSync(file, 'utf8'));
      if (!stored) throw Object.assign(new Error('not a backup tarball'), { status: 400 });
      const key = this.key(node, project, name);
      if (this.instances.has(key)) throw Object.assign(new Error('Create instance from backup: Cannot restore volume, already exists on target'), { status: 400 });
      this.instances.set(key, { node: node.id, status: 'Stopped' });
      this.configs.set(key, { config: { ...stored.config }, root: { type: 'disk', path: '/', pool: 'default' }, usageBytes: 1024 * 1024 });
    },
    refreshFrom: async (node, project, target, source) => {
      await this.gate;
      const from = this.instances.get(this.key(node, project, source));
      const to = this.instances.get(this.key(node, project, target));
      if (!from || !to) throw Object.assign(new Error('Instance not found'), { status: 404 });
      if (to.status !== 'Stopped') throw Object.assign(new Error('The instance is running'), { status: 400 });
      this.restoredFrom.set(this.key(node, project, target), source);
    },
    copyInstance: async (node, project, source, name, config, devices) => {
      await this.gate;
      const from = this.configs.get(this.key(node, project, source));
      if (!from || !this.instances.has(this.key(node, project, source))) throw Object.assign(new Error('Instance not found'), { status: 404 });
      if (this.instances.has(this.key(node, project, name))) throw Object.assign(new Error('This "instances" entry already exists'), { status: 400 });
      const copied = Object.fromEntries(Object.entries(from.config).filter(([k]) => !k.startsWith('volatile.')));
      this.instances.set(this.key(node, project, name), { node: node.id, status: 'Stopped' });
      this.configs.set(this.key(node, project, name), { config: { ...copied, ...config, 'volatile.uuid': randomUUID(), 'volatile.cloud-init.instance-id': randomUUID() }, root: { ...(devices.root ?? from.root) }, usageBytes: from.usageBytes });
    },
    removeInstance: (node, project, name) => this.deleteInstance(node, project, name),
  };
  /** Which temporary instance each restored instance last took its data from. */
  readonly restoredFrom = new Map<string, string>();

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
  /** Corral's client certificate as the fake hands it to the node playbook. */
  clientCertificatePem = '-----BEGIN CERTIFICATE-----\nfake corral client\n-----END CERTIFICATE-----\n';
  /** Whether fake nodes trust Corral (a node whose playbook did not trust the certificate answers false). */
  trusts = true;
  async clientCertificate() {
    return this.clientCertificatePem;
  }
  async trusted() {
    return this.trusts;
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
    this.configs.set(key, { config: { 'limits.cpu': String(spec.cpu), 'limits.memory': `${spec.memoryBytes}B`, ...spec.userData, ...spec.network?.config }, root: { type: 'disk', path: '/', pool: spec.storagePool, size: `${spec.diskBytes}B` }, usageBytes: 1024 * 1024 });
    if (spec.network && Object.keys(spec.network.devices).length) this.nicDevices.set(key, structuredClone(spec.network.devices));
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
  /** The mode of every copyInstance, in order (`PULL` when none was given). */
  readonly copyModes: string[] = [];
  async copyInstance(source: Node, target: Node, project: string, name: string, _deadlineMs?: number, mode?: string) {
    this.copyModes.push(mode ?? 'PULL');
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
    const nics = this.nicDevices.get(from);
    if (nics) this.nicDevices.set(to, structuredClone(nics));
  }
  async removeInstance(node: Node, project: string, name: string) {
    await this.deleteInstance(node, project, name);
  }
  async deleteInstance(node: Node, project: string, name: string) {
    await this.gate;
    this.instances.delete(this.key(node, project, name));
    // LXD deletes an instance's backups with it.
    for (const key of this.backupStore.keys()) if (key.startsWith(`${this.key(node, project, name)}/`)) this.backupStore.delete(key);
  }
  /** Clones (clone.gateway.ts): copies the instance (running or not) and its config as another, stopped instance, on the same node or another. */
  async cloneInstance(source: Node, target: Node, project: string, sourceName: string, cloneName: string) {
    await this.gate;
    const from = this.key(source, project, sourceName);
    if (!this.instances.has(from)) throw Object.assign(new Error('Instance not found'), { status: 404 });
    const to = this.key(target, project, cloneName);
    if (this.instances.has(to)) throw Object.assign(new Error('already exists'), { status: 409 });
    this.instances.set(to, { node: target.id, status: 'Stopped' });
    const config = this.configs.get(from);
    if (config) this.configs.set(to, { config: { ...config.config }, root: { ...config.root }, usageBytes: config.usageBytes });
  }
  /** Images published from instances (image-from-container.gateway.ts), by fingerprint: their stand-in tarball. */
  readonly publishedImages = new Map<string, string>();
  async publishInstance(node: Node, project: string, name: string) {
    await this.gate;
    if (!this.instances.has(this.key(node, project, name))) throw Object.assign(new Error('Instance not found'), { status: 404 });
    const content = `stand-in image of ${project}/${name} #${this.publishedImages.size}`;
    const fingerprint = createHash('sha256').update(content).digest('hex');
    this.publishedImages.set(fingerprint, content);
    return fingerprint;
  }
  async exportImage(_node: Node, fingerprint: string, file: string) {
    const content = this.publishedImages.get(fingerprint);
    if (content === undefined) throw Object.assign(new Error('Image not found'), { status: 404 });
    await fs.promises.writeFile(file, content);
  }
  async removeImage(_node: Node, fingerprint: string) {
    this.publishedImages.delete(fingerprint);
  }
  /** Metrics counters per `node/project/name` (metrics.gateway.ts); a running instance without an entry reports zeros. */
  readonly counters = new Map<string, { cpuNs: number; memoryBytes: number; diskBytes: number | null; rxBytes: number; txBytes: number }>();
  /** Every node sampleMetrics was asked about, in order. */
  readonly sampledNodes: string[] = [];
  async sampleMetrics(node: Node) {
    this.sampledNodes.push(node.id);
    return (await this.listInstances(node)).map((i) => ({ ...i, ...(this.counters.get(this.key(node, i.project, i.name)) ?? { cpuNs: 0, memoryBytes: 0, diskBytes: null, rxBytes: 0, txBytes: 0 }) }));
  }
  async listInstances(node: Node): Promise<InstanceSummary[]> {
    return [...this.instances.entries()]
      .filter(([, v]) => v.node === node.id)
      .map(([k, v]) => {
        const [, project, name] = k.split('/');
        return { project: project!, name: name!, status: v.status };
      });
  }
  /** Open event streams by node id: a test pushes LXD lifecycle events through them, or drops one (`onClose`). */
  readonly watchers = new Map<string, { onEvent: (event: LifecycleEvent) => void; onClose: (error?: unknown) => void }>();
  async watch(node: Node, onEvent: (event: LifecycleEvent) => void, onClose: (error?: unknown) => void = () => undefined) {
    this.watchers.set(node.id, { onEvent, onClose });
    return {
      close: () => {
        if (this.watchers.get(node.id)?.onEvent === onEvent) this.watchers.delete(node.id);
      },
    };
  }
  forget() {}
  async close() {}
}
