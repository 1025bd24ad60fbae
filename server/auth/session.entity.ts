import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { User } from '../accounts/user.entity';

/** A signed-in browser. The cookie holds a random secret; only its SHA-256 is stored here. Never a GraphQL type. */
@Entity('sessions')
export class Session {
  /** sha256(cookie secret), hex. */
  @PrimaryColumn({ type: 'varchar', length: 64 })
  id!: string;

  @Index()
  @Column({ type: 'varchar', length: 36 })
  userId!: string;

  @ManyToOne(() => User, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'userId' })
  user?: User;

  @Column()
  createdAt!: Date;

  /** Touched at most once a minute; idle expiry counts from here. */
  @Column()
  lastSeenAt!: Date;

  /** Absolute expiry, fixed at login. */
  @Column()
  expiresAt!: Date;

  @Column({ type: 'varchar', length: 64, nullable: true })
  sourceAddress!: string | null;
}
