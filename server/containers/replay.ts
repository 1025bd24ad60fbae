import type { EntityManager } from 'typeorm';
import { CorralError, ErrorCode, notFound } from '../app/errors';
import { type Operation, OperationState } from '../operations/operation.entity';
import { Container } from './container.entity';

/**
 * What a replayed container mutation (same idempotency key, same input) answers: the first
 * operation's failure, or the container as it is now.
 */
export async function replayedContainer(em: EntityManager, operation: Operation): Promise<Container> {
  if (operation.state === OperationState.FAILED) {
    throw new CorralError((operation.errorCode as ErrorCode) ?? ErrorCode.INTERNAL_SERVER_ERROR, operation.errorMessage ?? 'the operation failed');
  }
  const container = operation.containerId ? await em.findOneBy(Container, { id: operation.containerId }) : null;
  if (!container) throw notFound('Container');
  return container;
}
