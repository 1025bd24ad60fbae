import { Arg, Args, Authorized, Ctx, FieldResolver, ID, Int, Mutation, ObjectType, Field, Query, Resolver, Root } from 'type-graphql';
import { GraphQLBigInt } from 'graphql-scalars';
import type { Context } from '../app/context';
import { Permission } from '../auth/permissions';
import { Cluster } from '../clusters/cluster.entity';
import { ConnectionType } from '../common/pagination';
import { Node } from './node.entity';
import { AddNodeInput, NodesArgs } from './nodes.inputs';

export const NodeConnection = ConnectionType(Node);

@ObjectType({ description: 'What containers take on a node now.' })
export class NodeAllocation {
  @Field(() => Int)
  containers!: number;

  @Field(() => Int)
  cpu!: number;

  @Field(() => GraphQLBigInt)
  memoryBytes!: number;

  @Field(() => GraphQLBigInt)
  diskBytes!: number;
}

@Authorized(Permission.INFRASTRUCTURE_READ)
@Resolver(() => Node)
export class NodesResolver {
  @Query(() => Node)
  node(@Arg('id', () => ID) id: string, @Ctx() ctx: Context): Promise<Node> {
    return ctx.services.nodes.get(ctx.actor!, id);
  }

  @Query(() => NodeConnection)
  nodes(@Args() args: NodesArgs, @Ctx() ctx: Context) {
    return ctx.services.nodes.list(ctx.actor!, args);
  }

  @Authorized(Permission.INFRASTRUCTURE_WRITE)
  @Mutation(() => Node, { description: 'Joins an LXD that already runs, by its HTTPS address and trust password or token.' })
  addNode(@Arg('input') input: AddNodeInput, @Ctx() ctx: Context): Promise<Node> {
    return ctx.services.nodes.add(ctx.actor!, input);
  }

  @FieldResolver(() => Cluster)
  cluster(@Root() node: Node, @Ctx() ctx: Context): Promise<Cluster> {
    return ctx.services.clusters.get(ctx.actor!, node.clusterId);
  }

  @FieldResolver(() => NodeAllocation)
  async allocated(@Root() node: Node, @Ctx() ctx: Context): Promise<NodeAllocation> {
    return (await ctx.services.nodes.allocation([node.id])).get(node.id)!;
  }
}
