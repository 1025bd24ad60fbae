import { filter, pipe } from '@graphql-yoga/subscription';
import { GraphQLBigInt } from 'graphql-scalars';
import { Arg, Args, Authorized, Ctx, Field, Float, ID, ObjectType, Query, Resolver, Root, Subscription, type SubscribeResolverData } from 'type-graphql';
import { requirePermissions } from '../app/auth-checker';
import type { Context } from '../app/context';
import { Permission } from '../auth/permissions';
import { ContainerMetricsHistoryArgs } from './metrics.inputs';
import { MetricsTopics, type ContainerMetricsPayload } from './metrics.topics';

@ObjectType({ description: 'A container’s metrics at one moment (a live sample) or over one step of history (averages).' })
export class ContainerMetrics {
  @Field(() => ID)
  containerId!: string;

  @Field({ description: 'When the sample was taken; in history, the start of the step.' })
  at!: Date;

  @Field(() => Float, { description: 'CPU time used, in percent of one CPU (200: two CPUs busy).' })
  cpuPercent!: number;

  @Field(() => GraphQLBigInt)
  memoryBytes!: number;

  @Field(() => GraphQLBigInt, { nullable: true, description: 'Root disk usage; null where the node’s storage does not report it.' })
  diskBytes!: number | null;

  @Field(() => Float, { description: 'Received over all NICs, bytes per second.' })
  rxBytesPerSecond!: number;

  @Field(() => Float, { description: 'Sent over all NICs, bytes per second.' })
  txBytesPerSecond!: number;
}

const toMetrics = (p: ContainerMetricsPayload): ContainerMetrics => ({ ...p, at: new Date(p.at) });

@Authorized(Permission.CONTAINERS_READ)
@Resolver(() => ContainerMetrics)
export class MetricsResolver {
  @Query(() => [ContainerMetrics], {
    description:
      'Metrics history for graphs: one point per `step` seconds in [from, to) where there is data. Raw samples are kept for CORRAL_METRICS_RAW_HOURS, 5-minute averages for CORRAL_METRICS_DAYS. At most 2000 points (BAD_USER_INPUT otherwise).',
  })
  async containerMetricsHistory(@Args() { id, from, to, step }: ContainerMetricsHistoryArgs, @Ctx() ctx: Context): Promise<ContainerMetrics[]> {
    return (await ctx.services.metrics.history(ctx.actor!, id, { from, to, step })).map(toMetrics);
  }

  /** Access is checked when subscribing and again for every sample. */
  @Subscription(() => ContainerMetrics, {
    description: 'Live metrics of a running container, one sample every CORRAL_METRICS_SECONDS (sampled once per node, shared by all subscribers).',
    subscribe: async ({ args, context }: SubscribeResolverData<unknown, { containerId: string }, Context>) => {
      requirePermissions(context, [Permission.CONTAINERS_READ]);
      const actor = context.actor!;
      const id = await context.services.metrics.checkSubscription(actor, args.containerId);
      return pipe(
        context.services.pubsub.subscribe(MetricsTopics.sampled, id),
        filter((payload: ContainerMetricsPayload) => context.services.metrics.stillVisible(actor, payload)),
      );
    },
  })
  containerMetrics(@Root() payload: ContainerMetricsPayload, @Arg('containerId', () => ID) _containerId: string): ContainerMetrics {
    return toMetrics(payload);
  }
}
