import { Arg, Authorized, Ctx, FieldResolver, Mutation, Resolver, Root } from 'type-graphql';
import type { Context } from '../app/context';
import { Permission } from '../auth/permissions';
import { Container } from '../containers/container.entity';
import { ContainerFirewall } from './firewall.entity';
import { SetContainerFirewallInput } from './firewall.inputs';

@Authorized(Permission.CONTAINERS_READ)
@Resolver(() => Container)
export class FirewallResolver {
  @FieldResolver(() => ContainerFirewall, { description: 'The inbound firewall Corral enforces on the container’s node.' })
  firewall(@Root() container: Container, @Ctx() ctx: Context): Promise<ContainerFirewall> {
    return ctx.services.firewall.settingsOf(container.id);
  }

  @Authorized(Permission.CONTAINERS_WRITE)
  @Mutation(() => Container, {
    description:
      'Sets the container’s inbound firewall: a limit on concurrent inbound TCP connections (beyond it new ones are reset) and the only ports open to new inbound TCP and UDP (others: TCP reset, UDP port unreachable; ICMP and replies always pass). Both fields are replaced; null or left out means none. Applied on the node before the answer. BAD_USER_INPUT (with `field`) for a limit outside 1–100 000, more than 64 port rules or a bad range; NODE_UNAVAILABLE when the node was added without SSH (addNode: Corral cannot manage its firewall; clearing is allowed) or is offline — then nothing changed — or when the node failed to apply the saved settings (Corral retries at its next refresh).',
  })
  setContainerFirewall(@Arg('input') input: SetContainerFirewallInput, @Ctx() ctx: Context): Promise<Container> {
    return ctx.services.firewall.set(ctx.actor!, input);
  }
}
