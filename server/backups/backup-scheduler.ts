import { LessThanOrEqual, type DataSource } from 'typeorm';
import type { Logger } from '../app/logger';
import { nextRunOf } from './backup-cron';
import { BackupSchedule } from './backup-schedule.entity';
import type { BackupsService } from './backups.service';

/**
 * Takes scheduled backups. Every `intervalMs` it looks for enabled schedules that are due and
 * claims each with a conditional UPDATE of `nextRunAt` (only the process whose UPDATE matched the
 * old value records the run), then records a `backup.create` operation whose idempotency key is
 * the schedule and due time. Safe with several Corral processes on one database.
 */
export class BackupScheduler {
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | null = null;
  private stopped = true;

  constructor(
    private readonly db: DataSource,
    private readonly backups: BackupsService,
    private readonly log: Logger,
    private readonly intervalMs: number,
  ) {}

  start(): void {
    this.stopped = false;
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.ticking;
  }

  /** One pass: every due schedule is claimed and run once. */
  tick(now = new Date()): Promise<void> {
    if (this.stopped || this.ticking) return this.ticking ?? Promise.resolve();
    this.ticking = this.pass(now)
      .catch((error: unknown) => this.log.warn({ err: error }, 'backup scheduler pass failed'))
      .finally(() => (this.ticking = null));
    return this.ticking;
  }

  private async pass(now: Date): Promise<void> {
    const due = await this.db.manager.find(BackupSchedule, { where: { enabled: true, nextRunAt: LessThanOrEqual(now) }, order: { nextRunAt: 'ASC' }, take: 100 });
    for (const schedule of due) {
      if (this.stopped) return;
      const next = nextRunOf(schedule.cron, now);
      const claimed = await this.db
        .createQueryBuilder()
        .update(BackupSchedule)
        .set({ nextRunAt: next ?? now, enabled: next !== null, lastRunAt: now })
        .where('id = :id AND "nextRunAt" = :due', { id: schedule.id, due: schedule.nextRunAt })
        .execute();
      if (!claimed.affected) continue;
      try {
        await this.backups.createScheduled(schedule, schedule.nextRunAt);
      } catch (error) {
        // A busy container (another operation) or an offline node: this run is skipped, the next one comes.
        this.log.warn({ err: error, schedule: schedule.id, container: schedule.containerId }, 'a scheduled backup was skipped');
      }
    }
  }
}
