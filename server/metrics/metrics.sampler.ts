import { Between, In, LessThan, Not, type DataSource } from 'typeorm';
import type { Logger } from '../app/logger';
import type { CorralPubSub } from '../app/pubsub';
import { Container, ContainerStatus } from '../containers/container.entity';
import { lxdProjectOf } from '../nodes/node-gateway';
import { NodeStatus, type Node } from '../nodes/node.entity';
import { ContainerMetric, ROLLUP_SECONDS } from './container-metric.entity';
import type { MetricsNodes } from './metrics.gateway';
import { MetricsTopics, type ContainerMetricsPayload } from './metrics.topics';

export interface MetricsSettings {
  /** How often each node is sampled (CORRAL_METRICS_SECONDS). */
  sampleMs: number;
  /** How long raw samples are kept (CORRAL_METRICS_RAW_HOURS). */
  rawMs: number;
  /** How long rolled-up averages are kept (CORRAL_METRICS_DAYS). */
  keepMs: number;
}

const ROLLUP_MS = ROLLUP_SECONDS * 1000;
/** Rows per INSERT: 9 columns each stays under SQLite's 999 bound parameters. */
const CHUNK = 100;

interface Counters {
  at: number;
  cpuNs: number;
  rxBytes: number;
  txBytes: number;
}

/**
 * Samples every running container once per interval: one request per node that has running
 * containers (LXD's instance list with state), however many subscribers there are. CPU percent
 * and network rates come from the deltas to the previous sample, so a container's first sample
 * (and the one after a counter reset, e.g. a restart) only sets the baseline. Each sample is
 * stored (raw history) and published to `containerMetrics` subscribers. The same loop rolls raw
 * samples up into ROLLUP_SECONDS averages and then prunes both by age. History rows are keyed by
 * container, step and interval, written with INSERT … ON CONFLICT DO NOTHING, so several
 * replicas sampling at once store each interval once.
 */
export class MetricsSampler {
  private previous = new Map<string, Counters>();
  /** Raw samples before this instant are rolled up already (by this process). */
  private rolledUpTo: number | null = null;
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | null = null;

  constructor(
    private readonly db: DataSource,
    private readonly nodes: MetricsNodes,
    private readonly pubsub: CorralPubSub,
    private readonly log: Logger,
    readonly settings: MetricsSettings,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.settings.sampleMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.ticking;
  }

  /** One pass (sample, roll up, prune) at `now`; a pass already running is waited for instead. */
  tick(now = Date.now()): Promise<void> {
    if (this.ticking) return this.ticking;
    this.ticking = this.pass(now)
      .catch((error: unknown) => this.log.warn({ err: error }, 'metrics pass failed'))
      .finally(() => (this.ticking = null));
    return this.ticking;
  }

  private async pass(now: number): Promise<void> {
    await this.sample(now);
    // Pruning follows the rollup, once per finished window: a pass otherwise costs one query when nothing runs.
    if (await this.rollup(now)) await this.prune(now);
  }

  /** Samples the running containers of every reachable node, stores and publishes what has a previous sample to compare with. */
  async sample(now: number): Promise<ContainerMetricsPayload[]> {
    const running = await this.db.manager.find(Container, {
      where: { status: ContainerStatus.RUNNING, node: { status: Not(NodeStatus.OFFLINE) } },
      relations: { node: true },
    });
    const byNode = new Map<string, { node: Node; containers: Map<string, Container> }>();
    for (const container of running) {
      const entry = byNode.get(container.nodeId) ?? { node: container.node!, containers: new Map<string, Container>() };
      entry.containers.set(`${lxdProjectOf(container.projectId)}/${container.name}`, container);
      byNode.set(container.nodeId, entry);
    }
    const next = new Map<string, Counters>();
    const payloads: ContainerMetricsPayload[] = [];
    await Promise.all(
      [...byNode.values()].map(async ({ node, containers }) => {
        let counters;
        try {
          counters = await this.nodes.sample(node);
        } catch (error) {
          this.log.debug({ err: error, node: node.name }, 'a node could not be sampled');
          return;
        }
        for (const c of counters) {
          const container = containers.get(`${c.project}/${c.name}`);
          if (!container || c.status !== 'Running') continue;
          const current = { at: now, cpuNs: c.cpuNs, rxBytes: c.rxBytes, txBytes: c.txBytes };
          next.set(container.id, current);
          const before = this.previous.get(container.id);
          if (!before || now <= before.at || c.cpuNs < before.cpuNs || c.rxBytes < before.rxBytes || c.txBytes < before.txBytes) continue;
          const seconds = (now - before.at) / 1000;
          payloads.push({
            containerId: container.id,
            at: now,
            cpuPercent: round2(((c.cpuNs - before.cpuNs) / 1e9 / seconds) * 100),
            memoryBytes: c.memoryBytes,
            diskBytes: c.diskBytes,
            rxBytesPerSecond: round2((c.rxBytes - before.rxBytes) / seconds),
            txBytesPerSecond: round2((c.txBytes - before.txBytes) / seconds),
          });
        }
      }),
    );
    this.previous = next;
    const interval = Math.floor(now / this.settings.sampleMs) * this.settings.sampleMs;
    const won = await this.insertRaw(payloads.map((p) => ({ ...p, step: 0, at: interval, samples: 1 })));
    const published = payloads.filter((p) => won.has(p.containerId));
    for (const payload of published) this.pubsub.publish(MetricsTopics.sampled, payload.containerId, payload);
    return published;
  }

