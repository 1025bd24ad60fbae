import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { test } from 'node:test';
import { fingerprintOf, generateClientIdentity, normaliseFingerprint } from '../../server/lxd/identity';

test('a client identity is a self-signed ECDSA P-384 certificate valid for about ten years, with its key', async () => {
  const identity = await generateClientIdentity('corral-unit');
  const certificate = new X509Certificate(identity.certificate);
  assert.equal(certificate.subject, 'CN=corral-unit');
  assert.equal(certificate.issuer, 'CN=corral-unit');
  assert.ok(certificate.verify(certificate.publicKey), 'self-signed');
  assert.equal(certificate.publicKey.asymmetricKeyDetails?.namedCurve, 'secp384r1');
  assert.ok(certificate.checkPrivateKey(createPrivateKey(identity.key)), 'the key belongs to the certificate');
  const years = (Date.parse(certificate.validTo) - Date.parse(certificate.validFrom)) / (365.25 * 24 * 3600 * 1000);
  assert.ok(years > 9.9 && years < 10.1, `valid for ${years} years`);
  assert.ok(Date.parse(certificate.validFrom) <= Date.now());
  assert.equal(certificate.ca, false);
  assert.match(certificate.keyUsage?.join(',') ?? '', /1\.3\.6\.1\.5\.5\.7\.3\.2/, 'marked for client authentication');
  assert.match(identity.key, /^-----BEGIN PRIVATE KEY-----/);
});

test('two identities never share a key or serial number', async () => {
  const [a, b] = await Promise.all([generateClientIdentity('a'), generateClientIdentity('a')]);
  assert.notEqual(a.key, b.key);
  assert.notEqual(new X509Certificate(a.certificate).serialNumber, new X509Certificate(b.certificate).serialNumber);
});

test('a fingerprint is the SHA-256 of the DER, lower-case hex, as LXD prints it', async () => {
  const { certificate } = await generateClientIdentity('corral-unit');
  const expected = new X509Certificate(certificate).fingerprint256.replace(/:/g, '').toLowerCase();
  assert.equal(fingerprintOf(certificate), expected);
  assert.match(fingerprintOf(certificate), /^[0-9a-f]{64}$/);
});

test('a fingerprint of something that is not a certificate is an error, not a hash of garbage', () => {
  assert.throws(() => fingerprintOf('not a certificate'));
});

test('fingerprints written by people are normalised, malformed ones refused', () => {
  assert.equal(normaliseFingerprint(' AB:cd' + ':ef'.repeat(30) + ' '), 'abcd' + 'ef'.repeat(30));
  assert.throws(() => normaliseFingerprint('abcd'));
  assert.throws(() => normaliseFingerprint('zz'.repeat(32)));
});
