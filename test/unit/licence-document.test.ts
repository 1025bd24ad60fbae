import assert from 'node:assert/strict';
import { test } from 'node:test';
import { generateLicenceKeyPair, issueLicence, LicenceDocumentError, publicKeyFrom, verifyLicence } from '../../server/licences/licence-document';

const keys = generateLicenceKeyPair();
const payload = { licensee: 'Acme Hosting', maxNodes: 3, maxContainers: 50, expiresAt: '2099-01-01T00:00:00.000Z' };
const problem = (document: string, key = keys.publicKey) => {
  try {
    verifyLicence(document, publicKeyFrom(key));
    return 'valid';
  } catch (error) {
    return error instanceof LicenceDocumentError ? error.problem : 'crash';
  }
};

test('a licence signed with the key verifies and says what it grants', () => {
  assert.deepEqual(verifyLicence(issueLicence(payload, keys.privateKey), publicKeyFrom(keys.publicKey)), payload);
});

test('a changed grant, another key, garbage or an expired licence are refused, each for its reason', () => {
  const document = issueLicence(payload, keys.privateKey);
  const [body, signature] = document.split('.');
  const inflated = Buffer.from(JSON.stringify({ ...payload, maxNodes: 1000 })).toString('base64url');
  assert.equal(problem(`${inflated}.${signature}`), 'bad-signature');
  assert.equal(problem(document, generateLicenceKeyPair().publicKey), 'bad-signature');
  assert.equal(problem('not a licence'), 'malformed');
  assert.equal(problem(`${body}.`), 'malformed');
  assert.equal(problem(issueLicence({ ...payload, expiresAt: '2001-01-01T00:00:00.000Z' }, keys.privateKey)), 'expired');
});
