import assert from 'node:assert/strict';
import { test } from 'node:test';
import { utils as sshUtils } from 'ssh2';
import { parse } from 'yaml';
import { CorralError } from '../../server/app/errors';
import { cloudInitConfig, cloudInitSummary, MAX_KEYS, MAX_PACKAGES, MAX_USERS, USER_DATA_KEY } from '../../server/containers/cloud-init';
import type { CloudInitInput } from '../../server/containers/cloud-init.inputs';
import { shadowHash } from '../../server/containers/root-password.service';

const ed25519 = sshUtils.generateKeyPairSync('ed25519', { comment: 'alice@laptop' }).public;
const ecdsa = sshUtils.generateKeyPairSync('ecdsa', { bits: 256 }).public;
const SHA512 = '$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1';
/** Made with libxcrypt (Debian 12's crypt(3)), as `mkpasswd -m yescrypt` would. */
const YESCRYPT = '$y$j9T$F5Jx5fExrKuJdvbfPw8t9/$X1osSWaFWyM.EHPrrr3DCAVGYZnPuUGndd4Mbqm0pU9';

/** The cloud-config the user-data carries, parsed back as cloud-init reads it. */
function rendered(input: CloudInitInput): any {
  const userData = cloudInitConfig(input)[USER_DATA_KEY];
  assert.ok(userData, 'there is user-data');
  assert.ok(userData.startsWith('#cloud-config\n'), 'cloud-init reads YAML user-data only after this exact first line');
  return parse(userData);
}

/** The `field` of the BAD_USER_INPUT that checking `input` throws. */
function refusedField(input: unknown): string {
  try {
    cloudInitConfig(input as CloudInitInput);
  } catch (error) {
    assert.ok(error instanceof CorralError, String(error));
    assert.equal(error.code, 'BAD_USER_INPUT');
    return String(error.details.field);
  }
  assert.fail(`accepted ${JSON.stringify(input)}`);
}

test('users, root keys and packages become the cloud-config cloud-init reads', () => {
  const config = rendered({
    users: [
      { name: 'alice', passwordHash: SHA512, sshAuthorizedKeys: [ed25519, ecdsa], sudo: true },
      { name: 'bob', sshAuthorizedKeys: [ed25519] },
    ],
    sshAuthorizedKeys: [ed25519],
    packages: ['htop', 'cowsay', 'htop'],
  });
  assert.deepEqual(config, {
    users: [
      { name: 'alice', lock_passwd: false, hashed_passwd: SHA512, ssh_authorized_keys: [ed25519, ecdsa], sudo: 'ALL=(ALL) NOPASSWD:ALL' },
      { name: 'bob', lock_passwd: true, ssh_authorized_keys: [ed25519] },
    ],
    disable_root: false,
    ssh_authorized_keys: [ed25519],
    packages: ['htop', 'cowsay'],
  });
});

test('without accounts the user list is empty, so the image makes no default user that would get root\'s keys', () => {
  assert.deepEqual(rendered({ sshAuthorizedKeys: [ed25519] }), { users: [], disable_root: false, ssh_authorized_keys: [ed25519] });
  assert.deepEqual(rendered({ packages: ['htop'] }), { users: [], packages: ['htop'] });
});

test('nothing to set gives no config key at all', () => {
  assert.deepEqual(cloudInitConfig(undefined), {});
  assert.deepEqual(cloudInitConfig(null), {});
  assert.deepEqual(cloudInitConfig({}), {});
  assert.deepEqual(cloudInitConfig({ users: [], sshAuthorizedKeys: [], packages: [] }), {});
});

test('key comments with YAML syntax in them stay plain text', () => {
  const hostile = `${ed25519.split(' ').slice(0, 2).join(' ')} x: y # z - [a] {b} "c' &d *e !f |g >h %i @j`;
  const config = rendered({ users: [{ name: 'alice', sshAuthorizedKeys: [hostile] }] });
  assert.deepEqual(config.users[0].ssh_authorized_keys, [hostile]);
  assert.deepEqual(Object.keys(config), ['users']);
});

test('keys are trimmed to one clean line', () => {
  const config = rendered({ sshAuthorizedKeys: [`  ${ed25519}\n`] });
  assert.deepEqual(config.ssh_authorized_keys, [ed25519]);
});

test('every password hash form Debian verifies is accepted, and a plain password or a weak hash is not', async () => {
  const forms = [
    SHA512,
    await shadowHash('a long password'),
    '$6$rounds=10000$Ix4Nd3lJ9Xx3rQjQ$TrNQMlX6.IAqC/qxRGBH25pfxGfZSPFIMJMd8/0iXVnDh/s4I5NIqmzpb5kSrU7LRNe3I/JAKJJyh9VwAYUOn0',
    YESCRYPT,
    '$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5',
    '$2b$12$R9h/cIPz0gi.URNNX3kh2Oet5Gxl5FLSFe4BkQhpGndqLcrmaymIS',
  ];
  for (const hash of forms) assert.equal(rendered({ users: [{ name: 'alice', passwordHash: hash }] }).users[0].hashed_passwd, hash, hash);
  const refused = ['hunter2hunter2', '$1$saltsalt$qjXMvbEw8oaL.CzflDugX/', 'abJnggxhB/yWI', `${SHA512}\nroot::0:0::/:/bin/sh`, '', '$6$salt$short'];
  for (const hash of refused) assert.equal(refusedField({ users: [{ name: 'alice', passwordHash: hash }] }), 'cloudInit.users.0.passwordHash', hash);
});

