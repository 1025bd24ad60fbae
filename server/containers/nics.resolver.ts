import { Arg, Authorized, Ctx, FieldResolver, Mutation, Resolver, Root } from 'type-graphql';
import type { Context } from '../app/context';
import { Permission } from '../auth/permissions';
import { Container } from './container.entity';
import { ContainerNic } from './nic.entity';
import { AddNetworkInterfaceInput, RemoveNetworkInterfaceInput } from './nics.inputs';

@Authorized(Permission.CONTAINERS_READ)
@Resolver(() => Container)
export class NicsResolver {
  @FieldResolver(() => [ContainerNic], { description: 'The network interfaces Corral added (by name); the primary `eth0` comes with the networking issue.' })
  networkInterfaces(@Root() container: Container, @Ctx() ctx: Context): Promise<ContainerNic[]> {
    return ctx.services.nics.list(container.id);
  }

  @Authorized(Permission.CONTAINERS_WRITE)
  @Mutation(() => Container, {
    description:
      'Adds a bridged network interface, hot-plugged into a running container (it appears at once; a stopped one gets it at start). Returns at once; follow `operation` (`container.addNetworkInterface`). BAD_USER_INPUT for a bad or reserved name (`eth0` is the primary interface’s) or a network not open to containers, CONFLICT for a name or network the container already has (LXD allows one interface per network), QUOTA_EXCEEDED beyond 8 interfaces. NIC limits set with setContainerNetworkLimits apply to the new interface too.',
  })
  addNetworkInterface(@Arg('input') input: AddNetworkInterfaceInput, @Ctx() ctx: Context): Promise<Container> {
    return ctx.services.nics.add(ctx.actor!, input);
  }

  @Authorized(Permission.CONTAINERS_WRITE)
  @Mutation(() => Container, {
    description:
      'Removes a network interface Corral added, live. Returns at once; follow `operation` (`container.removeNetworkInterface`). NOT_FOUND for an interface the container does not have, BAD_USER_INPUT for `eth0` (the primary interface).',
  })
  removeNetworkInterface(@Arg('input') input: RemoveNetworkInterfaceInput, @Ctx() ctx: Context): Promise<Container> {
    return ctx.services.nics.remove(ctx.actor!, input);
  }
}
