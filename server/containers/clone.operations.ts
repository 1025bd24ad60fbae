import type { DataSource } from 'typeorm';
import { CorralError, ErrorCode } from '../app/errors';
import type { Logger } from '../app/logger';
import { Cluster } from '../clusters/cluster.entity';
import { newId } from '../common/ids';
import { Image } from '../images/image.entity';
import { lxdProjectOf, type NodeGateway } from '../nodes/node-gateway';
import { Node } from '../nodes/node.entity';
import { Operation } from '../operations/operation.entity';
import type { OperationHandler, Step } from '../operations/runner';
import type { CloneNodes } from './clone.gateway';
import { CLONE } from './clone.service';
import { Container, ContainerStatus } from './container.entity';
import { ContainerNic } from './nic.entity';
import { hwaddrOf, prepareNicNetworks } from './nics.operations';
import { nodeFailure } from '../operations/node-failure';
import { addressNodesFor } from '../network/addresses.gateway';
import { applyRecordedAddresses } from '../network/addresses.operations';

/** Deadline for the copy of the root filesystem. */
const COPY_DEADLINE_MS = 10 * 60_000;

/**
 * The handler of clones. The clone's row exists from the start (CREATING); the instance is
 * copied, started if the source ran when the copy began, and the row follows. A failure or an
 * interruption removes whatever copy reached the node, then the row, as a failed create does.
 */
export function cloneHandlers(db: DataSource, gateway: NodeGateway, nodes: CloneNodes, log: Logger): Record<string, OperationHandler> {
  async function load(operation: Operation) {
    const clone = await db.manager.findOneBy(Container, { id: operation.containerId! });
    if (!clone) throw new CorralError(ErrorCode.NOT_FOUND, 'the clone is gone');
    const source = await db.manager.findOneBy(Container, { id: String(operation.input.containerId) });
    if (!source) throw new CorralError(ErrorCode.NOT_FOUND, 'the container to clone is gone');
    const sourceNode = await db.manager.findOneByOrFail(Node, { id: source.nodeId });
    const target = await db.manager.findOneByOrFail(Node, { id: clone.nodeId });
    return { clone, source, sourceNode, target, project: lxdProjectOf(clone.projectId) };
  }

  /** Whether the source ran when the copy began: kept in the operation, so that a retry decides the same. */
  async function rememberRunning(operation: Operation, running: boolean): Promise<boolean> {
    if (typeof operation.input.sourceWasRunning === 'boolean') return operation.input.sourceWasRunning;
    operation.input = { ...operation.input, sourceWasRunning: running };
    await db.manager.update(Operation, { id: operation.id }, { input: operation.input as never });
    return running;
  }

  /** Removes whatever copy reached the node, then the row; if the node cannot be reached the row stays (ERROR), so nothing is orphaned. */
  async function undo(operation: Operation) {
    const clone = operation.containerId ? await db.manager.findOneBy(Container, { id: operation.containerId }) : null;
    if (!clone) return;
    const node = await db.manager.findOneByOrFail(Node, { id: clone.nodeId });
    try {
      await gateway.deleteInstance(node, lxdProjectOf(clone.projectId), clone.name);
      await db.manager.delete(Container, { id: clone.id });
    } catch (error) {
      log.error({ err: error, container: clone.id }, 'could not remove a half-made clone from its node');
      await db.manager.update(Container, { id: clone.id }, { status: ContainerStatus.ERROR, statusReason: 'cloning failed and the node could not be cleaned up' });
    }
  }

  const clone: OperationHandler = {
    async run(operation: Operation, step: Step) {
      const { clone, source, sourceNode, target, project } = await load(operation);
      let what = 'reading the container to clone';
      let hwaddrs: Record<string, string> = {};
      try {
        const status = await gateway.instanceStatus(sourceNode, project, source.name);
        if (status === null) throw new CorralError(ErrorCode.CONFLICT, `the container to clone is missing on node ${sourceNode.name}`);
        const wasRunning = await rememberRunning(operation, status === 'Running');

        what = 'preparing the node';
        await step.progress(10, `preparing the project on ${target.name}`);
        const cluster = await db.manager.findOneByOrFail(Cluster, { id: target.clusterId });
        await gateway.ensureProject(target, project, cluster.storagePool);
        // The clone has the source's NICs, on the same networks, with MAC addresses of its own.
        const nics = await db.manager.find(ContainerNic, { where: { containerId: source.id } });
        if (target.id !== sourceNode.id) await prepareNicNetworks(db.manager, gateway, target, source);
        hwaddrs = Object.fromEntries(nics.map((nic) => [nic.name, hwaddrOf(`${operation.id}/${nic.name}`)]));
        const image = await db.manager.findOneBy(Image, { id: clone.imageId });
        if (image && target.id !== sourceNode.id) {
          // The copy's base image, so that the target keeps the clone's image reference whole.
          await step.progress(20, `copying the image to ${target.name}`);
          await gateway.ensureImage(target, image);
        }

        what = 'copying the container';
        await step.progress(30, target.id === sourceNode.id ? `copying ${source.name} on ${target.name}` : `copying ${source.name} from ${sourceNode.name} to ${target.name}`);
        await nodes.cloneInstance(sourceNode, target, project, source.name, clone.name, COPY_DEADLINE_MS, hwaddrs);
        if ((await gateway.instanceStatus(target, project, clone.name)) === null) throw new CorralError(ErrorCode.LXD_ERROR, `the clone is missing on node ${target.name} after the copy`);
        // The copy carries the source's eth0 (its addresses, its host-side name): the clone gets none.
        what = 'taking the addresses off the clone';
        await applyRecordedAddresses(db, addressNodesFor(gateway), target, clone);

        what = 'starting the clone';
        if (wasRunning) {
          await step.progress(85, 'starting the clone');
          // setState reads the status back and fails unless the container is Running.
          await gateway.setState(target, project, clone.name, 'start', false);
        }
      } catch (error) {
        const failure = nodeFailure(error, what);
        log.warn({ operation: operation.id, container: clone.id, err: failure.message }, 'a clone failed');
        throw failure;
      }
      const wasRunning = operation.input.sourceWasRunning === true;
      await db.manager.transaction(async (em) => {
        for (const nic of await em.find(ContainerNic, { where: { containerId: source.id } })) {
          if (!hwaddrs[nic.name]) continue; // added to the source after the copy began: not in the clone
          await em.insert(ContainerNic, { id: newId(), containerId: clone.id, name: nic.name, kind: nic.kind, network: nic.network, hwaddr: hwaddrs[nic.name]! });
        }
        await em.update(Container, { id: clone.id }, { status: wasRunning ? ContainerStatus.RUNNING : ContainerStatus.STOPPED, statusReason: null });
      });
    },
    async recover() {
      // The runner died mid-copy: undo (onFailure) rather than guess how far it got, as creates do.
      throw new CorralError(ErrorCode.INTERRUPTED, 'Corral stopped while cloning the container; the clone was removed again');
    },
    onFailure: undo,
  };
  return { [CLONE]: clone };
}
