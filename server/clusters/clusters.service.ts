import type { DataSource } from 'typeorm';
import type { Actor } from '../app/actor';
import { notFound } from '../app/errors';
import type { AuditService } from '../audit/audit.service';
import { insertUnique } from '../common/db-errors';
import { isId, newId } from '../common/ids';
import { paginate, type Connection, type PageArgs } from '../common/pagination';
import { Cluster } from './cluster.entity';
import type { CreateClusterInput } from './clusters.inputs';

/** Clusters are the provider's; only callers with INFRASTRUCTURE_* reach these methods. */
export class ClustersService {
  constructor(
    private readonly db: DataSource,
    private readonly audit: AuditService,
  ) {}

  async get(_actor: Actor, id: string): Promise<Cluster> {
    const cluster = isId(id) ? await this.db.manager.findOneBy(Cluster, { id }) : null;
    if (!cluster) throw notFound('Cluster');
    return cluster;
  }

  list(_actor: Actor, page: PageArgs): Promise<Connection<Cluster>> {
    return paginate(this.db.getRepository(Cluster).createQueryBuilder('cluster'), page);
  }

  create(actor: Actor, input: CreateClusterInput): Promise<Cluster> {
    return this.audit.within({ actor, request: actor.request }, 'cluster.create', async (em, draft) => {
      const cluster = em.create(Cluster, { id: newId(), ...input });
      await insertUnique(em, Cluster, cluster, 'name', `a cluster named "${input.name}" already exists`);
      draft.target('cluster', cluster.id);
      return cluster;
    });
  }
}
