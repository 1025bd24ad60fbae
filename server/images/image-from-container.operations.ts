import { createHash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { DataSource } from 'typeorm';
import { CorralError, ErrorCode } from '../app/errors';
import type { Logger } from '../app/logger';
import { newId } from '../common/ids';
import { Container, ContainerStatus } from '../containers/container.entity';
import { lxdProjectOf } from '../nodes/node-gateway';
import { Node } from '../nodes/node.entity';
import { Operation } from '../operations/operation.entity';
import type { OperationHandler, Step } from '../operations/runner';
import { Image } from './image.entity';
import type { ImagePublishNodes } from './image-from-container.gateway';
import { CREATE_IMAGE } from './image-from-container.service';
import { nodeFailure } from '../operations/node-failure';

/** Deadline for each of publishing (snapshot, pack, compress) and exporting. */
const DEADLINE_MS = 10 * 60_000;

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

/**
 * The handler of images made from containers: publish on the container's node (through a
 * snapshot when it runs), export the tarball into the repository directory, register it. Once
 * registered the image is like an uploaded one: `ensureImage` copies it to any node on first use.
 */
export function imageFromContainerHandlers(db: DataSource, nodes: ImagePublishNodes, imageDir: string, log: Logger): Record<string, OperationHandler> {
  const temporaryOf = (operation: Operation) => path.join(imageDir, `.export-${operation.id}`);

  /** Keeps a value in the operation's input (the image's id, the fingerprint), so that a retry and the cleanup know it. */
  async function remember(operation: Operation, values: Record<string, unknown>) {
    operation.input = { ...operation.input, ...values };
    await db.manager.update(Operation, { id: operation.id }, { input: operation.input as never });
  }

  const create: OperationHandler = {
    async run(operation: Operation, step: Step) {
      const fresh = (await db.manager.findOneBy(Operation, { id: operation.id })) ?? operation;
      if (typeof fresh.input.imageId !== 'string') await remember(fresh, { imageId: newId() });
      const imageId = String(fresh.input.imageId);
      if (await db.manager.existsBy(Image, { id: imageId })) return; // registered before an interruption
      const name = String(fresh.input.name);
      const container = await db.manager.findOneBy(Container, { id: fresh.containerId! });
      if (!container) throw new CorralError(ErrorCode.NOT_FOUND, 'the container is gone');
      const node = await db.manager.findOneByOrFail(Node, { id: container.nodeId });
      const project = lxdProjectOf(container.projectId);
      const temporary = temporaryOf(fresh);
      const final = path.join(imageDir, `${name}.tar.gz`);
      let what = 'publishing the container';
      try {
        await step.progress(10, container.status === ContainerStatus.RUNNING ? 'publishing a snapshot of the container' : 'publishing the container');
        const fingerprint = await nodes.publishInstance(node, project, container.name, `corral-image-${fresh.id.slice(-12)}`, DEADLINE_MS);
        await remember(fresh, { fingerprint });

        what = 'exporting the image';
        await step.progress(50, `exporting the image from ${node.name}`);
        await fs.mkdir(imageDir, { recursive: true });
        await nodes.exportImage(node, fingerprint, temporary, DEADLINE_MS);
        if ((await sha256File(temporary)) !== fingerprint) {
          throw new CorralError(ErrorCode.LXD_ERROR, `the node exported image ${fingerprint.slice(0, 12)} as something other than one unified tarball`);
        }
        const { size } = await fs.stat(temporary);

        what = 'registering the image';
        await step.progress(90, 'adding the image to the repository');
        await db.transaction(async (em) => {
          if (await em.existsBy(Image, { name })) throw new CorralError(ErrorCode.CONFLICT, `an image named "${name}" already exists`, { field: 'name' });
          const same = await em.findOneBy(Image, { fingerprint });
          if (same) throw new CorralError(ErrorCode.CONFLICT, `the container's content is identical to image "${same.name}"`);
          await em.insert(Image, { id: imageId, name, fingerprint, sizeBytes: size, path: final });
          await fs.rename(temporary, final);
        });
        log.info({ image: name, fingerprint, container: container.id }, 'registered an image made from a container');
      } catch (error) {
        throw nodeFailure(error, what);
      } finally {
        await fs.rm(temporary, { force: true });
      }
    },
    // Publishing again finds the same content ("already exists") or a fresher one; registering is keyed by the image's id.
    recover: (operation, step) => create.run(operation, step),
    async onFailure(operation: Operation) {
      await fs.rm(temporaryOf(operation), { force: true });
      const fresh = (await db.manager.findOneBy(Operation, { id: operation.id })) ?? operation;
      const fingerprint = fresh.input.fingerprint;
      // The node's copy of an image Corral did not register is only clutter; one Corral knows is kept.
      if (typeof fingerprint !== 'string' || (await db.manager.existsBy(Image, { fingerprint })) || !fresh.nodeId) return;
      const node = await db.manager.findOneBy(Node, { id: fresh.nodeId });
      if (node) await nodes.removeImage(node, fingerprint);
    },
  };
  return { [CREATE_IMAGE]: create };
}
