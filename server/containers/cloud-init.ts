import { createPublicKey } from 'node:crypto';
import { utils as sshUtils } from 'ssh2';
import type { DataSource } from 'typeorm';
import { stringify } from 'yaml';
import { badInput, CorralError, ErrorCode } from '../app/errors';
import { Operation } from '../operations/operation.entity';
import type { CloudInitInput, CloudInitUserInput } from './cloud-init.inputs';

/** The LXD config key (extension `cloud_init`) that carries the user-data; see LXD-NOTES §20. */
export const USER_DATA_KEY = 'cloud-init.user-data';

export const MAX_USERS = 8;
export const MAX_KEYS = 32;
export const MAX_PACKAGES = 64;

/** Linux account names as Debian's adduser accepts them by default, without the leading `_` of system accounts. */
const USER_NAME = /^[a-z][a-z0-9_-]{0,31}$/;
/**
 * Accounts and groups a Debian 12 base system already has. cloud-init would silently take over an
 * existing account (new keys, new password) and useradd fails on an existing group name; root has
 * its own field.
 */
const RESERVED_NAMES = new Set([
  'root', 'daemon', 'bin', 'sys', 'sync', 'games', 'man', 'lp', 'mail', 'news', 'uucp', 'proxy', 'www-data', 'backup', 'list', 'irc', 'gnats', 'nobody',
  'messagebus', 'sshd', 'adm', 'tty', 'disk', 'kmem', 'dialout', 'fax', 'voice', 'cdrom', 'floppy', 'tape', 'sudo', 'audio', 'dip', 'operator', 'src',
  'shadow', 'utmp', 'video', 'sasl', 'plugdev', 'staff', 'users', 'nogroup', 'input', 'sgx', 'kvm', 'render', 'crontab', 'netdev', 'ssh', 'admin', 'wheel',
]);

/**
 * crypt(3) hashes that Debian 12's libxcrypt verifies and that are not broken: yescrypt (Debian's
 * default), SHA-512 and SHA-256 crypt, bcrypt. MD5-crypt (`$1$`) and DES are refused.
 */
const PASSWORD_HASHES = [
  /^\$y\$[./0-9A-Za-z]{1,32}\$[./0-9A-Za-z]{1,86}\$[./0-9A-Za-z]{43}$/,
  /^\$6\$(?:rounds=[1-9][0-9]{3,8}\$)?[./0-9A-Za-z]{1,16}\$[./0-9A-Za-z]{86}$/,
  /^\$5\$(?:rounds=[1-9][0-9]{3,8}\$)?[./0-9A-Za-z]{1,16}\$[./0-9A-Za-z]{43}$/,
  /^\$2[aby]\$(?:0[4-9]|[12][0-9]|3[01])\$[./0-9A-Za-z]{53}$/,
];

