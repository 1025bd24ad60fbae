import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CorralError } from '../../server/app/errors';
import { checkPassword, freshSalt, settingOf, shadowHash } from '../../server/containers/root-password.service';

test('SHA-512 crypt matches the reference vector of the SHA-crypt specification', async () => {
  assert.equal(
    await shadowHash('Hello world!', '$6$saltstring'),
    '$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1',
  );
  assert.equal(
    await shadowHash('we have a short salt string but not a short password', '$6$rounds=77777$short'),
    '$6$rounds=77777$short$WuQyW2YR.hBNpjjRhpYD/ifIw05xdfeEyQoMxIXbkvr0gge1a1x3yRULJ5CCaUeOxFmtlcGZelFl5CxtgfiAc0',
  );
});

test('a fresh hash has a 16-character salt, differs each time, and its setting reproduces it', async () => {
  const a = await shadowHash('a long root password');
  const b = await shadowHash('a long root password');
  assert.match(a, /^\$6\$[./0-9A-Za-z]{16}\$[./0-9A-Za-z]{86}$/);
  assert.notEqual(a, b);
  assert.equal(await shadowHash('a long root password', settingOf(a)!), a);
  assert.notEqual(await shadowHash('another root password', settingOf(a)!), a);
  assert.equal(settingOf('$6$rounds=5000$abc$xyz'), '$6$rounds=5000$abc');
  assert.equal(settingOf('$1$abc$xyz'), null);
  assert.equal(settingOf('plaintext'), null);
});

test('salts use the whole 64-character alphabet', () => {
  const seen = new Set([...Array.from({ length: 200 }, freshSalt).join('')]);
  assert.equal(seen.size, 64);
});

test('a password has 8 to 256 characters, counted as characters, and no NUL', () => {
  const code = (p: string) => {
    try {
      checkPassword(p);
      return 'ok';
    } catch (e) {
      return e instanceof CorralError ? `${e.code}:${String(e.details.field)}` : 'other';
    }
  };
  assert.equal(code('1234567'), 'BAD_USER_INPUT:password');
  assert.equal(code('12345678'), 'ok');
  assert.equal(code('x'.repeat(256)), 'ok');
  assert.equal(code('x'.repeat(257)), 'BAD_USER_INPUT:password');
  assert.equal(code('🐄'.repeat(8)), 'ok', 'eight cows are eight characters');
  assert.equal(code('🐄'.repeat(4)), 'BAD_USER_INPUT:password', 'four cows are not eight, whatever their UTF-16 length');
  assert.equal(code('password\0tail'), 'BAD_USER_INPUT:password');
});
