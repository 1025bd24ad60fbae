import { Field, Int, ObjectType } from 'type-graphql';
import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, OneToOne, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import { Account } from '../accounts/account.entity';
import { Container } from '../containers/container.entity';

/**
 * When to back a container up, and how many scheduled backups to keep. One per container. The
 * scheduler claims a due schedule by moving `nextRunAt` on with a conditional UPDATE, so that two
 * Corral processes never take the same run twice.
 */
@ObjectType()
@Entity('backup_schedules')
@Index(['enabled', 'nextRunAt'])
export class BackupSchedule {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Index({ unique: true })
  @Column({ type: 'varchar', length: 36 })
  containerId!: string;

  @OneToOne(() => Container, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'containerId' })
  container?: Container;

  @Column({ type: 'varchar', length: 36 })
  accountId!: string;

  @ManyToOne(() => Account, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'accountId' })
  account?: Account;

  @Column({ type: 'varchar', length: 120 })
  accountPath!: string;

  @Field({ description: 'Cron expression, UTC: 5 fields, or 6 with seconds first.' })
  @Column({ type: 'varchar', length: 120 })
  cron!: string;

  @Field(() => Int, { description: 'How many scheduled backups to keep (1–100); older ones are deleted after each scheduled backup.' })
  @Column({ type: 'integer' })
  keep!: number;

  @Field()
  @Column({ type: 'boolean' })
  enabled!: boolean;

  @Field(() => Date, { nullable: true })
  @Column({ type: Date, nullable: true })
  lastRunAt!: Date | null;

  @Field(() => Date)
  @Column({ type: Date })
  nextRunAt!: Date;

  @CreateDateColumn()
  createdAt!: Date;

  @UpdateDateColumn()
  updatedAt!: Date;
}
