import { Field, ID, ObjectType } from 'type-graphql';
import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { Account } from '../accounts/account.entity';
import { User } from '../accounts/user.entity';
import { Permission } from './permissions';

/** A bearer token for programs. The secret is shown once at creation; only its SHA-256 is kept. */
@ObjectType()
@Entity('api_tokens')
export class ApiToken {
  @Field(() => ID)
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Field()
  @Column({ type: 'varchar', length: 100 })
  name!: string;

  /** The user who created it; the token never holds more than they do. */
  @Index()
  @Column({ type: 'varchar', length: 36 })
  userId!: string;

  @ManyToOne(() => User, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'userId' })
  user?: User;

  /** The account (and its descendants) the token may act on. */
  @Column({ type: 'varchar', length: 36 })
  accountId!: string;

  @ManyToOne(() => Account, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'accountId' })
  account?: Account;

  @Field(() => [Permission])
  @Column({ type: 'simple-json' })
  permissions!: Permission[];

  /** The first characters of the secret, so that a person can tell tokens apart. */
  @Field({ description: 'The start of the token, to recognise it; the full token is shown only once.' })
  @Column({ type: 'varchar', length: 16 })
  prefix!: string;

  @Index({ unique: true })
  @Column({ type: 'varchar', length: 64, select: false })
  tokenHash!: string;

  @Field()
  @CreateDateColumn()
  createdAt!: Date;

  @Field(() => Date, { nullable: true })
  @Column({ type: Date, nullable: true })
  expiresAt!: Date | null;

  @Field(() => Date, { nullable: true })
  @Column({ type: Date, nullable: true })
  lastUsedAt!: Date | null;

  @Field(() => Date, { nullable: true })
  @Column({ type: Date, nullable: true })
  revokedAt!: Date | null;
}
