import type { DataSource, EntityManager } from 'typeorm';
import type { Actor } from '../app/actor';
import type { Config } from '../app/config';
import { CorralError, ErrorCode } from '../app/errors';
import type { AuditService } from '../audit/audit.service';
import { Container } from '../containers/container.entity';
import { newId } from '../common/ids';
import { Node } from '../nodes/node.entity';
import { Licence } from './licence.entity';
import { LicenceDocumentError, publicKeyFrom, verifyLicence } from './licence-document';

/** What applies without a licence: enough to try Corral on two nodes. */
export const FREE_TIER = { licensee: 'Free tier', maxNodes: 2, maxContainers: 10 } as const;

export interface LicenceStatus {
  licensee: string;
  maxNodes: number;
  maxContainers: number;
  expiresAt: Date | null;
  freeTier: boolean;
  nodes: number;
  containers: number;
}

export class LicencesService {
  private readonly publicKey;

  constructor(
    private readonly db: DataSource,
    private readonly audit: AuditService,
    config: Config,
  ) {
    this.publicKey = publicKeyFrom(config.licencePublicKey);
  }

  /** The newest installed licence while it is valid; the free tier otherwise (also once it expired). */
  private async limits(em: EntityManager) {
    const newest = await em.getRepository(Licence).createQueryBuilder('l').orderBy('l.installedAt', 'DESC').addOrderBy('l.id', 'DESC').getOne();
    if (newest && newest.expiresAt.getTime() > Date.now()) {
      return { licensee: newest.licensee, maxNodes: newest.maxNodes, maxContainers: newest.maxContainers, expiresAt: newest.expiresAt, freeTier: false };
    }
    return { ...FREE_TIER, expiresAt: null, freeTier: true };
  }

  async status(em: EntityManager = this.db.manager): Promise<LicenceStatus> {
    const [limits, nodes, containers] = await Promise.all([this.limits(em), em.count(Node), em.count(Container)]);
    return { ...limits, nodes, containers };
  }

  /** Refuses with LICENCE_LIMIT when one more node would exceed the licence. Call inside the adding transaction. */
  async checkRoomForNode(em: EntityManager): Promise<void> {
    const s = await this.status(em);
    if (s.nodes + 1 > s.maxNodes) {
      throw new CorralError(ErrorCode.LICENCE_LIMIT, `the ${s.freeTier ? 'free tier' : 'licence'} allows ${s.maxNodes} nodes`, { maxNodes: s.maxNodes });
    }
  }

  /** Refuses with LICENCE_LIMIT when one more container would exceed the licence. */
  async checkRoomForContainer(em: EntityManager): Promise<void> {
    const s = await this.status(em);
    if (s.containers + 1 > s.maxContainers) {
      throw new CorralError(ErrorCode.LICENCE_LIMIT, `the ${s.freeTier ? 'free tier' : 'licence'} allows ${s.maxContainers} containers`, {
        maxContainers: s.maxContainers,
      });
    }
  }

  install(actor: Actor, document: string): Promise<LicenceStatus> {
    return this.audit.within({ actor, request: actor.request }, 'licence.install', async (em, draft) => {
      draft.target('licence', null);
      let payload;
      try {
        payload = verifyLicence(document, this.publicKey);
      } catch (error) {
        if (error instanceof LicenceDocumentError) throw new CorralError(ErrorCode.BAD_USER_INPUT, error.message, { field: 'licence', reason: error.problem });
        throw error;
      }
      const licence = em.create(Licence, { id: newId(), ...payload, expiresAt: new Date(payload.expiresAt), document: document.trim() });
      await em.insert(Licence, licence);
      draft.target('licence', licence.id);
      return this.status(em);
    });
  }
}
