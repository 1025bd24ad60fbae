import { Field, ID, ObjectType } from 'type-graphql';
import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { Account } from './account.entity';

/** A customer's folder for containers; maps to an LXD project on each node once containers exist. */
@ObjectType()
@Entity('projects')
@Index(['accountId', 'name'], { unique: true })
export class Project {
  @Field(() => ID)
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Column({ type: 'varchar', length: 36 })
  accountId!: string;

  @ManyToOne(() => Account, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'accountId' })
  account?: Account;

  @Field()
  @Column({ type: 'varchar', length: 63 })
  name!: string;

  @Field()
  @Column({ type: 'varchar', length: 500, default: '' })
  description!: string;

  @Field()
  @CreateDateColumn()
  createdAt!: Date;
}
