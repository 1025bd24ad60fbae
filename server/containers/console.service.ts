import { visibleContainer } from '../accounts/access';
import type { Account } from '../accounts/account.entity';
import type { Actor } from '../app/actor';
import { CorralError, ErrorCode } from '../app/errors';
import type { AuditService } from '../audit/audit.service';
import { lxdProjectOf } from '../nodes/node-gateway';
import { Node, NodeStatus } from '../nodes/node.entity';
import { ContainerStatus } from './container.entity';

export const CONSOLE_OPEN = 'container.console.open';
export const CONSOLE_CLOSE = 'container.console.close';

/** What a console was opened on: enough to reach the instance and to file the close event. */
export interface ConsoleTarget {
  containerId: string;
  /** The instance name on the node. */
  name: string;
  lxdProject: string;
  node: Node;
  account: Pick<Account, 'id' | 'path'>;
}

/** Why a console ended, as recorded on `container.console.close`. */
export type ConsoleCloseReason = 'CLIENT_CLOSED' | 'EXITED' | 'IDLE_TIMEOUT' | 'SIGNED_OUT' | 'SERVER_SHUTDOWN' | 'SLOW_CLIENT' | 'NODE_FAILED';

/**
 * Opening and closing a container's console (see console.socket.ts for the WebSocket bridge).
 * Both are audited; the two events share the connection's request id, and the close event
 * carries the session's duration and why it ended.
 */
export class ConsoleService {
  constructor(private readonly audit: AuditService) {}

  /**
   * Checks that the caller may see the container, that it is RUNNING and its node not offline,
   * and records `container.console.open` (FAILURE with the code when refused). Nothing reaches
   * LXD here. The caller's permission (CONTAINERS_WRITE) is checked by the transport.
   */
  open(actor: Actor, id: string): Promise<ConsoleTarget> {
    return this.audit.within({ actor, request: actor.request }, CONSOLE_OPEN, async (em, draft) => {
      draft.target('container', id);
      const found = await visibleContainer(em, actor, id);
      draft.concerns(found.project.account);
      if ([ContainerStatus.CREATING, ContainerStatus.DELETING, ContainerStatus.STARTING, ContainerStatus.STOPPING].includes(found.status)) {
        throw new CorralError(ErrorCode.OPERATION_IN_PROGRESS, `the container is ${found.status.toLowerCase()}; try again when it has finished`);
      }
      if (found.status !== ContainerStatus.RUNNING) {
        throw new CorralError(ErrorCode.CONTAINER_NOT_RUNNING, `the container is ${found.status.toLowerCase()}: start it first, then open its console`, { status: found.status });
      }
      const node = await em.findOneByOrFail(Node, { id: found.nodeId });
      if (node.status === NodeStatus.OFFLINE) throw new CorralError(ErrorCode.NODE_UNAVAILABLE, `node ${node.name} is offline`);
      const account = found.project.account;
      return { containerId: found.id, name: found.name, lxdProject: lxdProjectOf(found.projectId), node, account: { id: account.id, path: account.path } };
    });
  }

  /** Records `container.console.close` with the session's duration; a node failure is filed with its code. */
  async closed(actor: Actor, target: ConsoleTarget, session: { durationMs: number; reason: ConsoleCloseReason; error?: CorralError | null }): Promise<void> {
    await this.audit
      .within({ actor, request: actor.request }, CONSOLE_CLOSE, async (_em, draft) => {
        draft.target('container', target.containerId).concerns(target.account);
        draft.details = { durationMs: Math.max(0, Math.round(session.durationMs)), reason: session.reason };
        if (session.error) throw session.error;
      })
      .catch((error: unknown) => {
        if (error !== session.error) throw error;
      });
  }
}
