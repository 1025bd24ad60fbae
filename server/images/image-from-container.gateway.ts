import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { lxdPath } from '../lxd/client';
import { LxdError, isNotFound } from '../lxd/errors';
import { getImage } from '../lxd/images';
import { getInstance } from '../lxd/instances';
import { LxdGateway } from '../nodes/lxd-gateway';
import type { NodeGateway } from '../nodes/node-gateway';
import type { Node } from '../nodes/node.entity';

/** What making an image from a container asks of its node. */
export interface ImagePublishNodes {
  /**
   * Publishes the instance as an image in the node's store (LXD-NOTES section 9): a stopped one
   * directly, a running one through snapshot `snapshot` (taken, published, deleted), so that it
   * keeps running. An identical image already in the store counts as published.
   * @returns the image's fingerprint.
   */
  publishInstance(node: Node, project: string, name: string, snapshot: string, deadlineMs: number): Promise<string>;
  /** Writes the image as one unified tarball (`GET /1.0/images/{fp}/export`) to `file`. */
  exportImage(node: Node, fingerprint: string, file: string, deadlineMs: number): Promise<void>;
  /** Removes the image from the node's store; a missing one counts as removed. */
  removeImage(node: Node, fingerprint: string): Promise<void>;
}

/** LXD's "The image already exists: <fingerprint>" for content it already has. */
const ALREADY_THERE = /image already exists:\s*([0-9a-f]{64})/i;

/** The LXD implementation, from Corral's pinned clients. */
export class LxdImagePublishGateway implements ImagePublishNodes {
  constructor(private readonly lxd: Pick<LxdGateway, 'clientFor'>) {}

  async publishInstance(node: Node, project: string, name: string, snapshot: string, deadlineMs: number): Promise<string> {
    const client = await this.lxd.clientFor(node);
    const instance = await getInstance(client, project, name);
    if (!instance) throw new LxdError(`Instance not found: ${name}`, { status: 404 });
    // A snapshot left by an interrupted attempt is taken again, so that the image is of now.
    await this.dropSnapshot(node, project, name, snapshot);
    const running = instance.status !== 'Stopped';
    if (running) {
      await client.operation('POST', lxdPath`/1.0/instances/${name}/snapshots`, { project, body: { name: snapshot, stateful: false }, waitMs: deadlineMs });
    }
    try {
      const source = running ? { type: 'snapshot', name: `${name}/${snapshot}` } : { type: 'instance', name };
      try {
        const outcome = await client.operation('POST', lxdPath`/1.0/images`, {
          project,
          body: { source, public: false, properties: { description: `from container ${name}` }, compression_algorithm: 'gzip' },
          waitMs: deadlineMs,
        });
        const fingerprint = outcome.kind === 'finished' ? outcome.operation.metadata['fingerprint'] : undefined;
        if (typeof fingerprint !== 'string' || !fingerprint) throw new LxdError('LXD published the image without naming its fingerprint', { status: 500, lxdCode: 0 });
        return fingerprint;
      } catch (error) {
        const known = error instanceof Error ? ALREADY_THERE.exec(error.message) : null;
        if (known) return known[1]!;
        throw error;
      }
    } finally {
      if (running) await this.dropSnapshot(node, project, name, snapshot);
    }
  }

  private async dropSnapshot(node: Node, project: string, name: string, snapshot: string): Promise<void> {
    const client = await this.lxd.clientFor(node);
    try {
      await client.operation('DELETE', lxdPath`/1.0/instances/${name}/snapshots/${snapshot}`, { project });
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  async exportImage(node: Node, fingerprint: string, file: string, deadlineMs: number): Promise<void> {
    const client = await this.lxd.clientFor(node);
    const { body } = await client.download(lxdPath`/1.0/images/${fingerprint}/export`, { timeoutMs: deadlineMs });
    await pipeline(body, createWriteStream(file));
  }

  async removeImage(node: Node, fingerprint: string): Promise<void> {
    const client = await this.lxd.clientFor(node);
    if (!(await getImage(client, fingerprint))) return;
    try {
      await client.operation('DELETE', lxdPath`/1.0/images/${fingerprint}`, { project: 'default' });
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }
}

/** Test doubles of the node gateway (test/support/fake-gateway.ts) may publish images themselves. */
function publishes(gateway: NodeGateway): gateway is NodeGateway & ImagePublishNodes {
  return typeof (gateway as Partial<ImagePublishNodes>).publishInstance === 'function';
}

/** The image side of a node gateway: LXD's publish and export for the real one, the double's own for a fake. */
export function imagePublishNodesFor(gateway: NodeGateway): ImagePublishNodes {
  if (gateway instanceof LxdGateway) return new LxdImagePublishGateway(gateway);
  if (publishes(gateway)) return gateway;
  const unsupported = async (): Promise<never> => {
    throw new LxdError('this node gateway cannot publish images', { status: 501, lxdCode: 0 });
  };
  return { publishInstance: unsupported, exportImage: unsupported, removeImage: unsupported };
}
