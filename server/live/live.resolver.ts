import { Arg, Authorized, Ctx, ID, Resolver, Root, Subscription, type SubscribeResolverData } from 'type-graphql';
import { requirePermissions } from '../app/auth-checker';
import type { Context } from '../app/context';
import { Permission } from '../auth/permissions';
import { Container } from '../containers/container.entity';
import { Node } from '../nodes/node.entity';
import { Operation } from '../operations/operation.entity';
import type { LiveCaller } from './live.service';

const callerOf = (context: Context): LiveCaller => ({ actor: context.actor!, reauthenticate: context.reauthenticate });

/**
 * A subscription's context lives as long as the subscription, and so would its loaders' caches:
 * every event starts with empty ones, so that `operation` and the like are read afresh.
 */
function freshLoaders(ctx: Context) {
  for (const loader of Object.values(ctx.loaders)) loader.clearAll();
}

/** Live updates. Access is checked in `subscribe` (up front) and by LiveService for every event. */
@Authorized()
@Resolver()
export class LiveResolver {
  @Authorized(Permission.CONTAINERS_READ)
  @Subscription(() => Container, {
    description:
      'A container as it is after each change (through Corral, or on its node behind Corral\'s back), by container or by project: name exactly one. ' +
      'Completes when the container (or project) is gone or no longer visible to the caller.',
    subscribe: ({ args, context }: SubscribeResolverData<unknown, { containerId?: string | null; projectId?: string | null }, Context>) => {
      requirePermissions(context, [Permission.CONTAINERS_READ]);
      return context.services.live.containerChanged(callerOf(context), args);
    },
  })
  containerChanged(
    @Root() container: Container,
    @Arg('containerId', () => ID, { nullable: true }) _containerId: string | undefined,
    @Arg('projectId', () => ID, { nullable: true }) _projectId: string | undefined,
    @Ctx() ctx: Context,
  ): Container {
    freshLoaders(ctx);
    return container;
  }

  @Authorized(Permission.CONTAINERS_READ)
  @Subscription(() => Operation, {
    description: 'The operation as it is now, then each change of state, progress or step; completes after SUCCEEDED or FAILED.',
    subscribe: ({ args, context }: SubscribeResolverData<unknown, { operationId: string }, Context>) => {
      requirePermissions(context, [Permission.CONTAINERS_READ]);
      return context.services.live.operationProgress(callerOf(context), args.operationId);
    },
  })
  operationProgress(@Root() operation: Operation, @Arg('operationId', () => ID) _operationId: string, @Ctx() ctx: Context): Operation {
    freshLoaders(ctx);
    return operation;
  }

  @Authorized(Permission.INFRASTRUCTURE_READ)
  @Subscription(() => Operation, {
    description:
      'The newest setup of a node connected over SSH (provider admins): the `node.setup` operation as it is now, then each step as it runs; ' +
      'completes after SUCCEEDED or FAILED. A retry (`retryNodeSetup`) is a new operation: subscribe again.',
    subscribe: ({ args, context }: SubscribeResolverData<unknown, { nodeId: string }, Context>) => {
      requirePermissions(context, [Permission.INFRASTRUCTURE_READ]);
      return context.services.live.nodeSetupProgress(callerOf(context), args.nodeId);
    },
  })
  nodeSetupProgress(@Root() operation: Operation, @Arg('nodeId', () => ID) _nodeId: string, @Ctx() ctx: Context): Operation {
    freshLoaders(ctx);
    return operation;
  }

  @Authorized(Permission.INFRASTRUCTURE_READ)
  @Subscription(() => Node, {
    description: 'A node after each change of status or allocation (provider admins): one node, or every node.',
    subscribe: ({ args, context }: SubscribeResolverData<unknown, { nodeId?: string | null }, Context>) => {
      requirePermissions(context, [Permission.INFRASTRUCTURE_READ]);
      return context.services.live.nodeChanged(callerOf(context), args.nodeId);
    },
  })
  nodeChanged(@Root() node: Node, @Arg('nodeId', () => ID, { nullable: true }) _nodeId: string | undefined, @Ctx() ctx: Context): Node {
    freshLoaders(ctx);
    return node;
  }
}