  /** Averages the raw samples of every finished ROLLUP_SECONDS window not rolled up yet; false when there was none. */
  async rollup(now: number): Promise<boolean> {
    const upTo = Math.floor(now / ROLLUP_MS) * ROLLUP_MS;
    this.rolledUpTo ??= Math.floor((now - this.settings.rawMs) / ROLLUP_MS) * ROLLUP_MS;
    if (upTo <= this.rolledUpTo) return false;
    const raw = await this.db.manager.find(ContainerMetric, { where: { step: 0, at: Between(this.rolledUpTo, upTo - 1) } });
    const windows = new Map<string, ContainerMetric[]>();
    for (const row of raw) {
      const key = `${row.containerId}/${Math.floor(row.at / ROLLUP_MS) * ROLLUP_MS}`;
      windows.set(key, [...(windows.get(key) ?? []), row]);
    }
    const rows = [...windows.values()].map((samples) => {
      const avg = (pick: (r: ContainerMetric) => number) => samples.reduce((sum, r) => sum + pick(r), 0) / samples.length;
      const disks = samples.map((r) => r.diskBytes).filter((d): d is number => d !== null);
      return {
        containerId: samples[0]!.containerId,
        step: ROLLUP_SECONDS,
        at: Math.floor(samples[0]!.at / ROLLUP_MS) * ROLLUP_MS,
        cpuPercent: round2(avg((r) => r.cpuPercent)),
        memoryBytes: Math.round(avg((r) => r.memoryBytes)),
        diskBytes: disks.length ? Math.round(disks.reduce((a, b) => a + b, 0) / disks.length) : null,
        rxBytesPerSecond: round2(avg((r) => r.rxBytesPerSecond)),
        txBytesPerSecond: round2(avg((r) => r.txBytesPerSecond)),
        samples: samples.length,
      };
    });
    await this.insert(rows);
    this.rolledUpTo = upTo;
    return true;
  }

  /** Drops raw samples older than the raw retention (once rolled up) and rollups older than the history retention. */
  async prune(now: number): Promise<void> {
    const rawBefore = Math.min(now - this.settings.rawMs, this.rolledUpTo ?? now - this.settings.rawMs);
    await this.db.manager.delete(ContainerMetric, { step: 0, at: LessThan(rawBefore) });
    await this.db.manager.delete(ContainerMetric, { step: Not(In([0])), at: LessThan(now - this.settings.keepMs) });
  }

  /**
   * Stores raw samples; returns the containers whose sample this process stored. On PostgreSQL
   * several replicas may sample the same interval: only the one whose row went in publishes it, so
   * subscribers (who get events from every replica through Redis) see each sample once. SQLite
   * is one process's own file: every row is this process's.
   */
  private async insertRaw(rows: Omit<ContainerMetric, 'container'>[]): Promise<Set<string>> {
    if (this.db.options.type !== 'postgres') {
      await this.insert(rows);
      return new Set(rows.map((r) => r.containerId));
    }
    const won = new Set<string>();
    for (let i = 0; i < rows.length; i += CHUNK) {
      const result = await this.db.createQueryBuilder().insert().into(ContainerMetric).values(rows.slice(i, i + CHUNK)).orIgnore().returning(['containerId']).execute();
      for (const row of result.raw as { containerId: string }[]) won.add(row.containerId);
    }
    return won;
  }

  private async insert(rows: Omit<ContainerMetric, 'container'>[]): Promise<void> {
    for (let i = 0; i < rows.length; i += CHUNK) {
      await this.db.createQueryBuilder().insert().into(ContainerMetric).values(rows.slice(i, i + CHUNK)).orIgnore().execute();
    }
  }
}

const round2 = (n: number) => Math.round(n * 100) / 100;
