import type { DataSource, EntityManager } from 'typeorm';
import type { Account } from '../accounts/account.entity';
import type { Actor, RequestMeta } from '../app/actor';
import { CorralError, ErrorCode } from '../app/errors';
import type { CorralPubSub } from '../app/pubsub';
import type { LivePublisher } from '../live/live.publisher';
import { newId } from '../common/ids';
import { AuditEvent, AuditOutcome } from './audit-event.entity';
import { AuditTopics } from './audit.topics';

/** What the work tells the recorder about the event as it learns it. */
export class AuditDraft {
  accountId: string | null;
  accountPath: string | null;
  targetType: string | null = null;
  targetId: string | null = null;
  actorUserId: string | null;
  actorEmail: string | null;
  /** Facts beyond the target, e.g. `{ durationMs, reason }` when a console closes. */
  details: Record<string, unknown> | null = null;

  constructor(actor: Actor | null) {
    // Until the work finds its target, a failure is filed under the caller's own account,
    // so that a probe of another tenant's ID never shows up in that tenant's trail.
    this.accountId = actor?.scope.accountId ?? null;
    this.accountPath = actor?.scope.path ?? null;
    this.actorUserId = actor?.userId ?? null;
    this.actorEmail = actor?.email ?? null;
  }

  /** The account the action concerns (where the event will be visible). */
  concerns(account: Pick<Account, 'id' | 'path'>): this {
    this.accountId = account.id;
    this.accountPath = account.path;
    return this;
  }

  target(type: string, id: string | null): this {
    this.targetType = type;
    this.targetId = id;
    return this;
  }
}

export interface Caller {
  actor: Actor | null;
  request: RequestMeta;
}

export class AuditService {
  /** Told about a committed mutation's container or node target, for live subscribers (set by createServices). */
  live: LivePublisher | null = null;

  constructor(
    private readonly db: DataSource,
    private readonly pubsub: CorralPubSub,
  ) {}

  /**
   * Runs a mutation's work in one transaction and writes its audit event in the same
   * transaction. When the work fails, the transaction rolls back and a FAILURE event with the
   * error code is written on its own, then the error is rethrown.
   */
  async within<T>(caller: Caller, action: string, work: (em: EntityManager, draft: AuditDraft) => Promise<T>): Promise<T> {
    const draft = new AuditDraft(caller.actor);
    let event: AuditEvent;
    try {
      const result = await this.db.transaction(async (em) => {
        const value = await work(em, draft);
        event = await em.save(this.eventOf(caller, action, draft, AuditOutcome.SUCCESS, null));
        return value;
      });
      this.publish(event!);
      if (draft.targetType === 'container') this.live?.containerChanged(draft.targetId);
      if (draft.targetType === 'node') this.live?.nodeChanged(draft.targetId);
      return result;
    } catch (error) {
      const code = error instanceof CorralError ? error.code : ErrorCode.INTERNAL_SERVER_ERROR;
      const failed = await this.db.manager.save(this.eventOf(caller, action, draft, AuditOutcome.FAILURE, code));
      this.publish(failed);
      throw error;
    }
  }

  private eventOf(caller: Caller, action: string, draft: AuditDraft, outcome: AuditOutcome, errorCode: string | null) {
    return this.db.manager.create(AuditEvent, {
      id: newId(),
      actorUserId: draft.actorUserId,
      actorEmail: draft.actorEmail,
      actorTokenId: caller.actor?.tokenId ?? null,
      accountId: draft.accountId,
      accountPath: draft.accountPath,
      action,
      targetType: draft.targetType,
      targetId: draft.targetId,
      outcome,
      errorCode,
      sourceAddress: caller.request.sourceAddress,
      requestId: caller.request.id,
      details: draft.details,
    });
  }

  private publish(event: AuditEvent) {
    this.pubsub.publish(AuditTopics.created, { id: event.id, accountPath: event.accountPath });
  }
}
