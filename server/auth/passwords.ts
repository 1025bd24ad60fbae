import argon2 from 'argon2';

/** argon2id with the library's defaults (64 MiB, 3 passes): above OWASP's minimum. */
export const hashPassword = (password: string) => argon2.hash(password, { type: argon2.argon2id });

/** A real hash of nothing, verified against when the email is unknown so that timing does not tell. */
let decoy: Promise<string> | undefined;

export async function verifyPassword(hash: string | null, password: string): Promise<boolean> {
  if (!hash) {
    decoy ??= hashPassword('decoy password that nobody has');
    await argon2.verify(await decoy, password).catch(() => false);
    return false;
  }
  return argon2.verify(hash, password).catch(() => false);
}
