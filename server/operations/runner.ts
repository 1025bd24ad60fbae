import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { CorralError, ErrorCode } from '../app/errors';
import type { Logger } from '../app/logger';
import type { LivePublisher } from '../live/live.publisher';
import { Operation, OperationState } from './operation.entity';

/** What a handler may do while it works. */
export interface Step {
  /** Records progress (0–100) and the current step, for whoever watches the operation. */
  progress(percent: number, step: string): Promise<void>;
}

/**
 * How one kind of operation is carried out. `run` does the work from the start; `recover` is
 * called instead when a runner died in the middle (its lease expired) and must leave things
 * finished or cleanly undone. Both must be safe to call twice.
 */
export interface OperationHandler {
  run(operation: Operation, step: Step): Promise<void>;
  recover(operation: Operation, step: Step): Promise<void>;
  /** Called after a failure (of run or recover) to undo what is half-done. */
  onFailure?(operation: Operation, error: unknown): Promise<void>;
}

/**
 * Runs operations, at most once at a time each, across any number of processes: a runner claims
 * an operation by taking its lease in the database, renews the lease while it works, and any
 * runner may take over an operation whose lease expired (its runner died).
 */
export class OperationRunner {
  readonly owner = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  private readonly running = new Map<string, Promise<void>>();
  private sweeper: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Announces claim, every progress step and the finish to live subscribers (set by createServices). */
  live: LivePublisher | null = null;

  constructor(
    private readonly db: DataSource,
    private readonly log: Logger,
    private readonly leaseMs: number,
    private readonly handlers: Record<string, OperationHandler>,
  ) {}

  /** Starts looking for orphaned operations (and runs the first sweep at once). */
  start(): void {
    this.stopped = false;
    void this.sweep();
    this.sweeper = setInterval(() => void this.sweep(), Math.max(1000, Math.floor(this.leaseMs / 3)));
    this.sweeper.unref();
  }

  /** Stops taking work and waits for what runs now to finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.sweeper);
    await Promise.allSettled([...this.running.values()]);
  }

  /** Runs a freshly recorded operation now, in the background. */
  kick(operationId: string): void {
    void this.claimAndRun(operationId);
  }

  /** Waits for an operation this process runs (for tests and benchmarks). */
  async settled(operationId: string): Promise<void> {
    await this.running.get(operationId);
  }

  private async sweep(): Promise<void> {
    if (this.stopped) return;
    try {
      const orphans = await this.db
        .getRepository(Operation)
        .createQueryBuilder('operation')
        .select('operation.id')
        .where('operation.state IN (:...active)', { active: [OperationState.PENDING, OperationState.RUNNING] })
        .andWhere('(operation.leaseExpiresAt IS NULL OR operation.leaseExpiresAt < :now)', { now: new Date() })
        .andWhere('operation.createdAt < :settle', { settle: new Date(Date.now() - 1000) })
        .orderBy('operation.id', 'ASC')
        .limit(20)
        .getMany();
      for (const { id } of orphans) if (!this.running.has(id)) void this.claimAndRun(id);
    } catch (error) {
      this.log.warn({ err: error }, 'operation sweep failed');
    }
  }

  private async claimAndRun(id: string): Promise<void> {
    if (this.stopped || this.running.has(id)) return;
    const work = this.claimed(id).finally(() => this.running.delete(id));
    this.running.set(id, work);
    await work;
  }

  private async claimed(id: string): Promise<void> {
    const before = await this.db.manager.findOneBy(Operation, { id });
    if (!before || ![OperationState.PENDING, OperationState.RUNNING].includes(before.state)) return;
    const now = new Date();
    const result = await this.db
      .createQueryBuilder()
      .update(Operation)
      .set({ state: OperationState.RUNNING, leaseOwner: this.owner, leaseExpiresAt: new Date(now.getTime() + this.leaseMs) })
      .where('id = :id', { id })
      .andWhere('(state = :pending OR (state = :running AND ("leaseExpiresAt" IS NULL OR "leaseExpiresAt" < :now)))', {
        pending: OperationState.PENDING,
        running: OperationState.RUNNING,
        now,
      })
      .execute();
    if (!result.affected) return;
    const recovering = before.state === OperationState.RUNNING;
    // One line per claim: with several replicas, the logs show which runner ran what (and that no two did).
    this.log.info({ operation: id, action: before.action, owner: this.owner, recovering }, 'operation claimed');
    const handler = this.handlers[before.action];
    const operation = (await this.db.manager.findOneBy(Operation, { id }))!;
    this.live?.operationChanged(operation);
    const renew = setInterval(() => {
      void this.db.manager
        .update(Operation, { id, leaseOwner: this.owner }, { leaseExpiresAt: new Date(Date.now() + this.leaseMs) })
        .catch((error: unknown) => this.log.warn({ err: error, operation: id }, 'lease renewal failed'));
    }, Math.max(500, Math.floor(this.leaseMs / 3)));
    const step: Step = {
      progress: async (percent, text) => {
        await this.db.manager.update(Operation, { id, leaseOwner: this.owner }, { progress: Math.max(0, Math.min(100, Math.round(percent))), step: text });
        this.live?.operationChanged(operation);
      },
    };
    try {
      if (!handler) throw new Error(`no handler for ${before.action}`);
      if (recovering) this.log.warn({ operation: id, action: before.action }, 'recovering an operation whose runner stopped');
      await (recovering ? handler.recover(operation, step) : handler.run(operation, step));
      await this.finish(id, OperationState.SUCCEEDED, null, null);
      this.live?.operationChanged(operation, { finished: true });
    } catch (error) {
      const code = error instanceof CorralError ? error.code : ErrorCode.INTERNAL_SERVER_ERROR;
      const message = error instanceof CorralError ? error.message : 'Internal error';
      if (!(error instanceof CorralError)) this.log.error({ err: error, operation: id }, 'operation failed unexpectedly');
      try {
        await handler?.onFailure?.(operation, error);
      } catch (cleanup) {
        this.log.error({ err: cleanup, operation: id }, 'cleaning up a failed operation failed');
      }
      await this.finish(id, OperationState.FAILED, code, message);
      this.live?.operationChanged(operation, { finished: true });
    } finally {
      clearInterval(renew);
    }
  }

  private async finish(id: string, state: OperationState, errorCode: string | null, errorMessage: string | null) {
    await this.db.manager.update(
      Operation,
      { id, leaseOwner: this.owner },
      { state, errorCode, errorMessage: errorMessage?.slice(0, 1000) ?? null, finishedAt: new Date(), leaseExpiresAt: null, ...(state === OperationState.SUCCEEDED ? { progress: 100, step: 'done' } : {}) },
    );
  }
}
