import type { EntityManager } from 'typeorm';
import { visibleContainer } from '../accounts/access';
import type { Actor } from '../app/actor';
import { CorralError, ErrorCode } from '../app/errors';
import type { AuditService } from '../audit/audit.service';
import { Node, NodeStatus } from '../nodes/node.entity';
import { Operation } from '../operations/operation.entity';
import type { OperationsService } from '../operations/operations.service';
import type { OperationRunner } from '../operations/runner';
import { Container, ContainerStatus } from './container.entity';
import { replayedContainer } from './replay';

const BUSY = [ContainerStatus.CREATING, ContainerStatus.DELETING, ContainerStatus.STARTING, ContainerStatus.STOPPING];

export interface ContainerOperationDeps {
  audit: AuditService;
  operations: OperationsService;
  runner: OperationRunner;
}

/**
 * Records an operation of one container in one audited transaction, the way its device-changing
 * mutations (network interfaces, addresses) all do: access, replay of an idempotency key, a busy
 * container or an offline node refused, then `check` (bad input refused before anything is
 * written; it returns what the handler needs beyond the request), and the runner kicked after the
 * commit. Returns the container as it is now.
 */
export async function recordContainerOperation(
  deps: ContainerOperationDeps,
  actor: Actor,
  id: string,
  action: string,
  request: Record<string, unknown>,
  idempotencyKey: string | null | undefined,
  check: (em: EntityManager, container: Container, node: Node) => Promise<Record<string, unknown>>,
): Promise<Container> {
  const { container, operation } = await deps.audit.within({ actor, request: actor.request }, action, async (em, draft) => {
    draft.target('container', id);
    const found = await visibleContainer(em, actor, id);
    draft.concerns(found.project.account);
    const replay = await deps.operations.replayOf(em, found.project.account, idempotencyKey, action, request);
    if (replay) return { container: await replayedContainer(em, replay), operation: null };
    const node = await em.findOneByOrFail(Node, { id: found.nodeId });
    if (BUSY.includes(found.status)) throw new CorralError(ErrorCode.OPERATION_IN_PROGRESS, `the container is ${found.status.toLowerCase()}`);
    if (node.status === NodeStatus.OFFLINE) throw new CorralError(ErrorCode.NODE_UNAVAILABLE, `node ${node.name} is offline`);
    const resolved = await check(em, found, node);
    const recorded = await deps.operations.record(em, actor, { account: found.project.account, action, containerId: found.id, nodeId: found.nodeId, input: request, idempotencyKey });
    // The request (hashed for replays) as given; the input as the handler needs it, with what `check` chose.
    if (Object.keys(resolved).length) {
      recorded.input = { ...request, ...resolved };
      await em.update(Operation, { id: recorded.id }, { input: recorded.input as never });
    }
    return { container: found as Container, operation: recorded };
  });
  if (operation) deps.runner.kick(operation.id);
  return container;
}
