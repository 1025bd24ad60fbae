import { Arg, Args, Authorized, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { Context } from '../app/context';
import { Permission } from '../auth/permissions';
import { ConnectionType, PageArgs } from '../common/pagination';
import { Node } from '../nodes/node.entity';
import { Cluster } from './cluster.entity';
import { CreateClusterInput } from './clusters.inputs';

export const ClusterConnection = ConnectionType(Cluster);

@Authorized(Permission.INFRASTRUCTURE_READ)
@Resolver(() => Cluster)
export class ClustersResolver {
  @Query(() => Cluster)
  cluster(@Arg('id', () => ID) id: string, @Ctx() ctx: Context): Promise<Cluster> {
    return ctx.services.clusters.get(ctx.actor!, id);
  }

  @Query(() => ClusterConnection)
  clusters(@Args() page: PageArgs, @Ctx() ctx: Context) {
    return ctx.services.clusters.list(ctx.actor!, page);
  }

  @Authorized(Permission.INFRASTRUCTURE_WRITE)
  @Mutation(() => Cluster)
  createCluster(@Arg('input') input: CreateClusterInput, @Ctx() ctx: Context): Promise<Cluster> {
    return ctx.services.clusters.create(ctx.actor!, input);
  }

  @FieldResolver(() => [Node])
  nodes(@Root() cluster: Cluster, @Ctx() ctx: Context): Promise<Node[]> {
    return ctx.services.nodes.ofCluster(cluster.id);
  }
}
