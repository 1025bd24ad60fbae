import { createHash } from 'node:crypto';
import type { DataSource, EntityManager } from 'typeorm';
import { inScope } from '../accounts/access';
import type { Account } from '../accounts/account.entity';
import type { Actor } from '../app/actor';
import { CorralError, ErrorCode, notFound } from '../app/errors';
import { isUniqueViolation } from '../common/db-errors';
import { isId, newId } from '../common/ids';
import { paginate, type Connection } from '../common/pagination';
import { Operation, OperationState } from './operation.entity';
import type { OperationsArgs } from './operations.inputs';

export const ACTIVE_STATES = [OperationState.PENDING, OperationState.RUNNING];

/** Stable JSON (sorted keys), so that the same input always hashes the same. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}
export const requestHash = (action: string, input: unknown) => createHash('sha256').update(`${action}\n${canonical(input)}`).digest('hex');

export interface NewOperation {
  account: Pick<Account, 'id' | 'path'>;
  action: string;
  containerId: string | null;
  nodeId: string | null;
  input: Record<string, unknown>;
  idempotencyKey?: string | null;
}

export class OperationsService {
  constructor(private readonly db: DataSource) {}

  /**
   * The earlier operation for this idempotency key, if any. The same key with other input is
   * refused; the same key with the same input returns the first operation.
   */
  async replayOf(em: EntityManager, account: Pick<Account, 'id'>, key: string | null | undefined, action: string, input: unknown): Promise<Operation | null> {
    if (!key) return null;
    const earlier = await em.findOneBy(Operation, { accountId: account.id, idempotencyKey: key });
    if (!earlier) return null;
    if (earlier.requestHash !== requestHash(action, input)) {
      throw new CorralError(ErrorCode.IDEMPOTENCY_KEY_REUSED, 'this idempotency key was used for a different request', { field: 'idempotencyKey' });
    }
    return earlier;
  }

  /** Records an operation before anything is sent to a node. One unfinished operation per container. */
  async record(em: EntityManager, actor: Actor, spec: NewOperation): Promise<Operation> {
    const operation = em.create(Operation, {
      id: newId(),
      accountId: spec.account.id,
      accountPath: spec.account.path,
      containerId: spec.containerId,
      nodeId: spec.nodeId,
      action: spec.action,
      state: OperationState.PENDING,
      progress: 0,
      step: 'queued',
      idempotencyKey: spec.idempotencyKey ?? null,
      requestHash: requestHash(spec.action, spec.input),
      input: spec.input,
      errorCode: null,
      errorMessage: null,
      actorUserId: actor.userId,
      leaseOwner: null,
      leaseExpiresAt: null,
      finishedAt: null,
    });
    try {
      await em.save(Operation, operation);
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
      throw new CorralError(ErrorCode.OPERATION_IN_PROGRESS, 'another operation is running on this container; try again when it has finished');
    }
    return operation;
  }

  async get(actor: Actor, id: string): Promise<Operation> {
    const operation = isId(id) ? await this.db.manager.findOneBy(Operation, { id }) : null;
    if (!operation || !inScope(actor, operation.accountPath)) throw notFound('Operation');
    return operation;
  }

  /**
   * Newest first, by container or by account, inside the caller's scope. A deleted container's
   * history stays queryable by its ID; the scope filter alone decides visibility.
   */
  async list(actor: Actor, args: OperationsArgs): Promise<Connection<Operation>> {
    const qb = this.db.getRepository(Operation).createQueryBuilder('operation').where('operation.accountPath LIKE :scopePath', { scopePath: `${actor.scope.path}%` });
    if (args.containerId) {
      if (!isId(args.containerId)) throw notFound('Container');
      qb.andWhere('operation.containerId = :containerId', { containerId: args.containerId });
    }
    if (args.accountId) {
      if (!isId(args.accountId)) throw notFound('Account');
      qb.andWhere('operation.accountId = :accountId', { accountId: args.accountId });
    }
    if (args.state) qb.andWhere('operation.state = :state', { state: args.state });
    return paginate(qb, args, 'DESC');
  }

  /** The newest operation of each container, for `Container.operation`. */
  async latestFor(containerIds: readonly string[]): Promise<Map<string, Operation>> {
    if (containerIds.length === 0) return new Map();
    const rows = await this.db
      .getRepository(Operation)
      .createQueryBuilder('operation')
      .where('operation.containerId IN (:...ids)', { ids: [...containerIds] })
      .andWhere('operation.id = (SELECT MAX(newer.id) FROM operations newer WHERE newer."containerId" = operation."containerId")')
      .getMany();
    return new Map(rows.map((row) => [row.containerId!, row]));
  }
}
