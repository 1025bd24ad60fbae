import { Arg, Authorized, Ctx, Field, Int, Mutation, ObjectType, Query, Resolver } from 'type-graphql';
import type { Context } from '../app/context';
import { Permission } from '../auth/permissions';

@ObjectType({ description: 'The licence in force and what is used of it.' })
export class LicenceStatus {
  @Field()
  licensee!: string;

  @Field(() => Int)
  maxNodes!: number;

  @Field(() => Int)
  maxContainers!: number;

  @Field(() => Date, { nullable: true, description: 'null on the free tier.' })
  expiresAt!: Date | null;

  @Field({ description: 'True when no valid licence is installed and the free tier applies.' })
  freeTier!: boolean;

  @Field(() => Int, { description: 'Nodes connected now.' })
  nodes!: number;

  @Field(() => Int, { description: 'Containers that exist now.' })
  containers!: number;
}

@Authorized(Permission.INFRASTRUCTURE_READ)
@Resolver()
export class LicencesResolver {
  @Query(() => LicenceStatus)
  licence(@Ctx() ctx: Context): Promise<LicenceStatus> {
    return ctx.services.licences.status();
  }

  @Authorized(Permission.INFRASTRUCTURE_WRITE)
  @Mutation(() => LicenceStatus, { description: 'Installs a signed licence document; the newest valid one applies.' })
  installLicence(@Arg('licence') licence: string, @Ctx() ctx: Context): Promise<LicenceStatus> {
    return ctx.services.licences.install(ctx.actor!, licence);
  }
}
