import { IsNull, type DataSource } from 'typeorm';
import { visibleAccount } from '../accounts/access';
import type { Account } from '../accounts/account.entity';
import { User } from '../accounts/user.entity';
import type { Actor, RequestMeta } from '../app/actor';
import { badInput, notFound } from '../app/errors';
import type { AuditService } from '../audit/audit.service';
import { isId, newId } from '../common/ids';
import { paginate, type Connection, type PageArgs } from '../common/pagination';
import { tokenActor } from './actors';
import { ApiToken } from './api-token.entity';
import { permissionsExceedCaller } from './auth.errors';
import type { CreateApiTokenInput, CreatedApiToken } from './auth.inputs';
import { newSecret, sha256 } from './secrets';

const TOKEN_PREFIX = 'corral_';
const TOUCH_EVERY_MS = 60_000;

export class ApiTokensService {
  constructor(
    private readonly db: DataSource,
    private readonly audit: AuditService,
  ) {}

  /** Tokens the caller created. */
  list(actor: Actor, page: PageArgs): Promise<Connection<ApiToken>> {
    const qb = this.db.getRepository(ApiToken).createQueryBuilder('token').where('token.userId = :userId', { userId: actor.userId });
    return paginate(qb, page);
  }

  create(actor: Actor, input: CreateApiTokenInput): Promise<CreatedApiToken> {
    return this.audit.within({ actor, request: actor.request }, 'apiToken.create', async (em, draft) => {
      const account = await visibleAccount(em, actor, input.accountId ?? actor.scope.accountId);
      draft.concerns(account).target('apiToken', null);
      const missing = input.permissions.filter((p) => !actor.permissions.has(p));
      if (missing.length > 0) throw permissionsExceedCaller(missing);
      if (input.expiresAt && input.expiresAt.getTime() <= Date.now()) throw badInput('expiresAt must be in the future', 'expiresAt');
      const secret = newSecret(TOKEN_PREFIX);
      const apiToken = em.create(ApiToken, {
        id: newId(),
        name: input.name,
        userId: actor.userId,
        accountId: account.id,
        permissions: [...new Set(input.permissions)].sort(),
        prefix: secret.slice(0, TOKEN_PREFIX.length + 6),
        tokenHash: sha256(secret),
        expiresAt: input.expiresAt ?? null,
        lastUsedAt: null,
        revokedAt: null,
      });
      await em.insert(ApiToken, apiToken);
      draft.target('apiToken', apiToken.id);
      return { token: secret, apiToken };
    });
  }

  /** Revokes one of the caller's own tokens. Revoking twice is a no-op. */
  revoke(actor: Actor, id: string): Promise<ApiToken> {
    return this.audit.within({ actor, request: actor.request }, 'apiToken.revoke', async (em, draft) => {
      draft.target('apiToken', id);
      const token = isId(id) ? await em.findOne(ApiToken, { where: { id, userId: actor.userId }, relations: { account: true } }) : null;
      if (!token?.account) throw notFound('API token');
      draft.concerns(token.account);
      if (!token.revokedAt) {
        token.revokedAt = new Date();
        await em.update(ApiToken, { id, revokedAt: IsNull() }, { revokedAt: token.revokedAt });
      }
      return token;
    });
  }

  /** The actor behind a bearer token, or null when it is unknown, revoked or expired. */
  async authenticate(secret: string, request: RequestMeta): Promise<Actor | null> {
    if (!secret.startsWith(TOKEN_PREFIX)) return null;
    const token = await this.db.manager.findOne(ApiToken, {
      where: { tokenHash: sha256(secret) },
      relations: { account: true, user: { account: true } },
    });
    if (!token?.account || !token.user?.account || token.revokedAt) return null;
    const now = Date.now();
    if (token.expiresAt && token.expiresAt.getTime() <= now) return null;
    if (!token.lastUsedAt || now - token.lastUsedAt.getTime() > TOUCH_EVERY_MS) {
      await this.db.manager.update(ApiToken, { id: token.id }, { lastUsedAt: new Date(now) });
    }
    return tokenActor(token.user as User & { account: Account }, token as ApiToken & { account: Account }, request);
  }
}
