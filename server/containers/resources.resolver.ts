import { Arg, Args, Authorized, Ctx, ID, Int, Mutation, Resolver } from 'type-graphql';
import type { Context } from '../app/context';
import { Permission } from '../auth/permissions';
import { Container } from './container.entity';
import { IdempotencyArgs } from './containers.inputs';
import { SetContainerIoLimitsInput, SetContainerNetworkLimitsInput, UpdateContainerResourcesInput } from './resources.inputs';

@Authorized(Permission.CONTAINERS_WRITE)
@Resolver(() => Container)
export class ResourcesResolver {
  @Mutation(() => Container, {
    description: 'Changes CPU count, memory, CPU cap or CPU weight live, without a restart. Returns at once; follow `operation` (`container.updateResources`).',
  })
  updateContainerResources(
    @Arg('id', () => ID) id: string,
    @Arg('input') input: UpdateContainerResourcesInput,
    @Args() { idempotencyKey }: IdempotencyArgs,
    @Ctx() ctx: Context,
  ): Promise<Container> {
    return ctx.services.resources.updateResources(ctx.actor!, id, input, idempotencyKey);
  }

  @Mutation(() => Container, {
    description: 'Grows the root disk live, or shrinks it while what is used (plus a margin) fits; a smaller size is refused with BAD_USER_INPUT. Follow `operation` (`container.resizeDisk`).',
  })
  resizeContainerDisk(
    @Arg('id', () => ID) id: string,
    @Arg('diskMiB', () => Int) diskMiB: number,
    @Args() { idempotencyKey }: IdempotencyArgs,
    @Ctx() ctx: Context,
  ): Promise<Container> {
    return ctx.services.resources.resizeDisk(ctx.actor!, id, diskMiB, idempotencyKey);
  }

  @Mutation(() => Container, {
    description: 'IO weight and read/write limits on the root disk, live. LIMIT_UNSUPPORTED (naming the missing feature) when the node cannot enforce one; then nothing is applied.',
  })
  setContainerIoLimits(
    @Arg('id', () => ID) id: string,
    @Arg('input') input: SetContainerIoLimitsInput,
    @Args() { idempotencyKey }: IdempotencyArgs,
    @Ctx() ctx: Context,
  ): Promise<Container> {
    return ctx.services.resources.setIoLimits(ctx.actor!, id, input, idempotencyKey);
  }

  @Mutation(() => Container, {
    description: 'Network weight and NIC ingress/egress limits, live. LIMIT_UNSUPPORTED (naming the missing feature) when the node cannot enforce one; BAD_USER_INPUT for NIC limits on a container without a NIC.',
  })
  setContainerNetworkLimits(
    @Arg('id', () => ID) id: string,
    @Arg('input') input: SetContainerNetworkLimitsInput,
    @Args() { idempotencyKey }: IdempotencyArgs,
    @Ctx() ctx: Context,
  ): Promise<Container> {
    return ctx.services.resources.setNetworkLimits(ctx.actor!, id, input, idempotencyKey);
  }
}
