import { Arg, Args, Authorized, Ctx, FieldResolver, ID, Mutation, Resolver, Root } from 'type-graphql';
import type { Context } from '../app/context';
import { Permission } from '../auth/permissions';
import { IdempotencyArgs } from '../containers/containers.inputs';
import { Operation } from '../operations/operation.entity';
import { Node } from './node.entity';

@Authorized(Permission.INFRASTRUCTURE_READ)
@Resolver(() => Node)
export class DrainResolver {
  @Authorized(Permission.INFRASTRUCTURE_WRITE)
  @Mutation(() => Node, {
    description:
      'Empties a node for maintenance (provider admins only): it turns DRAINING (nothing new is placed on it), its containers move one at a time to other READY nodes of the cluster (cold: each is stopped, moved, and started again if it ran), then it is in MAINTENANCE until `undrainNode`. Returns at once; follow `operation` (`node.drain`; each move is also a `container.migrate` in the container\'s history). NOT_FOUND for an unknown node, NODE_UNAVAILABLE for an offline node or a cluster without another READY node, OPERATION_IN_PROGRESS while a drain of the node runs, CAPACITY_EXCEEDED naming a container no other node has room for; then nothing is changed. A node already in MAINTENANCE is answered as it is.',
  })
  drainNode(@Arg('id', () => ID) id: string, @Args() { idempotencyKey }: IdempotencyArgs, @Ctx() ctx: Context): Promise<Node> {
    return ctx.services.drains.drain(ctx.actor!, id, idempotencyKey);
  }

  @Authorized(Permission.INFRASTRUCTURE_WRITE)
  @Mutation(() => Node, {
    description: 'Puts a DRAINING or MAINTENANCE node back in service (READY; OFFLINE at the next health check if it does not answer). OPERATION_IN_PROGRESS while a drain of it runs. A node in service is answered as it is.',
  })
  undrainNode(@Arg('id', () => ID) id: string, @Ctx() ctx: Context): Promise<Node> {
    return ctx.services.drains.undrain(ctx.actor!, id);
  }

  @FieldResolver(() => Operation, { nullable: true, description: 'The newest operation on the node itself (`node.drain`); container operations are on each container.' })
  operation(@Root() node: Node, @Ctx() ctx: Context): Promise<Operation | null> {
    return ctx.services.drains.latestFor(node.id);
  }
}