/** Key types Debian 12's OpenSSH accepts by default (DSA is off there). */
const KEY_TYPES = new Set(['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'ssh-rsa']);
/** `type base64 [comment]`: no `authorized_keys` options (`command=`, `from=`…), no line breaks, a printable comment. */
const KEY_LINE = /^(\S+) ([A-Za-z0-9+/]+={0,2})(?: ([\x20-\x7e]{1,200}))?$/;
const MAX_KEY_LENGTH = 8192;

/** `fieldPath('cloudInit', 'users', 0, 'name')` → `cloudInit.users.0.name`: the `field` of a BAD_USER_INPUT. */
const fieldPath = (...parts: (string | number)[]) => parts.join('.');

/** One OpenSSH public key, checked by parsing it (ssh2), returned as a clean `type base64 [comment]` line. */
export function checkPublicKey(raw: unknown, field: string): string {
  if (typeof raw !== 'string' || raw.length > MAX_KEY_LENGTH) throw badInput(`not an OpenSSH public key (at most ${MAX_KEY_LENGTH} characters)`, field);
  const line = raw.trim();
  const match = KEY_LINE.exec(line);
  if (!match) throw badInput('an OpenSSH public key is one line "type base64 [comment]", without options', field);
  const [, type, , comment] = match;
  if (!KEY_TYPES.has(type!)) throw badInput(`key type ${JSON.stringify(type)} is not accepted: use ssh-ed25519, ecdsa-sha2-nistp256/384/521 or ssh-rsa`, field);
  const parsed = sshUtils.parseKey(line);
  if (parsed instanceof Error || Array.isArray(parsed) || parsed.isPrivateKey() || parsed.type !== type) throw badInput('not a valid OpenSSH public key', field);
  if (type === 'ssh-rsa') {
    const bits = createPublicKey(parsed.getPublicPEM()).asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < 2048) throw badInput(`an RSA key needs at least 2048 bits (this one has ${bits})`, field);
  }
  return comment === undefined ? `${type} ${match[2]}` : `${type} ${match[2]} ${comment}`;
}

function checkKeys(keys: unknown, field: string): string[] {
  if (keys === undefined || keys === null) return [];
  if (!Array.isArray(keys)) throw badInput('a list of OpenSSH public keys', field);
  if (keys.length > MAX_KEYS) throw badInput(`at most ${MAX_KEYS} keys`, field);
  return keys.map((key, i) => checkPublicKey(key, fieldPath(field, i)));
}

function checkPasswordHash(hash: unknown, field: string): string | null {
  if (hash === undefined || hash === null) return null;
  if (typeof hash !== 'string' || !PASSWORD_HASHES.some((form) => form.test(hash))) {
    throw badInput('give a crypt(3) hash ($y$…, $6$…, $5$… or $2b$…), never a plain password', field);
  }
  return hash;
}

/** The cloud-config entry of one account (cloud-init `users` schema). */
function userEntry(user: CloudInitUserInput, field: string): Record<string, unknown> {
  const name = user.name;
  if (typeof name !== 'string' || !USER_NAME.test(name)) {
    throw badInput('a user name is 1–32 lower-case letters, digits, "_" or "-", starting with a letter', fieldPath(field, 'name'));
  }
  if (RESERVED_NAMES.has(name) || name.startsWith('systemd-')) throw badInput(`"${name}" is a system account or group of the image`, fieldPath(field, 'name'));
  const hash = checkPasswordHash(user.passwordHash, fieldPath(field, 'passwordHash'));
  const keys = checkKeys(user.sshAuthorizedKeys, fieldPath(field, 'sshAuthorizedKeys'));
  return {
    name,
    // Without a hash the password stays locked: the account logs in with its keys only.
    ...(hash === null ? { lock_passwd: true } : { lock_passwd: false, hashed_passwd: hash }),
    ...(keys.length > 0 ? { ssh_authorized_keys: keys } : {}),
    // Passwordless, like the default user of cloud images: an account with keys only has no password to give sudo.
    ...(user.sudo === true ? { sudo: 'ALL=(ALL) NOPASSWD:ALL' } : {}),
  };
}

/** Debian package names (policy §5.6.1): lower-case letters, digits, `+`, `-`, `.`; at least two, starting alphanumeric. */
const PACKAGE_NAME = /^[a-z0-9][a-z0-9+.-]{1,99}$/;

function checkPackages(packages: unknown, field: string): string[] {
  if (packages === undefined || packages === null) return [];
  if (!Array.isArray(packages)) throw badInput('a list of Debian package names', field);
  if (packages.length > MAX_PACKAGES) throw badInput(`at most ${MAX_PACKAGES} packages`, field);
  packages.forEach((name, i) => {
    if (typeof name !== 'string' || !PACKAGE_NAME.test(name)) throw badInput('a Debian package name: lower-case letters, digits, "+", "-" and ".", starting with a letter or digit', fieldPath(field, i));
  });
  return [...new Set(packages as string[])];
}

/**
 * Checks `cloudInit` and renders it as LXD config: `{ 'cloud-init.user-data': '#cloud-config…' }`,
 * or `{}` when there is nothing to set. The YAML comes from the `yaml` library, never from
 * pasting input into text. Throws BAD_USER_INPUT naming the exact field (`cloudInit.users.1.name`).
 *
 * What the rendered cloud-config does (cloud-init 22.4, Debian 12):
 * - `users` always lists exactly the given accounts. An empty list is written too: it replaces the
 *   image's `users: [default]`, so no distro default user (`debian`) appears with root's keys.
 * - Root's keys go to `/root/.ssh/authorized_keys` with `disable_root: false`; otherwise cloud-init
 *   would prefix them with a "log in as debian" command.
 * - `packages` makes cloud-init run `apt-get update` and `apt-get install` in its final stage.
 */
export function cloudInitConfig(input: CloudInitInput | null | undefined, field = 'cloudInit'): Record<string, string> {
  if (input === undefined || input === null) return {};
  const users = input.users ?? [];
  if (!Array.isArray(users)) throw badInput('a list of users', fieldPath(field, 'users'));
  if (users.length > MAX_USERS) throw badInput(`at most ${MAX_USERS} users`, fieldPath(field, 'users'));
  const entries = users.map((user, i) => userEntry(user, fieldPath(field, 'users', i)));
  const seen = new Set<string>();
  entries.forEach((entry, i) => {
    if (seen.has(entry.name as string)) throw badInput(`user "${String(entry.name)}" is given twice`, fieldPath(field, 'users', i, 'name'));
    seen.add(entry.name as string);
  });
  const rootKeys = checkKeys(input.sshAuthorizedKeys, fieldPath(field, 'sshAuthorizedKeys'));
  const packages = checkPackages(input.packages, fieldPath(field, 'packages'));
  if (entries.length === 0 && rootKeys.length === 0 && packages.length === 0) return {};

  const config = {
    users: entries,
    ...(rootKeys.length > 0 ? { disable_root: false, ssh_authorized_keys: rootKeys } : {}),
    ...(packages.length > 0 ? { packages } : {}),
  };
  // cloud-init only reads YAML user-data that starts with this exact line; LXD then checks the YAML too.
  return { [USER_DATA_KEY]: `#cloud-config\n${stringify(config, { lineWidth: 0 })}` };
}

/**
 * What of `cloudInit` may stay in Corral's records once the user-data is on its way to LXD: the
 * account names and sudo flags, the packages, and how many keys; never hashes or keys.
 */
export function cloudInitSummary(input: CloudInitInput | null | undefined): Record<string, unknown> | null {
  if (input === undefined || input === null) return null;
  const count = (keys: unknown) => (Array.isArray(keys) ? keys.length : 0);
  return {
    redacted: true,
    users: (input.users ?? []).map((user) => ({ name: user.name, sudo: user.sudo === true, passwordHash: user.passwordHash ? 'sent to the node' : null, sshAuthorizedKeys: count(user.sshAuthorizedKeys) })),
    sshAuthorizedKeys: count(input.sshAuthorizedKeys),
    packages: input.packages ?? [],
  };
}

/**
 * For the create handler: the LXD config from the operation's `cloudInit`, which is then replaced
 * in the operation row by `cloudInitSummary`, so that password hashes and keys end up in the
 * container's LXD config only. A create is never resumed after a crash (it is undone), so the
 * runner needs them exactly once.
 */
export async function takeCloudInitConfig(db: DataSource, operation: Operation): Promise<Record<string, string>> {
  const input = operation.input['cloudInit'] as CloudInitInput | null | undefined;
  if (input === undefined || input === null) return {};
  if ((input as { redacted?: unknown }).redacted === true) throw new CorralError(ErrorCode.INTERRUPTED, 'the cloud-init settings of this create were already used once');
  const config = cloudInitConfig(input);
  await forgetCloudInit(db, operation);
  return config;
}

/** Replaces the operation's `cloudInit` by its summary (no hashes, no keys); nothing when there is none or it is done already. */
export async function forgetCloudInit(db: DataSource, operation: Operation): Promise<void> {
  const input = operation.input['cloudInit'] as CloudInitInput | null | undefined;
  if (input === undefined || input === null || (input as { redacted?: unknown }).redacted === true) return;
  await db.manager.update(Operation, { id: operation.id }, { input: { ...operation.input, cloudInit: cloudInitSummary(input) } as never });
}
