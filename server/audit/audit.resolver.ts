import { filter, pipe } from '@graphql-yoga/subscription';
import { Arg, Args, Authorized, Ctx, ID, Query, Resolver, Root, Subscription, type SubscribeResolverData } from 'type-graphql';
import { requirePermissions } from '../app/auth-checker';
import type { Context } from '../app/context';
import { Permission } from '../auth/permissions';
import { ConnectionType } from '../common/pagination';
import { AuditEvent } from './audit-event.entity';
import { AuditEventsArgs } from './audit.inputs';
import { AuditTopics, type AuditEventCreatedPayload } from './audit.topics';

export const AuditEventConnection = ConnectionType(AuditEvent);

@Authorized()
@Resolver(() => AuditEvent)
export class AuditResolver {
  @Authorized(Permission.AUDIT_READ)
  @Query(() => AuditEventConnection, { description: 'The audit trail the caller may see, newest first.' })
  auditEvents(@Args() args: AuditEventsArgs, @Ctx() ctx: Context) {
    return ctx.services.auditEvents.list(ctx.actor!, args);
  }

  /** Access is checked when subscribing (the account) and again for every event (its scope). */
  @Authorized(Permission.AUDIT_READ)
  @Subscription(() => AuditEvent, {
    description: 'Audit events as they are written, for one account (and its descendants) or everything visible.',
    subscribe: async ({ args, context }: SubscribeResolverData<unknown, { accountId?: string | null }, Context>) => {
      // @Authorized guards the per-event resolver; the subscription itself is checked here, up front.
      requirePermissions(context, [Permission.AUDIT_READ]);
      const prefix = await context.services.auditEvents.checkSubscription(context.actor!, args.accountId);
      return pipe(
        context.services.pubsub.subscribe(AuditTopics.created),
        filter((payload: AuditEventCreatedPayload) => !!payload.accountPath?.startsWith(prefix)),
      );
    },
  })
  async auditEventCreated(
    @Root() payload: AuditEventCreatedPayload,
    @Arg('accountId', () => ID, { nullable: true }) _accountId: string | undefined,
    @Ctx() ctx: Context,
  ): Promise<AuditEvent> {
    return ctx.services.auditEvents.get(ctx.actor!, payload.id);
  }
}
