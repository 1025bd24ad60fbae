import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { z } from 'zod';

/**
 * A licence is `<payload>.<signature>`, both base64url: the payload is JSON, the signature is
 * Ed25519 over the payload's bytes as sent. Human-readable once decoded, tamper-evident always.
 */
export const licencePayload = z.object({
  licensee: z.string().min(1).max(200),
  maxNodes: z.number().int().min(0).max(1_000_000),
  maxContainers: z.number().int().min(0).max(100_000_000),
  expiresAt: z.iso.datetime(),
});
export type LicencePayload = z.infer<typeof licencePayload>;

export type LicenceProblem = 'malformed' | 'bad-signature' | 'expired';

export class LicenceDocumentError extends Error {
  constructor(readonly problem: LicenceProblem, message: string) {
    super(message);
  }
}

export function issueLicence(payload: LicencePayload, privateKeyPem: string): string {
  const body = Buffer.from(JSON.stringify(licencePayload.parse(payload)), 'utf8').toString('base64url');
  const signature = sign(null, Buffer.from(body, 'utf8'), createPrivateKey(privateKeyPem)).toString('base64url');
  return `${body}.${signature}`;
}

export function verifyLicence(document: string, publicKey: KeyObject, now = new Date()): LicencePayload {
  const parts = document.trim().split('.');
  if (parts.length !== 2 || !parts[0] || !parts[1]) throw new LicenceDocumentError('malformed', 'a licence is two base64url parts joined by a dot');
  const [body, signature] = parts as [string, string];
  if (!verify(null, Buffer.from(body, 'utf8'), publicKey, Buffer.from(signature, 'base64url'))) {
    throw new LicenceDocumentError('bad-signature', 'the licence signature does not verify');
  }
  let payload: LicencePayload;
  try {
    payload = licencePayload.parse(JSON.parse(Buffer.from(body, 'base64url').toString('utf8')));
  } catch {
    throw new LicenceDocumentError('malformed', 'the licence payload is not a licence');
  }
  if (Date.parse(payload.expiresAt) <= now.getTime()) throw new LicenceDocumentError('expired', `the licence expired at ${payload.expiresAt}`);
  return payload;
}

export function generateLicenceKeyPair(): { publicKey: string; privateKey: string } {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return {
    publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

export const publicKeyFrom = (pem: string) => createPublicKey(pem);
