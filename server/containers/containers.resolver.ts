import { Arg, Args, Authorized, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import { Project } from '../accounts/project.entity';
import type { Context } from '../app/context';
import { Permission } from '../auth/permissions';
import { ConnectionType } from '../common/pagination';
import { Image } from '../images/image.entity';
import { Node } from '../nodes/node.entity';
import { Operation } from '../operations/operation.entity';
import { Container } from './container.entity';
import { ContainersArgs, CreateContainerInput, IdempotencyArgs } from './containers.inputs';

export const ContainerConnection = ConnectionType(Container);

@Authorized(Permission.CONTAINERS_READ)
@Resolver(() => Container)
export class ContainersResolver {
  @Query(() => Container)
  container(@Arg('id', () => ID) id: string, @Ctx() ctx: Context): Promise<Container> {
    return ctx.services.containers.get(ctx.actor!, id);
  }

  @Query(() => ContainerConnection)
  containers(@Args() args: ContainersArgs, @Ctx() ctx: Context) {
    return ctx.services.containers.list(ctx.actor!, args);
  }

  @Authorized(Permission.CONTAINERS_WRITE)
  @Mutation(() => Container, { description: 'Creates and starts a container. Returns at once; follow `operation`.' })
  createContainer(@Arg('input') input: CreateContainerInput, @Args() { idempotencyKey }: IdempotencyArgs, @Ctx() ctx: Context): Promise<Container> {
    return ctx.services.containers.create(ctx.actor!, input, idempotencyKey);
  }

  @Authorized(Permission.CONTAINERS_POWER)
  @Mutation(() => Container)
  startContainer(@Arg('id', () => ID) id: string, @Args() { idempotencyKey }: IdempotencyArgs, @Ctx() ctx: Context): Promise<Container> {
    return ctx.services.containers.power(ctx.actor!, id, 'start', { idempotencyKey });
  }

  @Authorized(Permission.CONTAINERS_POWER)
  @Mutation(() => Container, { description: 'A clean shutdown, or an immediate one with `force`.' })
  stopContainer(
    @Arg('id', () => ID) id: string,
    @Arg('force', () => Boolean, { nullable: true }) force: boolean | undefined,
    @Args() { idempotencyKey }: IdempotencyArgs,
    @Ctx() ctx: Context,
  ): Promise<Container> {
    return ctx.services.containers.power(ctx.actor!, id, 'stop', { force: !!force, idempotencyKey });
  }

  @Authorized(Permission.CONTAINERS_POWER)
  @Mutation(() => Container)
  restartContainer(@Arg('id', () => ID) id: string, @Args() { idempotencyKey }: IdempotencyArgs, @Ctx() ctx: Context): Promise<Container> {
    return ctx.services.containers.power(ctx.actor!, id, 'restart', { idempotencyKey });
  }

  @Authorized(Permission.CONTAINERS_WRITE)
  @Mutation(() => Container, { description: 'Stops (forcibly) and deletes the container. Returns it as DELETING; follow `operation`.' })
  deleteContainer(@Arg('id', () => ID) id: string, @Args() { idempotencyKey }: IdempotencyArgs, @Ctx() ctx: Context): Promise<Container> {
    return ctx.services.containers.delete(ctx.actor!, id, idempotencyKey);
  }

  @FieldResolver(() => Project)
  project(@Root() container: Container, @Ctx() ctx: Context): Promise<Project> {
    return ctx.loaders.projectById.load(container.projectId) as Promise<Project>;
  }

  @FieldResolver(() => Image, { nullable: true })
  image(@Root() container: Container, @Ctx() ctx: Context): Promise<Image | null> {
    return ctx.loaders.imageById.load(container.imageId);
  }

  @Authorized(Permission.INFRASTRUCTURE_READ)
  @FieldResolver(() => Node, { description: 'The node it runs on (provider admins only).' })
  node(@Root() container: Container, @Ctx() ctx: Context): Promise<Node> {
    return ctx.services.nodes.get(ctx.actor!, container.nodeId);
  }

  @FieldResolver(() => Operation, { nullable: true, description: 'The operation running now, or the last one.' })
  operation(@Root() container: Container, @Ctx() ctx: Context): Promise<Operation | null> {
    return ctx.loaders.latestOperation.load(container.id);
  }
}
