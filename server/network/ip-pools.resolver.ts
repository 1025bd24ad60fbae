import { Arg, Authorized, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { Context } from '../app/context';
import { Permission } from '../auth/permissions';
import { Container } from '../containers/container.entity';
import { IpAddress, IpPool } from './ip-pool.entity';
import { CreateIpPoolInput } from './ip-pools.inputs';

/** IP pools are the provider's infrastructure: tenants and resellers are refused by role. */
@Authorized(Permission.INFRASTRUCTURE_READ)
@Resolver(() => IpPool)
export class IpPoolsResolver {
  @Query(() => IpPool)
  ipPool(@Arg('id', () => ID) id: string, @Ctx() ctx: Context): Promise<IpPool> {
    return ctx.services.ipam.get(ctx.actor!, id);
  }

  @Query(() => [IpPool], { description: "The cluster's IP pools, by name." })
  ipPools(@Arg('clusterId', () => ID) clusterId: string, @Ctx() ctx: Context): Promise<IpPool[]> {
    return ctx.services.ipam.list(ctx.actor!, clusterId);
  }

  @Authorized(Permission.INFRASTRUCTURE_WRITE)
  @Mutation(() => IpPool, {
    description:
      'Creates an IP pool (IPv4 or IPv6) for the containers of a cluster. BAD_USER_INPUT for a bad block, addresses outside it, or a block that overlaps another pool (in any cluster: the message names it); CONFLICT for a name the cluster already has.',
  })
  createIpPool(@Arg('input') input: CreateIpPoolInput, @Ctx() ctx: Context): Promise<IpPool> {
    return ctx.services.ipam.create(ctx.actor!, input);
  }

  @Authorized(Permission.INFRASTRUCTURE_WRITE)
  @Mutation(() => IpPool, { description: 'Deletes an IP pool. CONFLICT while any of its addresses is allocated to a container.' })
  deleteIpPool(@Arg('id', () => ID) id: string, @Ctx() ctx: Context): Promise<IpPool> {
    return ctx.services.ipam.remove(ctx.actor!, id);
  }

  @FieldResolver(() => String, { description: 'How many addresses the pool can hand out (first to last, less the gateway and reserved ones), in decimal: an IPv6 pool exceeds any integer type.' })
  size(@Root() pool: IpPool, @Ctx() ctx: Context): string {
    return ctx.services.ipam.size(pool);
  }

  @FieldResolver(() => Int, { description: 'How many of its addresses are allocated to containers.' })
  allocatedCount(@Root() pool: IpPool, @Ctx() ctx: Context): Promise<number> {
    return ctx.services.ipam.allocatedCount(pool.id);
  }
}

/** The addresses of a container, read-only: whoever may see the container may see them. */
@Authorized(Permission.CONTAINERS_READ)
@Resolver(() => Container)
export class ContainerAddressesResolver {
  @FieldResolver(() => [IpAddress], { description: 'The public addresses Corral allocated to the container from its cluster’s IP pools (IPv4 first, then IPv6, in address order).' })
  addresses(@Root() container: Container, @Ctx() ctx: Context): Promise<IpAddress[]> {
    return ctx.services.ipam.addressesOf(container.id);
  }
}
