import { Arg, Authorized, Ctx, Mutation, Resolver } from 'type-graphql';
import type { Context } from '../app/context';
import { Permission } from '../auth/permissions';
import { Container } from '../containers/container.entity';
import { AddContainerAddressInput, RemoveContainerAddressInput } from './addresses.inputs';

/** A container's public addresses: whoever may change the container may add and remove them (the pools stay the provider's). */
@Authorized(Permission.CONTAINERS_WRITE)
@Resolver(() => Container)
export class ContainerAddressMutationsResolver {
  @Mutation(() => Container, {
    description:
      'Gives the container a public address from its cluster’s IP pools, on its routed `eth0` (live on a running container). The address is allocated at once (see `addresses`); follow `operation` (`container.addAddress`) for the node. POOL_EXHAUSTED when every pool of the family is full, ADDRESS_OUTSIDE_CLUSTER for an address in none of the cluster’s pools, ADDRESS_IN_USE for one already allocated, BAD_USER_INPUT for a malformed, gateway or reserved address, QUOTA_EXCEEDED beyond 16 addresses.',
  })
  addContainerAddress(@Arg('input') input: AddContainerAddressInput, @Ctx() ctx: Context): Promise<Container> {
    return ctx.services.containerAddresses.add(ctx.actor!, input);
  }

  @Mutation(() => Container, {
    description:
      'Takes a public address off the container (live) and releases it to its pool once it is off the node. Returns at once; follow `operation` (`container.removeAddress`). NOT_FOUND for an address the container does not have. The last address removed takes `eth0` away.',
  })
  removeContainerAddress(@Arg('input') input: RemoveContainerAddressInput, @Ctx() ctx: Context): Promise<Container> {
    return ctx.services.containerAddresses.remove(ctx.actor!, input);
  }
}
