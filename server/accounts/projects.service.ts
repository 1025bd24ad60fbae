import type { DataSource } from 'typeorm';
import type { Actor } from '../app/actor';
import { conflict, forbidden } from '../app/errors';
import type { AuditService } from '../audit/audit.service';
import { isUniqueViolation } from '../common/db-errors';
import { newId } from '../common/ids';
import { paginate, type Connection } from '../common/pagination';
import { visibleAccount, visibleProject, whereAccountInScope } from './access';
import { AccountKind } from './account.entity';
import type { ByAccountArgs, CreateProjectInput } from './accounts.inputs';
import { Project } from './project.entity';

export class ProjectsService {
  constructor(
    private readonly db: DataSource,
    private readonly audit: AuditService,
  ) {}

  get(actor: Actor, id: string): Promise<Project> {
    return visibleProject(this.db.manager, actor, id);
  }

  async list(actor: Actor, args: ByAccountArgs): Promise<Connection<Project>> {
    const qb = this.db.getRepository(Project).createQueryBuilder('project').innerJoin('project.account', 'account');
    whereAccountInScope(qb, actor, 'account');
    if (args.accountId !== undefined && args.accountId !== null) {
      const account = await visibleAccount(this.db.manager, actor, args.accountId);
      qb.andWhere('project.accountId = :accountId', { accountId: account.id });
    }
    return paginate(qb, args);
  }

  /** Projects live in customer accounts only. */
  create(actor: Actor, input: CreateProjectInput): Promise<Project> {
    return this.audit.within({ actor, request: actor.request }, 'project.create', async (em, draft) => {
      const account = await visibleAccount(em, actor, input.accountId);
      draft.concerns(account).target('project', null);
      if (account.kind !== AccountKind.CUSTOMER) throw forbidden('projects belong to customer accounts');
      const project = em.create(Project, { id: newId(), accountId: account.id, name: input.name, description: input.description ?? '' });
      try {
        await em.insert(Project, project);
      } catch (error) {
        if (isUniqueViolation(error)) throw conflict(`a project named "${input.name}" already exists in this account`, 'name');
        throw error;
      }
      draft.target('project', project.id);
      return project;
    });
  }

  /** Deleting a project is refused while it holds containers (once containers exist). */
  delete(actor: Actor, id: string): Promise<Project> {
    return this.audit.within({ actor, request: actor.request }, 'project.delete', async (em, draft) => {
      draft.target('project', id);
      const project = await visibleProject(em, actor, id);
      draft.concerns(project.account);
      await em.delete(Project, { id: project.id });
      return project;
    });
  }
}
