import { Field, ID, ObjectType, registerEnumType } from 'type-graphql';
import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';

export enum AccountKind {
  PROVIDER = 'PROVIDER',
  RESELLER = 'RESELLER',
  CUSTOMER = 'CUSTOMER',
}
registerEnumType(AccountKind, { name: 'AccountKind', description: 'Where an account sits in provider → reseller → customer.' });

/** A tenant boundary. `path` is the materialised chain of ancestor IDs, so "is X inside my scope" is one LIKE. */
@ObjectType({ description: 'The provider, a reseller or a customer.' })
@Entity('accounts')
@Index(['parentId', 'name'], { unique: true })
@Index('one_provider', ['kind'], { unique: true, where: "kind = 'PROVIDER'" })
export class Account {
  @Field(() => ID)
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Field(() => AccountKind)
  @Column({ type: 'simple-enum', enum: AccountKind })
  kind!: AccountKind;

  @Field()
  @Column({ type: 'varchar', length: 100 })
  name!: string;

  @Column({ type: 'varchar', length: 36, nullable: true })
  parentId!: string | null;

  @ManyToOne(() => Account, { onDelete: 'RESTRICT', nullable: true })
  @JoinColumn({ name: 'parentId' })
  parent?: Account | null;

  /** `/<provider id>/<reseller id>/<customer id>/`: never exposed, used for scope checks. */
  @Index()
  @Column({ type: 'varchar', length: 120 })
  path!: string;

  @Field()
  @CreateDateColumn()
  createdAt!: Date;
}
