import DataLoader from 'dataloader';
import { In, type DataSource } from 'typeorm';
import { Account } from '../accounts/account.entity';
import { Project } from '../accounts/project.entity';
import { Image } from '../images/image.entity';
import type { Operation } from '../operations/operation.entity';
import type { Actor, RequestMeta } from './actor';
import type { Services } from './services';

/** Per-request batch loaders, so that a page of 100 rows costs a fixed number of statements. */
function byIdLoader<T extends { id: string }>(db: DataSource, entity: new () => T) {
  return new DataLoader<string, T | null>(async (ids) => {
    const rows = await db.manager.findBy(entity, { id: In([...ids]) } as never);
    const byId = new Map(rows.map((row) => [row.id, row]));
    return ids.map((id) => byId.get(id) ?? null);
  });
}

export function createLoaders(db: DataSource, services: Pick<Services, 'operations'>) {
  return {
    accountById: byIdLoader(db, Account),
    projectById: byIdLoader(db, Project),
    imageById: byIdLoader(db, Image),
    latestOperation: new DataLoader<string, Operation | null>(async (containerIds) => {
      const latest = await services.operations.latestFor(containerIds);
      return containerIds.map((id) => latest.get(id) ?? null);
    }),
  };
}
export type Loaders = ReturnType<typeof createLoaders>;

/** Cookie handling for the HTTP transport; absent on WebSocket, where login is not offered. */
export interface HttpSession {
  secret: string | undefined;
  set(secret: string, expiresAt: Date): void;
  clear(): void;
}

/** One context shape for HTTP and WebSocket. */
export interface Context {
  actor: Actor | null;
  request: RequestMeta;
  services: Services;
  loaders: Loaders;
  http: HttpSession | null;
  /** WebSocket only: authenticates the connection's credential again, for live subscriptions' per-event checks. */
  reauthenticate?: () => Promise<Actor | null>;
}
