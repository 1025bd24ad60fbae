import { createHash } from 'node:crypto';
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

  private key = (node: Node, project: string, name: string) => `${node.id}/${project}/${name}`;

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
