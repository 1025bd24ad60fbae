import { Arg, Args, Authorized, Ctx, Mutation, Resolver } from 'type-graphql';
import type { Context } from '../app/context';
import { Permission } from '../auth/permissions';
import { CloneContainerInput } from './clone.inputs';
import { Container } from './container.entity';
import { IdempotencyArgs } from './containers.inputs';

@Authorized(Permission.CONTAINERS_WRITE)
@Resolver(() => Container)
export class CloneResolver {
  @Mutation(() => Container, {
    description:
      'Copies a container (running or not) with its data and resources as a new container of the same project, with a new identity (LXD `volatile.uuid`, cloud-init instance-id). The clone starts if the source was running. Returns the clone at once as CREATING; follow `operation` (`container.clone`). Refused like createContainer (CONFLICT for a taken name, LICENCE_LIMIT, NODE_UNAVAILABLE, CAPACITY_EXCEEDED), and with OPERATION_IN_PROGRESS while the source is busy; then nothing is changed.',
  })
  cloneContainer(@Arg('input') input: CloneContainerInput, @Args() { idempotencyKey }: IdempotencyArgs, @Ctx() ctx: Context): Promise<Container> {
    return ctx.services.clones.clone(ctx.actor!, input, idempotencyKey);
  }
}
