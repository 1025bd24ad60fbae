import type { DataSource } from 'typeorm';
import { inScope, visibleAccount } from '../accounts/access';
import type { Actor } from '../app/actor';
import { notFound } from '../app/errors';
import { isId } from '../common/ids';
import { paginate, type Connection } from '../common/pagination';
import type { AuditEventsArgs } from './audit.inputs';
import { AuditEvent } from './audit-event.entity';

export class AuditEventsService {
  constructor(private readonly db: DataSource) {}

  /** Events about accounts inside the caller's scope, newest first. */
  async list(actor: Actor, args: AuditEventsArgs): Promise<Connection<AuditEvent>> {
    const qb = this.db.getRepository(AuditEvent).createQueryBuilder('event');
    if (args.accountId !== undefined && args.accountId !== null) {
      const account = await visibleAccount(this.db.manager, actor, args.accountId);
      qb.where('event.accountId = :accountId', { accountId: account.id });
    } else {
      qb.where('event.accountPath LIKE :scopePath', { scopePath: `${actor.scope.path}%` });
    }
    if (args.action) qb.andWhere('event.action = :action', { action: args.action });
    return paginate(qb, args, 'DESC');
  }

  /** For live delivery: the event, checked again against the caller's scope. */
  async get(actor: Actor, id: string): Promise<AuditEvent> {
    const event = isId(id) ? await this.db.manager.findOneBy(AuditEvent, { id }) : null;
    if (!event || !inScope(actor, event.accountPath)) throw notFound('Audit event');
    return event;
  }

  /** Checks a subscription's filter before it starts: the account must be visible. */
  async checkSubscription(actor: Actor, accountId: string | undefined | null): Promise<string> {
    if (accountId === undefined || accountId === null) return actor.scope.path;
    return (await visibleAccount(this.db.manager, actor, accountId)).path;
  }
}
