// @peculiar/x509 resolves its parsers through tsyringe, which needs the Reflect metadata polyfill.
import 'reflect-metadata';
import { createHash, randomBytes, webcrypto, X509Certificate } from 'node:crypto';
import * as x509 from '@peculiar/x509';

/** A TLS client identity for talking to LXD: PEM certificate and its PKCS#8 PEM private key. */
export interface ClientIdentity {
  certificate: string;
  key: string;
}

const TEN_YEARS_MS = 10 * 365.25 * 24 * 3600 * 1000;

/**
 * Makes the certificate Corral presents to LXD nodes: ECDSA P-384, SHA-384, self-signed, valid
 * for about ten years (LXD trusts the exact certificate, so expiry only forces re-enrolment),
 * marked for TLS client authentication. No network access.
 */
export async function generateClientIdentity(commonName: string): Promise<ClientIdentity> {
  if (!commonName.trim()) throw new Error('a client certificate needs a common name');
  // Passed explicitly rather than through the library's global provider, which other code may set.
  const crypto = webcrypto as unknown as Crypto;
  const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-384' }, true, ['sign', 'verify']);
  const notBefore = new Date(Date.now() - 60_000); // tolerate a little clock skew on the nodes
  const certificate = await x509.X509CertificateGenerator.createSelfSigned(
    {
      // Positive 128-bit serial: newer Go x509 parsers reject negative ones.
      serialNumber: '7' + randomBytes(16).toString('hex').slice(1),
      name: [{ CN: [commonName] }],
      notBefore,
      notAfter: new Date(notBefore.getTime() + TEN_YEARS_MS),
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-384' },
      keys,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return {
    certificate: certificate.toString('pem') + '\n',
    key: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY') + '\n',
  };
}

/**
 * SHA-256 of a certificate's DER bytes as lower-case hex, the form LXD prints
 * (`lxc config trust list`, `environment.certificate_fingerprint`, trust tokens).
 * Throws when `pem` holds no parsable certificate; only the first certificate counts.
 */
export function fingerprintOf(pem: string): string {
  return sha256Hex(new X509Certificate(pem).raw);
}

/** SHA-256 of raw DER bytes (e.g. `tls.PeerCertificate.raw`) as lower-case hex. */
export function sha256Hex(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('hex');
}

/**
 * Normalises a fingerprint written by a human or another tool (`AB:CD:…`, upper case, spaces) to
 * LXD's form; throws unless it is 64 hex digits.
 */
export function normaliseFingerprint(fingerprint: string): string {
  const hex = fingerprint.replace(/[\s:]/g, '').toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new Error('a certificate fingerprint is 64 hexadecimal digits (SHA-256)');
  return hex;
}
