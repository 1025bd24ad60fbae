import type { DataSource } from 'typeorm';
import { Project } from '../accounts/project.entity';
import type { Actor } from '../app/actor';
import { CorralError, ErrorCode } from '../app/errors';
import type { Logger } from '../app/logger';
import type { Container } from '../containers/container.entity';
import { MIGRATE } from '../containers/migration.service';
import { Operation, OperationState } from '../operations/operation.entity';
import type { OperationsService } from '../operations/operations.service';
import type { OperationHandler, OperationRunner, Step } from '../operations/runner';
import { containersOn, DRAIN, planMoves, type DrainService } from './drain.service';
import { Node, NodeStatus } from './node.entity';

/** The idempotency key of the move of one container by one drain: finds it again after a crash, and the unique index forbids a second. */
export const moveKey = (drainId: string, containerId: string) => `drain:${drainId}:${containerId}`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The `node.drain` handler. Each container moves as a `container.migrate` operation of its own
 * (recorded under the container's account, with the drain's actor), so that the move shows in the
 * container's history, one operation per container at a time holds (a user's mutation of the
 * container being moved gets OPERATION_IN_PROGRESS), and the migration's own recovery applies.
 * The drain records one move, runs it and waits for it, then the next; it takes the containers
 * still on the node each time, so a recovered drain neither moves a container twice nor skips one.
 */
export function drainHandlers(db: DataSource, drains: Pick<DrainService, 'targetsFor'>, operations: OperationsService, runner: () => Pick<OperationRunner, 'kick'>, log: Logger, pollMs = 200): Record<string, OperationHandler> {
  /** Percent of the whole drain: `done` containers moved, the current one `current`% of the way. */
  const percent = (done: number, total: number, current: number) => Math.min(99, Math.floor(((done + current / 100) / Math.max(total, 1)) * 100));

  /** Waits for an operation to finish, passing its progress on. */
  async function finished(id: string, onProgress: (progress: number) => Promise<void>): Promise<Operation> {
    let last = -1;
    for (;;) {
      const current = await db.manager.findOneByOrFail(Operation, { id });
      if (current.state === OperationState.SUCCEEDED || current.state === OperationState.FAILED) return current;
      if (current.progress !== last) await onProgress((last = current.progress));
      await sleep(pollMs);
    }
  }

  /** Waits until no operation of the container is unfinished (a user's own mutation of it). */
  async function idle(containerId: string): Promise<void> {
    for (;;) {
      const busy = await db.manager.existsBy(Operation, { containerId, state: OperationState.PENDING });
      const running = await db.manager.existsBy(Operation, { containerId, state: OperationState.RUNNING });
      if (!busy && !running) return;
      await sleep(pollMs);
    }
  }

  const drain: OperationHandler = {
    async run(operation: Operation, step: Step) {
      const node = await db.manager.findOneBy(Node, { id: operation.nodeId! });
      if (!node) throw new CorralError(ErrorCode.NOT_FOUND, 'the node is gone');
      // The same actor as the drain, for the moves' records.
      const actor = { userId: operation.actorUserId } as Actor;
      let total = typeof operation.input.total === 'number' ? operation.input.total : 0;
      for (;;) {
        const remaining: Container[] = await containersOn(db.manager, node.id);
        if (remaining.length > total || typeof operation.input.total !== 'number') {
          total = Math.max(total, remaining.length);
          operation.input = { ...operation.input, total };
          await db.manager.update(Operation, { id: operation.id }, { input: operation.input as never });
        }
        if (remaining.length === 0) break;
        const container = remaining[0]!;
        const done = total - remaining.length;
        const label = `${container.name} (${done + 1} of ${total})`;
        const project = await db.manager.findOneOrFail(Project, { where: { id: container.projectId }, relations: { account: true } });
        const account = project.account!;

        // A move recorded before a crash is followed, never recorded again.
        let move = await db.manager.findOneBy(Operation, { accountId: account.id, idempotencyKey: moveKey(operation.id, container.id) });
        let targetName: string;
        if (move) {
          targetName = (await db.manager.findOneBy(Node, { id: String(move.input.targetNodeId) }))?.name ?? 'another node';
        } else {
          const { cluster, targets, used } = await drains.targetsFor(db.manager, node);
          if (targets.length === 0) throw new CorralError(ErrorCode.NODE_UNAVAILABLE, `no other node of cluster ${cluster.name} is READY to take ${container.name}`, { containerId: container.id, container: container.name });
          const target = planMoves([container], targets, cluster, used).get(container.id)!;
          targetName = target.name;
          await step.progress(percent(done, total, 0), `moving ${label} to ${target.name}`);
          try {
            move = await operations.record(db.manager, actor, {
              account,
              action: MIGRATE,
              containerId: container.id,
              nodeId: node.id,
              input: { id: container.id, targetNodeId: target.id, live: false, drainOperationId: operation.id },
              idempotencyKey: moveKey(operation.id, container.id),
            });
          } catch (error) {
            if (!(error instanceof CorralError && error.code === ErrorCode.OPERATION_IN_PROGRESS)) throw error;
            // The container is busy with an operation of its own (a user's, or its creation): let it finish, then look again.
            await step.progress(percent(done, total, 0), `waiting for ${label} to finish its own operation`);
            await idle(container.id);
            continue;
          }
        }
        if (move.state === OperationState.SUCCEEDED) {
          // Moved, yet still on the node: something moved it back. Do not loop for ever.
          throw new CorralError(ErrorCode.CONFLICT, `${container.name} was moved away and is back on ${node.name}; drain the node again`, { containerId: container.id });
        }
        runner().kick(move.id);
        const text = `moving ${label} to ${targetName}`;
        const result = await finished(move.id, (p) => step.progress(percent(done, total, p), text));
        if (result.state === OperationState.FAILED) {
          log.warn({ operation: operation.id, node: node.name, container: container.id, err: result.errorMessage }, 'a drain could not move a container');
          throw new CorralError((result.errorCode as ErrorCode) ?? ErrorCode.LXD_ERROR, `moving ${label} to ${targetName} failed: ${result.errorMessage ?? 'unknown error'}`, { containerId: container.id, container: container.name });
        }
      }
      await step.progress(99, `${node.name} is empty`);
      // Only from DRAINING: an operator may have put the node back in service meanwhile.
      await db.manager.update(Node, { id: node.id, status: NodeStatus.DRAINING }, { status: NodeStatus.MAINTENANCE });
    },
    // Every step looks at where things are: running it again resumes.
    recover: (operation, step) => drain.run(operation, step),
  };
  return { [DRAIN]: drain };
}
