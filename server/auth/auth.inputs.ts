import { ArrayMaxSize, ArrayMinSize, IsOptional, Length } from 'class-validator';
import { Field, ID, InputType, ObjectType } from 'type-graphql';
import { ApiToken } from './api-token.entity';
import { Permission } from './permissions';

@InputType()
export class CreateApiTokenInput {
  @Field()
  @Length(1, 100)
  name!: string;

  @Field(() => ID, { nullable: true, description: "The account the token acts on (and its descendants); defaults to the caller's." })
  @IsOptional()
  accountId?: string;

  @Field(() => [Permission], { description: 'Must be a subset of what the caller holds.' })
  @ArrayMinSize(1)
  @ArrayMaxSize(Object.keys(Permission).length)
  permissions!: Permission[];

  @Field(() => Date, { nullable: true, description: 'When the token stops working; never when omitted.' })
  @IsOptional()
  expiresAt?: Date;
}

@ObjectType({ description: 'A new token. `token` is shown here once and never again.' })
export class CreatedApiToken {
  @Field()
  token!: string;

  @Field(() => ApiToken)
  apiToken!: ApiToken;
}
