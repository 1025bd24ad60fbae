import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * Corral's own SSH key pair (ed25519), installed in authorized_keys on every node it connects.
 * Generated once per installation and kept in the database like Corral's LXD client key (every
 * replica sees the same key); never a GraphQL type.
 */
@Entity('ssh_identity')
export class SshIdentity {
  @PrimaryColumn({ type: 'varchar', length: 32 })
  id!: string;

  /** OpenSSH private key. */
  @Column({ type: 'text' })
  privateKey!: string;

  /** The authorized_keys line. */
  @Column({ type: 'text' })
  publicKey!: string;
}
