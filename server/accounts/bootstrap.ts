import { randomBytes } from 'node:crypto';
import type { DataSource } from 'typeorm';
import type { Logger } from 'pino';
import type { Config } from '../app/config';
import { hashPassword } from '../auth/passwords';
import { isUniqueViolation } from '../common/db-errors';
import { newId } from '../common/ids';
import { Account, AccountKind } from './account.entity';
import { Role, User } from './user.entity';

/**
 * On the very first start, creates the provider account and its admin. The password comes from
 * CORRAL_ADMIN_PASSWORD, or is generated and printed once to the log. Later starts change nothing,
 * and two replicas starting together cannot both create one (unique keys decide).
 */
export async function ensureProviderAdmin(db: DataSource, config: Config, log: Logger): Promise<void> {
  if (await db.manager.existsBy(Account, { kind: AccountKind.PROVIDER })) return;
  const generated = config.admin.password ? undefined : randomBytes(18).toString('base64url');
  const passwordHash = await hashPassword(config.admin.password ?? generated!);
  const id = newId();
  try {
    await db.transaction(async (em) => {
      await em.insert(Account, { id, kind: AccountKind.PROVIDER, name: 'Provider', parentId: null, path: `/${id}/` });
      await em.insert(User, { id: newId(), accountId: id, email: config.admin.email, name: 'Provider admin', role: Role.PROVIDER_ADMIN, passwordHash });
    });
  } catch (error) {
    if (isUniqueViolation(error)) return;
    throw error;
  }
  if (generated) {
    log.warn({ email: config.admin.email, password: generated }, 'created the provider admin with a generated password; it is shown only this once');
  } else {
    log.info({ email: config.admin.email }, 'created the provider admin');
  }
}
