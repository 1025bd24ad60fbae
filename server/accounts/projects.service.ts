import type { DataSource } from 'typeorm';
import type { Actor } from '../app/actor';
import { conflict, forbidden } from '../app/errors';
import { Container } from '../containers/container.entity';
import type { AuditService } from '../audit/audit.service';
import { insertUnique } from '../common/db-errors';
import { newId } from '../common/ids';
import { paginate, type Connection } from '../common/pagination';
import { visibleAccount, visibleProject, whereInAccount } from './access';
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
    const qb = this.db.getRepository(Project).createQueryBuilder('project');
    return paginate(await whereInAccount(this.db.manager, qb, actor, 'project', args.accountId), args);
  }

  /** Projects live in customer accounts only. */
  create(actor: Actor, input: CreateProjectInput): Promise<Project> {
    return this.audit.within({ actor, request: actor.request }, 'project.create', async (em, draft) => {
      const account = await visibleAccount(em, actor, input.accountId);
      draft.concerns(account).target('project', null);
      if (account.kind !== AccountKind.CUSTOMER) throw forbidden('projects belong to customer accounts');
      const project = em.create(Project, { id: newId(), accountId: account.id, name: input.name, description: input.description ?? '' });
      await insertUnique(em, Project, project, 'name', `a project named "${input.name}" already exists in this account`);
      draft.target('project', project.id);
      return project;
    });
  }

  /** Deleting a project is refused while it holds containers. */
  delete(actor: Actor, id: string): Promise<Project> {
    return this.audit.within({ actor, request: actor.request }, 'project.delete', async (em, draft) => {
      draft.target('project', id);
      const project = await visibleProject(em, actor, id);
      draft.concerns(project.account);
      if (await em.existsBy(Container, { projectId: project.id })) throw conflict('the project still holds containers; delete them first');
      await em.delete(Project, { id: project.id });
      return project;
    });
  }
}
