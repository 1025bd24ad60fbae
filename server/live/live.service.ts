import { Repeater } from '@graphql-yoga/subscription';
import type { DataSource } from 'typeorm';
import { inScope, visibleContainer, visibleProject } from '../accounts/access';
import type { Actor } from '../app/actor';
import { badInput, CorralError, ErrorCode, notFound } from '../app/errors';
import type { Logger } from '../app/logger';
import type { CorralPubSub, Topics } from '../app/pubsub';
import { Permission } from '../auth/permissions';
import { isId } from '../common/ids';
import { Container } from '../containers/container.entity';
import { Node } from '../nodes/node.entity';
import { Operation, OperationState } from '../operations/operation.entity';
import { SETUP } from '../provisioning/node-setup.service';
import { LiveTopics, type ContainerChangedPayload, type NodeChangedPayload, type OperationProgressPayload } from './live.topics';

/** Who subscribes: the actor of the connection, and how to check the credential again later. */
export interface LiveCaller {
  actor: Actor;
  /** Authenticates the connection's credential again (a revoked token or ended session gives null). */
  reauthenticate?: () => Promise<Actor | null>;
}

/** The subscription ends (completes) when this comes back from a per-event read. */
const END = Symbol('end');
type Read<T> = T | null | typeof END;

const FINISHED = [OperationState.SUCCEEDED, OperationState.FAILED];

/**
 * Live streams. Access is checked when subscribing (a refusal looks like a missing object, as in
 * queries) and again for every event: the connection's credential is authenticated again and the
 * object is re-read from the database under that fresh actor. An event the subscriber may no
 * longer see ends the subscription (it completes); nothing else of it is sent.
 */
export class LiveService {
  constructor(
    private readonly db: DataSource,
    private readonly pubsub: CorralPubSub,
    private readonly log: Logger,
  ) {}

  /** `containerChanged`: by container, or by project (exactly one). */
  async containerChanged(caller: LiveCaller, args: { containerId?: string | null; projectId?: string | null }): Promise<AsyncIterable<Container>> {
    const em = this.db.manager;
    if (!!args.containerId === !!args.projectId) throw badInput('name exactly one of containerId and projectId', args.containerId ? 'projectId' : 'containerId');
    if (args.containerId) {
      const { id } = await visibleContainer(em, caller.actor, args.containerId);
      return this.stream<ContainerChangedPayload, Container>(LiveTopics.containerChanged, (p) => p.containerId === id, async () => {
        const actor = await this.fresh(caller, Permission.CONTAINERS_READ);
        return actor ? visibleContainer(em, actor, id) : END;
      });
    }
    const { id: projectId } = await visibleProject(em, caller.actor, args.projectId!);
    return this.stream<ContainerChangedPayload, Container>(LiveTopics.containerChanged, (p) => p.projectId === projectId, async (p) => {
      const actor = await this.fresh(caller, Permission.CONTAINERS_READ);
      if (!actor) return END;
      await visibleProject(em, actor, projectId);
      // Gone since (a finished delete): nothing to show, the project's stream goes on.
      return em.findOneBy(Container, { id: p.containerId, projectId });
    });
  }

  /**
   * `operationProgress`: the operation as it is now, then every change, completing after the
   * first SUCCEEDED or FAILED (at once when it had already finished).
   */
  async operationProgress(caller: LiveCaller, operationId: string): Promise<AsyncIterable<Operation>> {
    const id = (await this.visibleOperation(caller.actor, operationId)).id;
    let last = '';
    const read = async (): Promise<Read<Operation>> => {
      const actor = await this.fresh(caller, Permission.CONTAINERS_READ);
      if (!actor) return END;
      const operation = await this.visibleOperation(actor, id);
      // Several announcements may find the same state; each distinct state is sent once.
      const seen = `${operation.state}/${operation.progress}/${operation.step}`;
      if (seen === last) return null;
      last = seen;
      return operation;
    };
    return this.stream<OperationProgressPayload, Operation>(LiveTopics.operationProgress, (p) => p.operationId === id, read, {
      initial: read,
      last: (operation) => FINISHED.includes(operation.state),
    });
  }

