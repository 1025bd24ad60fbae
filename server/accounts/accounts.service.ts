import type { DataSource } from 'typeorm';
import type { Actor } from '../app/actor';
import { forbidden } from '../app/errors';
import type { AuditService } from '../audit/audit.service';
import { newId } from '../common/ids';
import { paginate, type Connection } from '../common/pagination';
import { insertUnique } from '../common/db-errors';
import { visibleAccount, whereAccountInScope } from './access';
import { Account, AccountKind } from './account.entity';
import type { AccountsArgs, CreateAccountInput } from './accounts.inputs';

/** Which kinds of child each kind of account may hold. */
const childKinds: Record<AccountKind, AccountKind[]> = {
  [AccountKind.PROVIDER]: [AccountKind.RESELLER, AccountKind.CUSTOMER],
  [AccountKind.RESELLER]: [AccountKind.CUSTOMER],
  [AccountKind.CUSTOMER]: [],
};

export class AccountsService {
  constructor(
    private readonly db: DataSource,
    private readonly audit: AuditService,
  ) {}

  get(actor: Actor, id: string): Promise<Account> {
    return visibleAccount(this.db.manager, actor, id);
  }

  async list(actor: Actor, args: AccountsArgs): Promise<Connection<Account>> {
    const qb = whereAccountInScope(this.db.getRepository(Account).createQueryBuilder('account'), actor, 'account');
    if (args.parentId !== undefined && args.parentId !== null) {
      const parent = await visibleAccount(this.db.manager, actor, args.parentId);
      qb.andWhere('account.parentId = :parentId', { parentId: parent.id });
    }
    if (args.kind) qb.andWhere('account.kind = :kind', { kind: args.kind });
    return paginate(qb, args);
  }

  /** Provider admins create resellers and customers; reseller admins create customers under their own reseller. */
  create(actor: Actor, input: CreateAccountInput): Promise<Account> {
    return this.audit.within({ actor, request: actor.request }, 'account.create', async (em, draft) => {
      const parent = await visibleAccount(em, actor, input.parentId ?? actor.scope.accountId);
      draft.concerns(parent).target('account', null);
      if (!childKinds[parent.kind].includes(input.kind)) {
        throw forbidden(`a ${parent.kind.toLowerCase()} account cannot hold a ${input.kind.toLowerCase()} account`);
      }
      const id = newId();
      const account = em.create(Account, { id, kind: input.kind, name: input.name, parentId: parent.id, path: `${parent.path}${id}/` });
      await insertUnique(em, Account, account, 'name', `an account named "${input.name}" already exists here`);
      draft.concerns(account).target('account', account.id);
      return account;
    });
  }
}
