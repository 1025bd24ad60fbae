import { IsOptional, Length, Matches } from 'class-validator';
import { ArgsType, Field, ID, InputType } from 'type-graphql';
import { PageArgs } from '../common/pagination';

@InputType()
export class AddNodeInput {
  @Field(() => ID)
  clusterId!: string;

  @Field()
  @Matches(/^[a-z][a-z0-9-]{0,61}[a-z0-9]$/, { message: 'name must be 2–63 lower-case letters, digits or hyphens, starting with a letter' })
  name!: string;

  @Field({ description: 'The LXD API of a running LXD, e.g. https://198.18.0.11:8443.' })
  @Matches(/^https:\/\/[A-Za-z0-9.:[\]-]+(:\d{1,5})?\/?$/, { message: 'url must be https://host:port' })
  url!: string;

  @Field({ description: "LXD's trust password, or a trust token from `lxc config trust add` (whose fingerprint is then pinned)." })
  @Length(1, 4096)
  secret!: string;
}

@ArgsType()
export class NodesArgs extends PageArgs {
  @Field(() => ID, { nullable: true })
  @IsOptional()
  clusterId?: string;
}
