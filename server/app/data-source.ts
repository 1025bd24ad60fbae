import fs from 'node:fs';
import path from 'node:path';
import { DataSource, type Logger } from 'typeorm';
import { postgresMigrations } from '../../migrations/postgres';
import { sqliteMigrations } from '../../migrations/sqlite';
import { Account } from '../accounts/account.entity';
import { Project } from '../accounts/project.entity';
import { User } from '../accounts/user.entity';
import { AuditEvent } from '../audit/audit-event.entity';
import { ApiToken } from '../auth/api-token.entity';
import { Session } from '../auth/session.entity';
import { Cluster } from '../clusters/cluster.entity';
import { Container } from '../containers/container.entity';
import { IpAddress, IpPool } from '../network/ip-pool.entity';
import { BackupSchedule } from '../backups/backup-schedule.entity';
import { ContainerBackup } from '../backups/backup.entity';
import { ContainerNic } from '../containers/nic.entity';
import { ContainerFirewallSettings } from '../firewall/firewall.entity';
import { Image } from '../images/image.entity';
import { Licence } from '../licences/licence.entity';
import { ContainerMetric } from '../metrics/container-metric.entity';
import { LxdIdentity } from '../nodes/lxd-identity.entity';
import { Node } from '../nodes/node.entity';
import { NodeSetup } from '../provisioning/node-setup.entity';
import { SshIdentity } from '../provisioning/ssh-identity.entity';
import { Operation } from '../operations/operation.entity';
import type { Config } from './config';
import { takeTurnsOnSqlite } from './sqlite-turns';

export const entities = [Account, User, Project, Session, ApiToken, AuditEvent, Cluster, Node, LxdIdentity, Image, Container, ContainerNic, Operation, Licence, ContainerBackup, BackupSchedule, ContainerMetric, SshIdentity, NodeSetup, IpPool, IpAddress, ContainerFirewallSettings];

/**
 * The database: SQLite in the data directory by default, PostgreSQL with DATABASE_URL.
 * Never `synchronize`: the schema changes only through the reviewed migrations.
 */
export function createDataSource(database: Config['database'], logger?: Logger): DataSource {
  if (database.kind === 'postgres') {
    return new DataSource({
      type: 'postgres',
      url: database.url,
      entities,
      migrations: postgresMigrations,
      migrationsTransactionMode: 'all',
      synchronize: false,
      logger,
      logging: logger ? 'all' : false,
      extra: { max: 10 },
    });
  }
  if (database.file !== ':memory:') fs.mkdirSync(path.dirname(database.file), { recursive: true });
  const db = new DataSource({
    type: 'better-sqlite3',
    database: database.file,
    entities,
    migrations: sqliteMigrations,
    migrationsTransactionMode: 'all',
    synchronize: false,
    logger,
    logging: logger ? 'all' : false,
    // WAL lets readers go on while a write commits; foreign keys are off in SQLite unless asked.
    prepareDatabase: (db: { pragma(source: string): unknown }) => {
      db.pragma('journal_mode = WAL');
      db.pragma('foreign_keys = ON');
      db.pragma('busy_timeout = 5000');
    },
  });
  takeTurnsOnSqlite(db);
  return db;
}