test('user names follow Linux rules, are unique and never an account or group the image has', () => {
  for (const name of ['Alice', '1alice', '_apt', 'al ice', 'a'.repeat(33), 'alice:x', '', 'root', 'sshd', 'sudo', 'systemd-network', 'nobody']) {
    assert.equal(refusedField({ users: [{ name: 'ok', sshAuthorizedKeys: [] }, { name }] }), 'cloudInit.users.1.name', name);
  }
  assert.equal(refusedField({ users: [{ name: 'alice' }, { name: 'alice' }] }), 'cloudInit.users.1.name');
  assert.deepEqual(rendered({ users: [{ name: 'a' }, { name: 'web-deploy_2' }] }).users.map((u: any) => u.name), ['a', 'web-deploy_2']);
});

test('a key must be one OpenSSH public key line: no options, no private keys, no garbage, no short RSA', () => {
  const [type, blob] = ed25519.split(' ') as [string, string];
  const rsa1024 = sshUtils.generateKeyPairSync('rsa', { bits: 1024 }).public;
  const rsa2048 = sshUtils.generateKeyPairSync('rsa', { bits: 2048 }).public;
  const bad = [
    `command="/bin/sh" ${ed25519}`,
    `${ed25519}\n${ed25519}`,
    `${type} ${blob.slice(0, -8)}AAAAAAA=`,
    `ssh-rsa ${blob}`,
    `ssh-dss ${blob}`,
    sshUtils.generateKeyPairSync('ed25519').private,
    rsa1024,
    `${type} ${blob} comment\twith tab`,
    'not a key',
    42,
  ];
  for (const key of bad) assert.equal(refusedField({ users: [{ name: 'alice', sshAuthorizedKeys: [ed25519, key] }] }), 'cloudInit.users.0.sshAuthorizedKeys.1', String(key));
  assert.equal(refusedField({ sshAuthorizedKeys: [bad[0]] }), 'cloudInit.sshAuthorizedKeys.0');
  assert.deepEqual(rendered({ sshAuthorizedKeys: [rsa2048] }).ssh_authorized_keys, [rsa2048]);
});

test('package names are Debian package names', () => {
  for (const name of ['Vim', 'a', '-rf', 'vim; rm -rf /', 'vim=2:9.0', 'vim\nbash', '../x']) {
    assert.equal(refusedField({ packages: ['htop', name] }), 'cloudInit.packages.1', name);
  }
  assert.deepEqual(rendered({ packages: ['g++', 'libc6.1', 'python3-yaml', '0ad'] }).packages, ['g++', 'libc6.1', 'python3-yaml', '0ad']);
});

test('the limits hold: users, keys per list and packages', () => {
  const many = (n: number, f: (i: number) => any) => Array.from({ length: n }, (_, i) => f(i));
  assert.equal(refusedField({ users: many(MAX_USERS + 1, (i) => ({ name: `u${i}` })) }), 'cloudInit.users');
  assert.equal(refusedField({ sshAuthorizedKeys: many(MAX_KEYS + 1, () => ed25519) }), 'cloudInit.sshAuthorizedKeys');
  assert.equal(refusedField({ users: [{ name: 'alice', sshAuthorizedKeys: many(MAX_KEYS + 1, () => ed25519) }] }), 'cloudInit.users.0.sshAuthorizedKeys');
  assert.equal(refusedField({ packages: many(MAX_PACKAGES + 1, (i) => `pkg${i}`) }), 'cloudInit.packages');
  assert.equal(rendered({ users: many(MAX_USERS, (i) => ({ name: `u${i}` })), packages: many(MAX_PACKAGES, (i) => `pkg${i}`) }).users.length, MAX_USERS);
});

test('the summary kept in Corral has names, flags and counts, never a hash or a key', () => {
  const input = { users: [{ name: 'alice', passwordHash: SHA512, sshAuthorizedKeys: [ed25519], sudo: true }], sshAuthorizedKeys: [ed25519, ecdsa], packages: ['htop'] };
  const summary = cloudInitSummary(input);
  assert.deepEqual(summary, {
    redacted: true,
    users: [{ name: 'alice', sudo: true, passwordHash: 'sent to the node', sshAuthorizedKeys: 1 }],
    sshAuthorizedKeys: 2,
    packages: ['htop'],
  });
  const text = JSON.stringify(summary);
  for (const secret of [SHA512, ed25519.split(' ')[1]!, ecdsa.split(' ')[1]!]) assert.ok(!text.includes(secret));
  assert.equal(cloudInitSummary(null), null);
});
