import type { DataSource } from 'typeorm';
import { Between } from 'typeorm';
import { inScope, visibleContainer } from '../accounts/access';
import type { Actor } from '../app/actor';
import { badInput } from '../app/errors';
import { Container } from '../containers/container.entity';
import { ContainerMetric, ROLLUP_SECONDS } from './container-metric.entity';
import type { ContainerMetricsPayload } from './metrics.topics';

/** At most this many points in one history answer. */
export const MAX_HISTORY_POINTS = 2000;
const ROLLUP_MS = ROLLUP_SECONDS * 1000;

export interface HistoryArgs {
  from: Date;
  to: Date;
  /** Seconds per point. */
  step: number;
}

/** Reads metrics history and checks who may follow a container's metrics. */
export class MetricsService {
  constructor(private readonly db: DataSource) {}

  /**
   * Points of `step` seconds in [from, to): each the average of what is stored in it, raw
   * samples where they are still kept, rolled-up windows elsewhere (weighted by the samples each
   * stands for). Intervals without data have no point.
   * @throws NOT_FOUND (not visible), BAD_USER_INPUT (bad range or step, too many points)
   */
  async history(actor: Actor, id: string, args: HistoryArgs): Promise<ContainerMetricsPayload[]> {
    const container = await visibleContainer(this.db.manager, actor, id);
    const from = args.from.getTime();
    const to = args.to.getTime();
    if (!Number.isFinite(from) || !Number.isFinite(to) || from >= to) throw badInput('`from` must be before `to`', 'from');
    if (!Number.isInteger(args.step) || args.step < 1 || args.step > 86_400) throw badInput('`step` must be 1 to 86400 seconds', 'step');
    const stepMs = args.step * 1000;
    if (Math.ceil((to - from) / stepMs) > MAX_HISTORY_POINTS) throw badInput(`at most ${MAX_HISTORY_POINTS} points: widen \`step\` or narrow the range`, 'step');

    const rows = await this.db.manager.find(ContainerMetric, { where: { containerId: container.id, at: Between(from, to - 1) }, order: { at: 'ASC' } });
    const rawWindows = new Set(rows.filter((r) => r.step === 0).map((r) => Math.floor(r.at / ROLLUP_MS) * ROLLUP_MS));
    const buckets = new Map<number, { weight: number; cpu: number; memory: number; disk: number; diskWeight: number; rx: number; tx: number }>();
    for (const row of rows) {
      // A window whose raw samples are still here is read from them, not from its average.
      if (row.step !== 0 && rawWindows.has(row.at)) continue;
      const at = from + Math.floor((row.at - from) / stepMs) * stepMs;
      const b = buckets.get(at) ?? { weight: 0, cpu: 0, memory: 0, disk: 0, diskWeight: 0, rx: 0, tx: 0 };
      const w = row.samples;
      b.weight += w;
      b.cpu += row.cpuPercent * w;
      b.memory += row.memoryBytes * w;
      if (row.diskBytes !== null) {
        b.disk += row.diskBytes * w;
        b.diskWeight += w;
      }
      b.rx += row.rxBytesPerSecond * w;
      b.tx += row.txBytesPerSecond * w;
      buckets.set(at, b);
    }
    return [...buckets.entries()]
      .sort(([a], [b]) => a - b)
      .map(([at, b]) => ({
        containerId: container.id,
        at,
        cpuPercent: Math.round((b.cpu / b.weight) * 100) / 100,
        memoryBytes: Math.round(b.memory / b.weight),
        diskBytes: b.diskWeight ? Math.round(b.disk / b.diskWeight) : null,
        rxBytesPerSecond: Math.round((b.rx / b.weight) * 100) / 100,
        txBytesPerSecond: Math.round((b.tx / b.weight) * 100) / 100,
      }));
  }

  /** When subscribing: the container must be visible (NOT_FOUND otherwise). */
  async checkSubscription(actor: Actor, id: string): Promise<string> {
    return (await visibleContainer(this.db.manager, actor, id)).id;
  }

  /**
   * For every event: is the container still there and still the caller's? The container's account
   * is looked up once per event (one indexed query shared by every subscriber that gets the same
   * event object), then each subscriber's scope is compared in memory.
   */
  async stillVisible(actor: Actor, payload: ContainerMetricsPayload): Promise<boolean> {
    let path = this.pathPerEvent.get(payload);
    if (!path) {
      path = this.accountPathOf(payload.containerId);
      this.pathPerEvent.set(payload, path);
    }
    return inScope(actor, await path);
  }

  private readonly pathPerEvent = new WeakMap<ContainerMetricsPayload, Promise<string | null>>();

  private async accountPathOf(containerId: string): Promise<string | null> {
    const row = await this.db.manager
      .createQueryBuilder(Container, 'c')
      .innerJoin('c.project', 'p')
      .innerJoin('p.account', 'a')
      .select('a.path', 'path')
      .where('c.id = :id', { id: containerId })
      .getRawOne<{ path: string }>();
    return row?.path ?? null;
  }
}
