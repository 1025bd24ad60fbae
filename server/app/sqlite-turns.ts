import { AsyncLocalStorage } from 'node:async_hooks';
import type { DataSource, QueryRunner } from 'typeorm';

/** The manager's calls that open a transaction of their own. */
const TRANSACTIONAL = ['transaction', 'save', 'remove', 'softRemove', 'recover'] as const;

/**
 * better-sqlite3 is one connection, and every query runner TypeORM hands out shares it. A
 * transaction stays open across awaits: a query made meanwhile anywhere else in the process would
 * land inside it (and vanish with its rollback), and a second transaction would nest in it as a
 * savepoint. So on SQLite whoever opens a transaction has the connection to itself until it ends:
 * transactions (and the manager's save and remove, which open one) take turns, and a lone query
 * from elsewhere waits for the turn to end. Work inside a turn (however deep the calls go) carries
 * the turn in AsyncLocalStorage and passes. PostgreSQL has a pool and needs none of this.
 */
export function takeTurnsOnSqlite(db: DataSource): void {
  const current = new AsyncLocalStorage<symbol>();
  let holder: symbol | null = null;
  let ended: Promise<void> = Promise.resolve();
  let queue: Promise<void> = Promise.resolve();

  async function inTurn<T>(work: () => Promise<T>): Promise<T> {
    if (holder !== null && current.getStore() === holder) return work();
    const turn = Symbol('sqlite turn');
    let end!: () => void;
    const done = new Promise<void>((resolve) => (end = resolve));
    const before = queue;
    queue = before.then(() => done);
    await before;
    holder = turn;
    ended = done;
    try {
      return await current.run(turn, work);
    } finally {
      holder = null;
      end();
    }
  }

  const manager = db.manager as unknown as Record<(typeof TRANSACTIONAL)[number], (...args: unknown[]) => Promise<unknown>>;
  for (const method of TRANSACTIONAL) {
    const original = manager[method].bind(db.manager);
    manager[method] = (...args: unknown[]) => inTurn(() => original(...args));
  }

  const driver = db.driver as unknown as { createQueryRunner(mode: string): QueryRunner };
  const createQueryRunner = driver.createQueryRunner.bind(driver);
  const waiting = new WeakSet<QueryRunner>();
  driver.createQueryRunner = (mode: string) => {
    const runner = createQueryRunner(mode);
    if (!waiting.has(runner)) {
      waiting.add(runner);
      const query = runner.query.bind(runner) as (...args: unknown[]) => Promise<unknown>;
      (runner as unknown as { query: typeof query }).query = async (...args: unknown[]) => {
        while (holder !== null && current.getStore() !== holder) await ended;
        return query(...args);
      };
    }
    return runner;
  };
}
