import { createHash, randomBytes } from 'node:crypto';

/** 256 random bits, URL-safe. */
export const newSecret = (prefix = '') => prefix + randomBytes(32).toString('base64url');

/** Secrets are looked up by SHA-256: they are random, so a slow hash would add nothing. */
export const sha256 = (secret: string) => createHash('sha256').update(secret).digest('hex');
