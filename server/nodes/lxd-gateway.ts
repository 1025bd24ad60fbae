import type { DataSource } from 'typeorm';
import type { Logger } from '../app/logger';
import type { Image } from '../images/image.entity';
import { LxdClient } from '../lxd/client';
import { isNotFound } from '../lxd/errors';
import { instanceNameOf, lifecycleOf, watchEvents } from '../lxd/events';
import { generateClientIdentity, type ClientIdentity } from '../lxd/identity';
import { getImage, uploadImage } from '../lxd/images';
import { createInstance, deleteInstance, getInstanceState, listInstances, setInstanceState } from '../lxd/instances';
import { ensureProject } from '../lxd/projects';
import { getResources, getServer } from '../lxd/server';
import { LxdIdentity } from './lxd-identity.entity';
import type { InstanceSpec, InstanceSummary, LifecycleEvent, NodeCapacity, NodeGateway } from './node-gateway';
import type { Node } from './node.entity';

const IDENTITY_ID = 'corral';

/**
 * Tenant projects on a node: their own instances, profiles and storage volumes, the default
 * project's images (so an image is uploaded once per node), routed NICs allowed. LXD refuses to
 * restrict a project that shares the default project's profiles, so each gets its own.
 */
const TENANT_PROJECT_CONFIG = {
  'features.images': 'false',
  'features.profiles': 'true',
  'features.storage.volumes': 'true',
  'features.networks': 'false',
  restricted: 'true',
  'restricted.devices.nic': 'allow',
  'restricted.snapshots': 'allow',
  'restricted.backups': 'allow',
};

/** The LXD implementation of NodeGateway: one pinned client per node, Corral's identity from the database. */
export class LxdGateway implements NodeGateway {
  private identity: Promise<ClientIdentity> | undefined;
  private readonly clients = new Map<string, { fingerprint: string; client: LxdClient }>();
  /** Image uploads in flight per node and fingerprint, so that parallel creates upload once. */
  private readonly uploads = new Map<string, Promise<void>>();
  /**
   * Projects and images known to be on a node, so that a create costs no extra round trips once
   * they are there. Forgotten with the node's client; a stale entry only makes LXD answer 404,
   * which fails the operation cleanly.
   */
  private readonly known = new Set<string>();

  constructor(
    private readonly db: DataSource,
    private readonly log: Logger,
  ) {}

  /** Corral's client key pair: generated on first use, kept in the database, never shown. */
  private clientIdentity(): Promise<ClientIdentity> {
    this.identity ??= (async () => {
      const stored = await this.db.manager.findOneBy(LxdIdentity, { id: IDENTITY_ID });
      if (stored) return { certificate: stored.certificate, key: stored.key };
      const fresh = await generateClientIdentity('corral');
      // Another replica may have stored one meanwhile: the first one stored wins.
      await this.db.manager.createQueryBuilder().insert().into(LxdIdentity).values({ id: IDENTITY_ID, ...fresh }).orIgnore().execute();
      const kept = await this.db.manager.findOneByOrFail(LxdIdentity, { id: IDENTITY_ID });
      return { certificate: kept.certificate, key: kept.key };
    })();
    this.identity.catch(() => (this.identity = undefined));
    return this.identity;
  }

  /** The pinned client of a node, for node-side work that lives outside this gateway (day-2 operations). */
  clientFor(node: Node): Promise<LxdClient> {
    return this.client(node);
  }

  private async client(node: Node): Promise<LxdClient> {
    const cached = this.clients.get(node.id);
    if (cached && cached.fingerprint === node.fingerprint) return cached.client;
    if (cached) void cached.client.close();
    // A node that stops answering should show as OFFLINE within seconds, not after a long TCP timeout.
    const client = new LxdClient({ url: node.url, serverCertificate: node.serverCertificate, fingerprint: node.fingerprint }, await this.clientIdentity(), { requestTimeoutMs: 10_000 });
    this.clients.set(node.id, { fingerprint: node.fingerprint, client });
    return client;
  }

