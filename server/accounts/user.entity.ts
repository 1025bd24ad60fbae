import { Field, ID, ObjectType, registerEnumType } from 'type-graphql';
import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { Account, AccountKind } from './account.entity';

export enum Role {
  PROVIDER_ADMIN = 'PROVIDER_ADMIN',
  RESELLER_ADMIN = 'RESELLER_ADMIN',
  CUSTOMER_OWNER = 'CUSTOMER_OWNER',
  CUSTOMER_MEMBER = 'CUSTOMER_MEMBER',
}
registerEnumType(Role, { name: 'Role' });

/** Which roles a user of an account of each kind may hold. */
export const rolesForKind: Record<AccountKind, Role[]> = {
  [AccountKind.PROVIDER]: [Role.PROVIDER_ADMIN],
  [AccountKind.RESELLER]: [Role.RESELLER_ADMIN],
  [AccountKind.CUSTOMER]: [Role.CUSTOMER_OWNER, Role.CUSTOMER_MEMBER],
};

@ObjectType({ description: 'A person who signs in. Belongs to exactly one account.' })
@Entity('users')
export class User {
  @Field(() => ID)
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Index()
  @Column({ type: 'varchar', length: 36 })
  accountId!: string;

  @ManyToOne(() => Account, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'accountId' })
  account?: Account;

  /** Stored lower-cased; unique across Corral because it is the login name. */
  @Field()
  @Index({ unique: true })
  @Column({ type: 'varchar', length: 254 })
  email!: string;

  @Field()
  @Column({ type: 'varchar', length: 100, default: '' })
  name!: string;

  @Field(() => Role)
  @Column({ type: 'simple-enum', enum: Role })
  role!: Role;

  /** argon2id; never selected unless asked for, never a GraphQL field. */
  @Column({ type: 'varchar', length: 255, select: false })
  passwordHash!: string;

  @Field()
  @CreateDateColumn()
  createdAt!: Date;
}
