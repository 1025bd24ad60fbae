import type { DataSource } from 'typeorm';
import { AccountsService } from '../accounts/accounts.service';
import { ProjectsService } from '../accounts/projects.service';
import { UsersService } from '../accounts/users.service';
import { AuditEventsService } from '../audit/audit-events.service';
import { AuditService } from '../audit/audit.service';
import { ApiTokensService } from '../auth/api-tokens.service';
import { SessionsService } from '../auth/sessions.service';
import type { Config } from './config';
import type { CorralPubSub } from './pubsub';

/** Every service, built once per process and handed to resolvers through the context. */
export function createServices(db: DataSource, config: Config, pubsub: CorralPubSub) {
  const audit = new AuditService(db, pubsub);
  return {
    pubsub,
    audit,
    auditEvents: new AuditEventsService(db),
    accounts: new AccountsService(db, audit),
    projects: new ProjectsService(db, audit),
    users: new UsersService(db, audit),
    sessions: new SessionsService(db, audit, config),
    apiTokens: new ApiTokensService(db, audit),
  };
}
export type Services = ReturnType<typeof createServices>;
