import 'reflect-metadata';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../server/app/config';
import { createLogger } from '../../server/app/logger';
import { startServer, type RunningServer, type ServerOptions } from '../../server/app/server';
import { createTempDatabase, type TempDatabase } from './postgres';

export type TestDb = 'sqlite' | 'postgres';

/**
 * The databases every integration suite runs against: both, unless CORRAL_TEST_DB names one
 * (for a quick local run). CI runs both.
 */
export const TEST_DBS: TestDb[] = (() => {
  const only = process.env.CORRAL_TEST_DB;
  if (!only) return ['sqlite', 'postgres'];
  if (only !== 'sqlite' && only !== 'postgres') throw new Error(`CORRAL_TEST_DB must be sqlite or postgres, not ${only}`);
  return [only];
})();

/** Declares a suite once per test database. */
export const forEachDatabase = (suite: (db: TestDb) => void) => TEST_DBS.forEach(suite);

export const ADMIN_EMAIL = 'admin@corral.test';
export const ADMIN_PASSWORD = 'admin password for tests';

export interface TestServer extends RunningServer {
  /** Stops the server and removes its database. */
  stop(): Promise<void>;
}

/**
 * A real Corral on a free loopback port, on a database of its own (a temporary SQLite
 * directory, or a temporary PostgreSQL database dropped afterwards), migrated as at start.
 */
export async function startTestServer(db: TestDb, env: Record<string, string> = {}, options: ServerOptions = {}): Promise<TestServer> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-test-'));
  let pg: TempDatabase | null = null;
  if (db === 'postgres') pg = await createTempDatabase('corral_test');
  const config = loadConfig({
    NODE_ENV: 'test',
    PORT: '0',
    HOST: '127.0.0.1',
    CORRAL_DATA_DIR: dataDir,
    CORRAL_ADMIN_EMAIL: ADMIN_EMAIL,
    CORRAL_ADMIN_PASSWORD: ADMIN_PASSWORD,
    CORRAL_PORTAL: 'false',
    // A playbook run on a lab node takes ~25 s: a hung one fails its suite with the step, well
    // inside the suite's own timeout, instead of after the production default of 30 minutes.
    CORRAL_ANSIBLE_TIMEOUT_SECONDS: '180',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent',
    ...(pg ? { DATABASE_URL: pg.url } : {}),
    ...env,
  });
  const server = await startServer(config, createLogger(config), options);
  return {
    ...server,
    async stop() {
      await server.close();
      await pg?.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Raw SQL with `?` placeholders for the server's database: PostgreSQL wants `$1`, `$2`, … instead. */
export function sqlFor(server: Pick<TestServer, 'db'>): (text: string) => string {
  return (text) => (server.db.options.type === 'postgres' ? text.replace(/\?/g, (_m, i: number) => `$${text.slice(0, i).split('?').length}`) : text);
}
