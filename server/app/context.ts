import DataLoader from 'dataloader';
import { In, type DataSource } from 'typeorm';
import { Account } from '../accounts/account.entity';
import type { Actor, RequestMeta } from './actor';
import type { Services } from './services';

/** Per-request batch loaders, so that a page of 100 rows costs a fixed number of statements. */
export function createLoaders(db: DataSource) {
  return {
    accountById: new DataLoader<string, Account | null>(async (ids) => {
      const rows = await db.manager.findBy(Account, { id: In([...ids]) });
      const byId = new Map(rows.map((row) => [row.id, row]));
      return ids.map((id) => byId.get(id) ?? null);
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
}