  /**
   * `nodeSetupProgress` (provider admins): the newest setup of a node connected over SSH
   * (`connectNode`, `retryNodeSetup`), as `operationProgress` streams it: its steps as they run,
   * completing when it has finished. NOT_FOUND for a node that was never set up by Corral.
   */
  async nodeSetupProgress(caller: LiveCaller, nodeId: string): Promise<AsyncIterable<Operation>> {
    const setup = isId(nodeId)
      ? await this.db.manager.findOne(Operation, { where: { nodeId, action: SETUP }, order: { createdAt: 'DESC', id: 'DESC' } })
      : null;
    if (!setup) throw notFound('Node setup');
    return this.operationProgress(caller, setup.id);
  }

  /** `nodeChanged` (provider admins): one node, or every node. */
  async nodeChanged(caller: LiveCaller, nodeId?: string | null): Promise<AsyncIterable<Node>> {
    const em = this.db.manager;
    if (nodeId !== undefined && nodeId !== null && !(isId(nodeId) && (await em.existsBy(Node, { id: nodeId })))) throw notFound('Node');
    return this.stream<NodeChangedPayload, Node>(LiveTopics.nodeChanged, (p) => !nodeId || p.nodeId === nodeId, async (p) => {
      const actor = await this.fresh(caller, Permission.INFRASTRUCTURE_READ);
      if (!actor) return END;
      const node = await em.findOneBy(Node, { id: p.nodeId });
      return node ?? (nodeId ? END : null);
    });
  }

  private async visibleOperation(actor: Actor, id: string): Promise<Operation> {
    const operation = isId(id) ? await this.db.manager.findOneBy(Operation, { id }) : null;
    if (!operation || !inScope(actor, operation.accountPath)) throw notFound('Operation');
    return operation;
  }

  /** The caller as its credential says now, if it still holds the permission. */
  private async fresh(caller: LiveCaller, permission: Permission): Promise<Actor | null> {
    const actor = caller.reauthenticate ? await caller.reauthenticate() : caller.actor;
    return actor && actor.userId === caller.actor.userId && actor.permissions.has(permission) ? actor : null;
  }

  /**
   * A subscriber's stream: events of `topic` that `accept` (a cheap check on IDs) are turned into
   * the object by `read` (access re-checked, re-read from the database). `read` answering END, or
   * NOT_FOUND, ends the stream; null skips the event. The pubsub listener is in place before
   * `initial` reads, so that nothing between the read and the first event is lost.
   */
  private stream<P, T>(
    topic: keyof Topics,
    accept: (payload: P) => boolean,
    read: (payload: P) => Promise<Read<T>>,
    options: { initial?: () => Promise<Read<T>>; last?: (value: T) => boolean } = {},
  ): Repeater<T> {
    return new Repeater<T>(async (push, stop) => {
      // One topic of the union at a time; the typed overloads cannot take the union itself.
      const subscribe = this.pubsub.subscribe.bind(this.pubsub) as unknown as (topic: keyof Topics) => AsyncIterable<P>;
      const source = subscribe(topic)[Symbol.asyncIterator]();
      let pending = source.next();
      void stop.then(() => source.return?.());
      /** Sends what was read; false when the stream is over. */
      const deliver = async (work: () => Promise<Read<T>>): Promise<boolean> => {
        let value: Read<T>;
        try {
          value = await work();
        } catch (error) {
          if (error instanceof CorralError && error.code === ErrorCode.NOT_FOUND) return false;
          this.log.warn({ err: error, topic }, 'reading a live event failed; the event is skipped');
          return true;
        }
        if (value === END) return false;
        if (value === null) return true;
        await push(value);
        return !options.last?.(value);
      };
      try {
        if (options.initial && !(await deliver(options.initial))) return;
        for (;;) {
          const next = await pending;
          if (next.done) return;
          pending = source.next();
          if (accept(next.value) && !(await deliver(() => read(next.value)))) return;
        }
      } finally {
        await stop();
        await source.return?.();
      }
    });
  }
}
