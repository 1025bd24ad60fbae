import type { DataSource } from 'typeorm';
import type { Actor } from '../app/actor';
import { badInput } from '../app/errors';
import type { AuditService } from '../audit/audit.service';
import { hashPassword } from '../auth/passwords';
import { insertUnique } from '../common/db-errors';
import { newId } from '../common/ids';
import { paginate, type Connection } from '../common/pagination';
import { visibleAccount, visibleUser, whereInAccount } from './access';
import type { ByAccountArgs, CreateUserInput } from './accounts.inputs';
import { rolesForKind, User } from './user.entity';

export class UsersService {
  constructor(
    private readonly db: DataSource,
    private readonly audit: AuditService,
  ) {}

  get(actor: Actor, id: string): Promise<User> {
    return visibleUser(this.db.manager, actor, id);
  }

  /** The signed-in user as stored now (role or account may have changed since login). */
  async me(actor: Actor): Promise<User> {
    return this.db.manager.findOneByOrFail(User, { id: actor.userId });
  }

  async list(actor: Actor, args: ByAccountArgs): Promise<Connection<User>> {
    const qb = this.db.getRepository(User).createQueryBuilder('user');
    return paginate(await whereInAccount(this.db.manager, qb, actor, 'user', args.accountId), args);
  }

  /**
   * Admins create users in accounts inside their scope; customer owners in their own account.
   * The role must fit the account's kind, so nobody can mint an admin of a higher tier.
   */
  async create(actor: Actor, input: CreateUserInput): Promise<User> {
    // Hashed before the transaction opens: argon2 takes a tenth of a second we need not hold a lock for.
    const passwordHash = await hashPassword(input.password);
    return this.audit.within({ actor, request: actor.request }, 'user.create', async (em, draft) => {
      const account = await visibleAccount(em, actor, input.accountId);
      draft.concerns(account).target('user', null);
      if (!rolesForKind[account.kind].includes(input.role)) {
        throw badInput(`a ${account.kind.toLowerCase()} account's users can be ${rolesForKind[account.kind].join(' or ')}`, 'role');
      }
      const user = em.create(User, {
        id: newId(),
        accountId: account.id,
        email: input.email.trim().toLowerCase(),
        name: input.name?.trim() ?? '',
        role: input.role,
        passwordHash,
      });
      await insertUnique(em, User, user, 'email', 'a user with this email already exists');
      draft.target('user', user.id);
      return user;
    });
  }
}
