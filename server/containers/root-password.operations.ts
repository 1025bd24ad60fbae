import type { DataSource } from 'typeorm';
import { CorralError, ErrorCode } from '../app/errors';
import type { Logger } from '../app/logger';
import { lxdProjectOf } from '../nodes/node-gateway';
import { Node } from '../nodes/node.entity';
import type { Operation } from '../operations/operation.entity';
import type { OperationHandler, Step } from '../operations/runner';
import { Container } from './container.entity';
import type { RootPasswordNodes } from './root-password.gateway';
import { SET_ROOT_PASSWORD } from './root-password.service';
import { nodeFailure } from '../operations/node-failure';

/** A timed-out chpasswd says what that means for the password; everything else as any operation. */
function passwordFailure(error: unknown): CorralError {
  const e = error as { name?: string };
  if (e?.name === 'LxdOperationTimeoutError') return new CorralError(ErrorCode.LXD_ERROR, 'chpasswd did not finish in time; the password may or may not have changed');
  return nodeFailure(error);
}

/** The handler that sets a root password: `chpasswd -e` with the stored hash, in the running container. */
export function rootPasswordHandlers(db: DataSource, nodes: RootPasswordNodes, log: Logger): Record<string, OperationHandler> {
  const handler: OperationHandler = {
    async run(operation: Operation, step: Step) {
      const container = await db.manager.findOneBy(Container, { id: operation.containerId! });
      if (!container) throw new CorralError(ErrorCode.NOT_FOUND, 'the container is gone');
      const node = await db.manager.findOneByOrFail(Node, { id: container.nodeId });
      const hash = operation.input['passwordHash'];
      if (typeof hash !== 'string') throw new CorralError(ErrorCode.INTERNAL_SERVER_ERROR, 'the operation has no password hash');
      await step.progress(30, 'setting the root password');
      try {
        await nodes.setRootPasswordHash(node, lxdProjectOf(container.projectId), container.name, hash);
      } catch (error) {
        const failure = passwordFailure(error);
        if (failure.code === ErrorCode.LXD_ERROR) log.warn({ operation: operation.id, container: container.id, err: failure.message }, 'setting a root password failed');
        throw failure;
      }
    },
    // chpasswd with the same hash twice leaves the same password: finish the job.
    recover: (operation, step) => handler.run(operation, step),
  };
  return { [SET_ROOT_PASSWORD]: handler };
}
