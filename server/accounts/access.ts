import type { EntityManager, ObjectLiteral, SelectQueryBuilder } from 'typeorm';
import type { Actor } from '../app/actor';
import { notFound } from '../app/errors';
import { isId } from '../common/ids';
import { Account } from './account.entity';
import { Project } from './project.entity';
import { User } from './user.entity';
import { Container } from '../containers/container.entity';

/**
 * The one place that answers "may this caller see that object". Every answer is set-based
 * (a prefix match on the account path), and a refusal looks exactly like a missing object.
 */
export const inScope = (actor: Actor, accountPath: string | null | undefined): boolean =>
  !!accountPath && accountPath.startsWith(actor.scope.path);

/** Restricts a query to accounts inside the caller's scope; `alias` names an Account in the query. */
export function whereAccountInScope<T extends ObjectLiteral>(
  qb: SelectQueryBuilder<T>,
  actor: Actor,
  alias: string,
): SelectQueryBuilder<T> {
  return qb.andWhere(`${alias}.path LIKE :scopePath`, { scopePath: `${actor.scope.path}%` });
}

export async function visibleAccount(em: EntityManager, actor: Actor, id: string): Promise<Account> {
  const account = isId(id) ? await em.findOneBy(Account, { id }) : null;
  if (!account || !inScope(actor, account.path)) throw notFound('Account');
  return account;
}

export async function visibleProject(em: EntityManager, actor: Actor, id: string): Promise<Project & { account: Account }> {
  const project = isId(id) ? await em.findOne(Project, { where: { id }, relations: { account: true } }) : null;
  if (!project?.account || !inScope(actor, project.account.path)) throw notFound('Project');
  return project as Project & { account: Account };
}

export async function visibleUser(em: EntityManager, actor: Actor, id: string): Promise<User & { account: Account }> {
  const user = isId(id) ? await em.findOne(User, { where: { id }, relations: { account: true } }) : null;
  if (!user?.account || !inScope(actor, user.account.path)) throw notFound('User');
  return user as User & { account: Account };
}

/**
 * Narrows a list to one account when the caller names one (which must be visible), and always to
 * the caller's scope. `alias` is the listed entity, joined to its account as `account`.
 */
export async function whereInAccount<T extends ObjectLiteral>(
  em: EntityManager,
  qb: SelectQueryBuilder<T>,
  actor: Actor,
  alias: string,
  accountId: string | null | undefined,
): Promise<SelectQueryBuilder<T>> {
  whereAccountInScope(qb.innerJoin(`${alias}.account`, 'account'), actor, 'account');
  if (accountId !== undefined && accountId !== null) {
    const account = await visibleAccount(em, actor, accountId);
    qb.andWhere(`${alias}.accountId = :accountId`, { accountId: account.id });
  }
  return qb;
}

export async function visibleContainer(em: EntityManager, actor: Actor, id: string): Promise<Container & { project: Project & { account: Account } }> {
  const container = isId(id) ? await em.findOne(Container, { where: { id }, relations: { project: { account: true } } }) : null;
  if (!container?.project?.account || !inScope(actor, container.project.account.path)) throw notFound('Container');
  return container as Container & { project: Project & { account: Account } };
}