  async clientCertificate(): Promise<string> {
    return (await this.clientIdentity()).certificate;
  }

  async trusted(node: Node): Promise<boolean> {
    return (await getServer(await this.client(node))).auth === 'trusted';
  }

  async enrol(url: string, secret: string) {
    return LxdClient.enrol(url, await this.clientIdentity(), secret);
  }

  async capacity(node: Node, storagePool: string): Promise<NodeCapacity> {
    const resources = await getResources(await this.client(node), { pool: storagePool });
    return { cpuThreads: resources.cpu.threads, memoryBytes: resources.memory.total, diskBytes: resources.storage.total };
  }

  async ensureProject(node: Node, project: string, storagePool: string): Promise<void> {
    const key = `${node.id}/project/${project}`;
    if (this.known.has(key)) return;
    await ensureProject(await this.client(node), project, { config: TENANT_PROJECT_CONFIG, description: 'Corral tenant project', rootDisk: { pool: storagePool } });
    this.known.add(key);
  }

  async ensureImage(node: Node, image: Image): Promise<void> {
    const key = `${node.id}/image/${image.fingerprint}`;
    if (this.known.has(key)) return;
    let upload = this.uploads.get(key);
    if (!upload) {
      upload = (async () => {
        const client = await this.client(node);
        if (await getImage(client, image.fingerprint)) return;
        this.log.info({ node: node.name, image: image.name }, 'copying image to node');
        await uploadImage(client, image.path);
      })()
        .then(() => void this.known.add(key))
        .finally(() => this.uploads.delete(key));
      this.uploads.set(key, upload);
    }
    await upload;
  }

  async createInstance(node: Node, project: string, spec: InstanceSpec): Promise<void> {
    await createInstance(await this.client(node), project, {
      name: spec.name,
      source: { type: 'image', fingerprint: spec.image.fingerprint },
      config: { 'limits.cpu': String(spec.cpu), 'limits.memory': `${spec.memoryBytes}B`, ...spec.userData, ...spec.network?.config },
      devices: { root: { type: 'disk', path: '/', pool: spec.storagePool, size: `${spec.diskBytes}B` }, ...spec.network?.devices },
    });
  }

  async instanceStatus(node: Node, project: string, name: string): Promise<string | null> {
    return (await getInstanceState(await this.client(node), project, name))?.status ?? null;
  }

  async setState(node: Node, project: string, name: string, action: 'start' | 'stop' | 'restart', force: boolean): Promise<void> {
    await setInstanceState(await this.client(node), project, name, { action, force });
  }

  async deleteInstance(node: Node, project: string, name: string): Promise<void> {
    try {
      await deleteInstance(await this.client(node), project, name);
    } catch (error) {
      // The whole project may be gone too: then so is the instance.
      if (!isNotFound(error)) throw error;
    }
  }

  async listInstances(node: Node): Promise<InstanceSummary[]> {
    return (await listInstances(await this.client(node), { allProjects: true })).map((i) => ({ project: i.project, name: i.name, status: i.status }));
  }

  async watch(node: Node, onEvent: (event: LifecycleEvent) => void, onClose: (error?: unknown) => void) {
    const stream = watchEvents(
      await this.client(node),
      { types: ['lifecycle'], allProjects: true },
      (event) => {
        const lifecycle = lifecycleOf(event);
        // Snapshot and backup events name no instance directly: instanceNameOf gives null for them.
        const instance = lifecycle && instanceNameOf(lifecycle.source);
        if (lifecycle && instance) onEvent({ project: event.project || 'default', action: lifecycle.action, instance });
      },
      onClose,
    );
    await stream.ready;
    return stream;
  }

  forget(nodeId: string): void {
    for (const key of this.known) if (key.startsWith(`${nodeId}/`)) this.known.delete(key);
    const cached = this.clients.get(nodeId);
    this.clients.delete(nodeId);
    void cached?.client.close();
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.clients.values()].map((c) => c.client.close()));
    this.clients.clear();
  }
}
