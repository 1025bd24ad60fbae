import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * Corral's own client key pair, which every node trusts. Generated once; the key never leaves
 * the server and is never a GraphQL type.
 */
@Entity('lxd_identity')
export class LxdIdentity {
  @PrimaryColumn({ type: 'varchar', length: 32 })
  id!: string;

  @Column({ type: 'text' })
  certificate!: string;

  @Column({ type: 'text' })
  key!: string;
}
