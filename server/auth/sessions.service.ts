import { RateLimiterMemory, RateLimiterRedis, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { DataSource } from 'typeorm';
import { User } from '../accounts/user.entity';
import type { Actor, RequestMeta } from '../app/actor';
import type { Config } from '../app/config';
import type { RedisLink } from '../app/redis';
import type { AuditService } from '../audit/audit.service';
import { sessionActor } from './actors';
import { tooManyAttempts, wrongCredentials } from './auth.errors';
import { verifyPassword } from './passwords';
import { newSecret, sha256 } from './secrets';
import { Session } from './session.entity';

const TOUCH_EVERY_MS = 60_000;

export interface LoginResult {
  user: User;
  /** The caller from now on, so that the rest of the login request sees them signed in. */
  actor: Actor;
  /** The cookie value; only its hash is stored. */
  secret: string;
  expiresAt: Date;
}

export class SessionsService {
  private readonly failuresPerAccount: RateLimiterAbstract;
  private readonly attemptsPerAddress: RateLimiterAbstract;

  /**
   * With Redis the counters live there, so that a limit holds across replicas; while Redis is
   * unreachable each process falls back to counting in memory (never to not counting).
   */
  constructor(
    private readonly db: DataSource,
    private readonly audit: AuditService,
    private readonly config: Config,
    redis?: RedisLink | null,
  ) {
    const { failuresPerAccount, attemptsPerAddress, windowSeconds } = config.loginLimits;
    const limiter = (name: string, points: number) => {
      const memory = new RateLimiterMemory({ points, duration: windowSeconds });
      if (!redis) return memory;
      return new RateLimiterRedis({ storeClient: redis.commands, keyPrefix: `${redis.prefix}login:${name}`, points, duration: windowSeconds, rejectIfRedisNotReady: true, insuranceLimiter: memory });
    };
    this.failuresPerAccount = limiter('account', failuresPerAccount);
    this.attemptsPerAddress = limiter('address', attemptsPerAddress);
  }

  /**
   * Checks the password and opens a new session with a fresh id (never reusing one the
   * browser presented). Failures count against the account and the source address.
   */
  async login(request: RequestMeta, email: string, password: string, presentedSecret?: string): Promise<LoginResult> {
    const normalisedEmail = email.trim().toLowerCase();
    return this.audit.within({ actor: null, request }, 'session.create', async (em, draft) => {
      draft.actorEmail = normalisedEmail.slice(0, 254);
      await this.checkLimits(normalisedEmail, request.sourceAddress);
      const user = await em
        .getRepository(User)
        .createQueryBuilder('user')
        .addSelect('user.passwordHash')
        .innerJoinAndSelect('user.account', 'account')
        .where('user.email = :email', { email: normalisedEmail })
        .getOne();
      if (user?.account) draft.concerns(user.account).target('user', user.id);
      if (!(await verifyPassword(user?.passwordHash ?? null, password)) || !user) {
        await this.failuresPerAccount.penalty(normalisedEmail);
        throw wrongCredentials();
      }
      draft.actorUserId = user.id;
      await this.failuresPerAccount.delete(normalisedEmail);
      const now = new Date();
      // Whatever session the browser came with ends here: a planted cookie never becomes a signed-in one.
      if (presentedSecret) await em.delete(Session, { id: sha256(presentedSecret) });
      const secret = newSecret();
      const expiresAt = new Date(now.getTime() + this.config.session.absoluteMs);
      await em.insert(Session, { id: sha256(secret), userId: user.id, createdAt: now, lastSeenAt: now, expiresAt, sourceAddress: request.sourceAddress });
      return { user, actor: sessionActor(user as User & { account: NonNullable<User['account']> }, request), secret, expiresAt };
    });
  }

  private async checkLimits(email: string, address: string | null) {
    const byAccount = await this.failuresPerAccount.get(email);
    if (byAccount && byAccount.consumedPoints >= this.config.loginLimits.failuresPerAccount) {
      throw tooManyAttempts(Math.ceil(byAccount.msBeforeNext / 1000));
    }
    try {
      await this.attemptsPerAddress.consume(address ?? 'unknown');
    } catch (rejection) {
      if (rejection instanceof Error) throw rejection;
      throw tooManyAttempts(Math.ceil(((rejection as { msBeforeNext?: number }).msBeforeNext ?? 60_000) / 1000));
    }
  }

  /** Ends the session the caller is using (its cookie), if any. */
  logout(actor: Actor, secret: string | undefined): Promise<boolean> {
    return this.audit.within({ actor, request: actor.request }, 'session.delete', async (em, draft) => {
      draft.target('user', actor.userId);
      if (secret) await em.delete(Session, { id: sha256(secret), userId: actor.userId });
      return true;
    });
  }

  /** The actor behind a session cookie, or null when it is unknown, idle too long or past its absolute expiry. */
  async authenticate(secret: string, request: RequestMeta): Promise<Actor | null> {
    const id = sha256(secret);
    const session = await this.db.manager.findOne(Session, { where: { id }, relations: { user: { account: true } } });
    if (!session?.user?.account) return null;
    const now = Date.now();
    if (now >= session.expiresAt.getTime() || now >= session.lastSeenAt.getTime() + this.config.session.idleMs) {
      await this.db.manager.delete(Session, { id });
      return null;
    }
    if (now - session.lastSeenAt.getTime() > TOUCH_EVERY_MS) {
      await this.db.manager.update(Session, { id }, { lastSeenAt: new Date(now) });
    }
    return sessionActor(session.user as User & { account: NonNullable<User['account']> }, request);
  }
}
