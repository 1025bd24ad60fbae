import { existsSync } from 'node:fs';
import path from 'node:path';
import { In } from 'typeorm';
import { visibleContainer } from '../accounts/access';
import type { Actor } from '../app/actor';
import { conflict, CorralError, ErrorCode } from '../app/errors';
import type { AuditService } from '../audit/audit.service';
import { ContainerStatus } from '../containers/container.entity';
import { Node, NodeStatus } from '../nodes/node.entity';
import { Operation } from '../operations/operation.entity';
import { ACTIVE_STATES, type OperationsService } from '../operations/operations.service';
import type { OperationRunner } from '../operations/runner';
import { Image } from './image.entity';
import type { CreateImageFromContainerInput } from './image-from-container.inputs';

export const CREATE_IMAGE = 'container.createImage';

/** Makes images for the shared repository from containers (provider admins only: the catalogue is visible to every tenant). */
export class ImageFromContainerService {
  runner!: OperationRunner;

  constructor(
    private readonly audit: AuditService,
    private readonly operations: OperationsService,
    private readonly imageDir: string,
  ) {}

  /**
   * Records a `container.createImage` operation on the container and runs it in the background;
   * returns the operation at once (its `image` appears when it succeeded). Refused before
   * anything is recorded: a taken image name (CONFLICT), a container that is busy
   * (OPERATION_IN_PROGRESS) or not RUNNING/STOPPED (CONFLICT), its node offline (NODE_UNAVAILABLE).
   */
  async create(actor: Actor, input: CreateImageFromContainerInput, idempotencyKey?: string | null): Promise<Operation> {
    const request = { containerId: input.containerId, name: input.name };
    const { operation, fresh } = await this.audit.within({ actor, request: actor.request }, CREATE_IMAGE, async (em, draft) => {
      draft.target('container', input.containerId);
      const container = await visibleContainer(em, actor, input.containerId);
      const account = container.project.account;
      draft.concerns(account);
      const replay = await this.operations.replayOf(em, account, idempotencyKey, CREATE_IMAGE, request);
      if (replay) return { operation: replay, fresh: false };

      if ((await em.existsBy(Image, { name: input.name })) || existsSync(path.join(this.imageDir, `${input.name}.tar.gz`))) {
        throw conflict(`an image named "${input.name}" already exists`, 'name');
      }
      const pending = await em.find(Operation, { where: { action: CREATE_IMAGE, state: In(ACTIVE_STATES) } });
      if (pending.some((op) => op.input.name === input.name)) throw conflict(`an image named "${input.name}" is being made`, 'name');
      if (await em.existsBy(Operation, { containerId: container.id, state: In(ACTIVE_STATES) })) {
        throw new CorralError(ErrorCode.OPERATION_IN_PROGRESS, 'another operation is running on this container; try again when it has finished');
      }
      if (container.status !== ContainerStatus.RUNNING && container.status !== ContainerStatus.STOPPED) {
        const busy = [ContainerStatus.CREATING, ContainerStatus.DELETING, ContainerStatus.STARTING, ContainerStatus.STOPPING].includes(container.status);
        if (busy) throw new CorralError(ErrorCode.OPERATION_IN_PROGRESS, `the container is ${container.status.toLowerCase()}`);
        throw conflict(`the container is ${container.status.toLowerCase()}; only a running or stopped container can be published`);
      }
      const node = await em.findOneByOrFail(Node, { id: container.nodeId });
      if (node.status === NodeStatus.OFFLINE) throw new CorralError(ErrorCode.NODE_UNAVAILABLE, `node ${node.name}, where the container is, is offline`);
      const recorded = await this.operations.record(em, actor, { account, action: CREATE_IMAGE, containerId: container.id, nodeId: node.id, input: request, idempotencyKey });
      return { operation: recorded, fresh: true };
    });
    if (fresh) this.runner.kick(operation.id);
    return operation;
  }
}
