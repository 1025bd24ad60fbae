import { Field, InputType } from 'type-graphql';

/*
 * No class-validator decorators here: type-graphql validates only the top-level argument, and a
 * nested error would surface as a bare `cloudInit`. `cloudInitUserData` (cloud-init.ts) checks
 * every field and names it exactly (`cloudInit.users.0.passwordHash`).
 */

@InputType({ description: 'A login account cloud-init creates in the container at its first boot.' })
export class CloudInitUserInput {
  @Field({ description: 'A Linux user name: 1–32 of lower-case letters, digits, `_` and `-`, starting with a letter or `_`. `root` and the Debian system accounts are refused.' })
  name!: string;

  @Field(() => String, {
    nullable: true,
    description:
      'The password as a crypt(3) hash, never the password itself: yescrypt (`$y$…`), SHA-512 (`$6$…`), SHA-256 (`$5$…`) or bcrypt (`$2b$…`), e.g. from `mkpasswd -m yescrypt` or `openssl passwd -6`. Without one the password is locked (keys only). Sent to the node only; never shown again.',
  })
  passwordHash?: string | null;

  @Field(() => [String], { nullable: true, description: 'OpenSSH public keys (`ssh-ed25519 AAAA… comment`), at most 32; no `authorized_keys` options.' })
  sshAuthorizedKeys?: string[] | null;

  @Field(() => Boolean, { nullable: true, description: 'May run any command as root with sudo, without a password (the image must have sudo). Default false.' })
  sudo?: boolean | null;
}

@InputType({
  description:
    'First-boot setup by cloud-init (LXD `cloud-init.user-data`): applied once, when the container first starts, and only by images that ship cloud-init (busybox does not; nothing happens there).',
})
export class CloudInitInput {
  @Field(() => [CloudInitUserInput], { nullable: true, description: 'At most 8 accounts, names unique.' })
  users?: CloudInitUserInput[] | null;

  @Field(() => [String], { nullable: true, description: "OpenSSH public keys for root (at most 32); root may then log in with them (Debian's sshd allows root by key only)." })
  sshAuthorizedKeys?: string[] | null;

  @Field(() => [String], { nullable: true, description: 'Debian package names to install at first boot (at most 64); needs the container to reach a package mirror.' })
  packages?: string[] | null;
}
