import { IsEmail, IsIn, IsOptional, Length, Matches, MaxLength } from 'class-validator';
import { ArgsType, Field, ID, InputType } from 'type-graphql';
import { PageArgs } from '../common/pagination';
import { AccountKind } from './account.entity';
import { Role } from './user.entity';

/** Printable names without leading or trailing space; no control characters. */
const DISPLAY_NAME = /^[^\s\p{Cc}](?:[^\p{Cc}]*[^\s\p{Cc}])?$/u;

@InputType()
export class CreateAccountInput {
  @Field(() => AccountKind, { description: 'RESELLER (provider admins only) or CUSTOMER.' })
  @IsIn([AccountKind.RESELLER, AccountKind.CUSTOMER], { message: 'kind must be RESELLER or CUSTOMER' })
  kind!: AccountKind;

  @Field()
  @Length(1, 100)
  @Matches(DISPLAY_NAME, { message: 'name must be printable text without leading or trailing spaces' })
  name!: string;

  @Field(() => ID, { nullable: true, description: "The parent account; defaults to the caller's own account." })
  @IsOptional()
  parentId?: string;
}

@InputType()
export class CreateProjectInput {
  @Field(() => ID)
  accountId!: string;

  @Field({ description: 'Lower-case letters, digits and hyphens, starting with a letter; 1–63 characters.' })
  @Matches(/^[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$/, {
    message: 'name must be 1–63 lower-case letters, digits or hyphens, start with a letter and not end with a hyphen',
  })
  name!: string;

  @Field({ nullable: true })
  @IsOptional()
  @MaxLength(500)
  description?: string;
}

@InputType()
export class CreateUserInput {
  @Field(() => ID)
  accountId!: string;

  @Field()
  @IsEmail({}, { message: 'email must be an email address' })
  @MaxLength(254)
  email!: string;

  @Field({ nullable: true })
  @IsOptional()
  @Length(0, 100)
  name?: string;

  @Field(() => Role)
  role!: Role;

  @Field({ description: 'At least 12 characters.' })
  @Length(12, 256, { message: 'password must be 12 to 256 characters' })
  password!: string;
}

@ArgsType()
export class AccountsArgs extends PageArgs {
  @Field(() => ID, { nullable: true, description: 'Only the direct children of this account.' })
  parentId?: string;

  @Field(() => AccountKind, { nullable: true })
  kind?: AccountKind;
}

@ArgsType()
export class ByAccountArgs extends PageArgs {
  @Field(() => ID, { nullable: true, description: 'Only objects of this account; all visible ones when omitted.' })
  accountId?: string;
}
