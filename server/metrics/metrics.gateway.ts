import { z } from 'zod';
import { lxdPath, parseMetadata } from '../lxd/client';
import { LxdGateway } from '../nodes/lxd-gateway';
import type { NodeGateway } from '../nodes/node-gateway';
import type { Node } from '../nodes/node.entity';

/** One instance's counters at one moment, as a node reports them. */
export interface InstanceCounters {
  project: string;
  name: string;
  /** LXD's status: only `Running` instances carry meaningful counters. */
  status: string;
  /** CPU time used since the instance started, nanoseconds. */
  cpuNs: number;
  memoryBytes: number;
  /** Root disk usage; null where the storage driver does not report it (dir without quotas). */
  diskBytes: number | null;
  /** Bytes received and sent over every NIC but loopback, since the instance started. */
  rxBytes: number;
  txBytes: number;
}

/** What the metrics sampler asks of a node: the counters of all its instances in one round trip. */
export interface MetricsNodes {
  sample(node: Node): Promise<InstanceCounters[]>;
}

const counterSchema = z.object({ bytes_received: z.number().default(0), bytes_sent: z.number().default(0) }).partial();
const stateSchema = z.object({
  cpu: z.object({ usage: z.number().default(0) }).nullable().default(null),
  memory: z.object({ usage: z.number().default(0) }).nullable().default(null),
  disk: z.record(z.string(), z.object({ usage: z.number().default(0) })).nullable().default({}),
  network: z
    .record(z.string(), z.object({ type: z.string().default(''), counters: counterSchema.nullable().default({}) }))
    .nullable()
    .default({}),
});
const listSchema = z
  .array(
    z.object({
      name: z.string().min(1),
      project: z.string().default('default'),
      status: z.string(),
      state: stateSchema.nullable().default(null),
    }),
  )
  .nullable();

/**
 * `GET /1.0/instances?recursion=2&all-projects=true`: every instance with its state in one
 * request per node (LXD 5.0.2; about 90 ms with `lxc query` for a few instances), instead of one
 * `/state` request per instance.
 */
export class LxdMetricsGateway implements MetricsNodes {
  constructor(private readonly lxd: Pick<LxdGateway, 'clientFor'>) {}

  async sample(node: Node): Promise<InstanceCounters[]> {
    const client = await this.lxd.clientFor(node);
    const { metadata } = await client.sync('GET', lxdPath`/1.0/instances`, { allProjects: true, query: { recursion: 2 } });
    const list = parseMetadata(listSchema, metadata, 'GET /1.0/instances?recursion=2') ?? [];
    return list.map((i) => {
      const nics = Object.values(i.state?.network ?? {}).filter((n) => n.type !== 'loopback');
      const root = i.state?.disk?.root;
      return {
        project: i.project,
        name: i.name,
        status: i.status,
        cpuNs: i.state?.cpu?.usage ?? 0,
        memoryBytes: i.state?.memory?.usage ?? 0,
        diskBytes: root ? root.usage : null,
        rxBytes: nics.reduce((sum, n) => sum + (n.counters?.bytes_received ?? 0), 0),
        txBytes: nics.reduce((sum, n) => sum + (n.counters?.bytes_sent ?? 0), 0),
      };
    });
  }
}

const samples = (gateway: NodeGateway): gateway is NodeGateway & { sampleMetrics: MetricsNodes['sample'] } =>
  typeof (gateway as { sampleMetrics?: unknown }).sampleMetrics === 'function';

/** The LXD implementation for the LXD gateway; a test gateway may bring its own `sampleMetrics`; otherwise nodes report nothing. */
export function metricsNodesFor(gateway: NodeGateway): MetricsNodes {
  if (gateway instanceof LxdGateway) return new LxdMetricsGateway(gateway);
  if (samples(gateway)) return { sample: (node) => gateway.sampleMetrics(node) };
  return { sample: async () => [] };
}
