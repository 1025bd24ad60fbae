import 'reflect-metadata';
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { MetricsTopics, type ContainerMetricsPayload } from '../server/metrics/metrics.topics';
import { createAccount, createProject, signInAsAdmin, signInAsNewUser } from '../test/support/factories';
import { FakeGateway } from '../test/support/fake-gateway';
import { startTestServer } from '../test/support/server';

/**
 * `npm run bench:subscribers`: how many graphql-ws subscribers one Corral process holds and what
 * each costs in memory (goal: 10,000 within 512 MB), and how long an event takes from publish to
 * subscriber with 1,000 of them (goal: p99 under 1 s). One Corral (SQLite, the in-memory node
 * gateway: no lab needed) runs in this process; the subscribers run in BENCH_CLIENT_PROCESSES
 * child processes (default 4) over loopback, so their memory is not counted. Every subscriber is
 * its own WebSocket connection, authenticated with a session cookie, subscribed to
 * `containerMetrics` of one container; events are samples published to the pubsub with the time
 * of publishing, so latency includes the per-event access check and the GraphQL execution.
 * BENCH_SUBSCRIBERS (default 10000) and BENCH_LATENCY_SUBSCRIBERS (default 1000) change the sizes.
 * Bounded: gives up after 170 s.
 */
const TOTAL = Number(process.env.BENCH_SUBSCRIBERS ?? 10_000);
const LATENCY_AT = Number(process.env.BENCH_LATENCY_SUBSCRIBERS ?? 1_000);
const CHILDREN = Number(process.env.BENCH_CLIENT_PROCESSES ?? 4);
const EVENTS = 20;
const PROBE = -1;
const TIMED = -2;
const MiB = 1024 * 1024;

type ToChild = { cmd: 'connect'; count: number; url: string; cookie: string; containerId: string } | { cmd: 'report' };
type ToParent = { type: 'progress'; open: number; attached: number; failed: number } | { type: 'latencies'; values: number[] };

const now = () => performance.timeOrigin + performance.now();

/** A child: holds `count` subscribers more each time it is told to, reports progress and latencies. */
function client() {
  let open = 0;
  let attached = 0;
  let failed = 0;
  const latencies: number[] = [];
  const send = (m: ToParent) => void (process.connected && process.send!(m));
  process.on('disconnect', () => process.exit(0));
  const report = setInterval(() => send({ type: 'progress', open, attached, failed }), 250);
  report.unref();
  process.on('message', async (m: ToChild) => {
    if (m.cmd === 'report') {
      send({ type: 'latencies', values: latencies.splice(0) });
      return;
    }
    const url = m.url.replace(/^http/, 'ws') + '/graphql';
    const cookie = m.cookie;
    class CookieSocket extends WebSocket {
      constructor(address: string, protocols?: string | string[]) {
        super(address, protocols, { headers: { cookie } });
      }
    }
    let next = 0;
    // At most 100 handshakes at a time per process.
    await Promise.all(
      Array.from({ length: 100 }, async () => {
        while (next < m.count) {
          next++;
          await new Promise<void>((resolve) => {
            let seen = false;
            const c = createClient({ url, webSocketImpl: CookieSocket, retryAttempts: 0, lazy: true, keepAlive: 0 });
            c.on('opened', () => {
              open++;
              resolve();
            });
            c.subscribe(
              { query: `subscription($id: ID!) { containerMetrics(containerId: $id) { at cpuPercent } }`, variables: { id: m.containerId } },
              {
                next: (value) => {
                  const sample = (value.data as { containerMetrics?: { at: string; cpuPercent: number } } | null)?.containerMetrics;
                  if (!sample) return;
                  if (!seen) {
                    seen = true;
                    attached++;
                  }
                  if (sample.cpuPercent === TIMED) latencies.push(now() - Date.parse(sample.at));
                },
                error: () => {
                  failed++;
                  resolve();
                },
                complete: () => undefined,
              },
            );
          });
        }
      }),
    );
  });
}

async function main() {
  const deadline = setTimeout(() => {
    console.error('bench:subscribers gave up after 170 s');
    process.exit(1);
  }, 170_000);

  const imageDir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-bench-images-'));
  fs.writeFileSync(path.join(imageDir, 'tiny.tar.gz'), 'stand-in image');
  const fake = new FakeGateway();
  const server = await startTestServer('sqlite', { CORRAL_IMAGE_DIR: imageDir, CORRAL_SESSION_IDLE_MINUTES: '60' }, { gateway: fake });
  await server.services.metricsSampler.stop();
  const children: ChildProcess[] = [];
  try {
    const admin = await signInAsAdmin(server.url);
    const imageId = (await admin.ok(`{ images { edges { node { id } } } }`)).images.edges[0].node.id;
    const clusterId = (await admin.ok(`mutation { createCluster(input: { name: "bench" }) { id } }`)).createCluster.id;
    await admin.ok(`mutation($c: ID!) { addNode(input: { clusterId: $c, name: "n1", url: "https://198.18.0.201:8443", secret: "fake-secret" }) { id } }`, { c: clusterId });
    const customer = await createAccount(admin, 'CUSTOMER');
    const owner = (await signInAsNewUser(admin, customer.id, 'CUSTOMER_OWNER')).caller;
    const projectId = (await createProject(owner, customer.id)).id;
    const created = (await owner.ok(`mutation($i: CreateContainerInput!) { createContainer(input: $i) { id operation { id } } }`, { i: { projectId, name: 'bench', imageId, cpu: 1, memoryMiB: 64, diskMiB: 128 } })).createContainer;
    await server.services.runner.settled(created.operation.id);
    const containerId = created.id as string;

    const progress = new Map<ChildProcess, { open: number; attached: number; failed: number }>();
    let latencies: number[] = [];
    let waitingReports = 0;
    for (let i = 0; i < CHILDREN; i++) {
      const child = fork(__filename, ['--client'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] });
      child.on('message', (m: ToParent) => {
        if (m.type === 'progress') progress.set(child, m);
        else {
          latencies.push(...m.values);
          waitingReports--;
        }
      });
      children.push(child);
    }
    const sum = (k: 'open' | 'attached' | 'failed') => [...progress.values()].reduce((s, p) => s + p[k], 0);
    const publish = (cpuPercent: number) =>
      server.services.pubsub.publish(MetricsTopics.sampled, containerId, { containerId, at: now(), cpuPercent, memoryBytes: 1, diskBytes: null, rxBytesPerSecond: 0, txBytesPerSecond: 0 } satisfies ContainerMetricsPayload);
    /** After full collections and a second to settle (V8 gives pages back lazily). */
    const memory = async () => {
      global.gc?.();
      await new Promise((resolve) => setTimeout(resolve, 1000));
      global.gc?.();
      const m = process.memoryUsage();
      return { rss: m.rss, heap: m.heapUsed, heapTotal: m.heapTotal, external: m.external + m.arrayBuffers, peak: process.resourceUsage().maxRSS * 1024 };
    };
    /** Grows to `target` subscribers; probes until every one of them has received an event. */
    const grow = async (target: number) => {
      const started = performance.now();
      const more = target - sum('attached');
      children.forEach((child, i) => child.send({ cmd: 'connect', count: Math.floor(more / CHILDREN) + (i < more % CHILDREN ? 1 : 0), url: server.url, cookie: owner.cookie!, containerId } satisfies ToChild));
      // Probes only once every connection is open: each one goes to every subscriber.
      let lastLog = performance.now();
      while (sum('attached') < target) {
        if (sum('failed') > 0) throw new Error(`${sum('failed')} subscriptions failed`);
        if (sum('open') >= target) publish(PROBE);
        await new Promise((resolve) => setTimeout(resolve, sum('open') >= target ? 2000 : 250));
        if (performance.now() - lastLog > 10_000) {
          lastLog = performance.now();
          console.log(`#   ${sum('open')} open, ${sum('attached')} attached after ${((performance.now() - started) / 1000).toFixed(0)} s`);
        }
      }
      return performance.now() - started;
    };
    const measureLatency = async (events: number) => {
      latencies = [];
      for (let i = 0; i < events; i++) {
        publish(TIMED);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
      waitingReports = children.length;
      for (const child of children) child.send({ cmd: 'report' } satisfies ToChild);
      while (waitingReports > 0) await new Promise((resolve) => setTimeout(resolve, 20));
      const sorted = [...latencies].sort((a, b) => a - b);
      const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
      return { delivered: sorted.length, expected: events * sum('attached'), p50: pct(50), p99: pct(99), max: sorted.at(-1) ?? NaN };
    };

    const base = await memory();
    const rows: string[] = [];
    const memoryRow = (n: number, m: Awaited<ReturnType<typeof memory>>, ms: number) =>
      `${String(n).padStart(6)} subscribers held (${(ms / 1000).toFixed(1)} s to connect and attach): RSS ${(m.rss / MiB).toFixed(0)} MiB, heap ${(m.heap / MiB).toFixed(0)} MiB used of ${(m.heapTotal / MiB).toFixed(0)}, external ${(m.external / MiB).toFixed(0)} MiB, peak RSS so far ${(m.peak / MiB).toFixed(0)} MiB; per subscriber RSS ${((m.rss - base.rss) / n / 1024).toFixed(1)} KiB, heap ${((m.heap - base.heap) / n / 1024).toFixed(1)} KiB`;
    const latencyRow = (n: number, events: number, l: Awaited<ReturnType<typeof measureLatency>>) =>
      `${String(n).padStart(6)} subscribers, ${events} events: delivered ${l.delivered}/${l.expected}; latency p50 ${l.p50.toFixed(1)} ms, p99 ${l.p99.toFixed(1)} ms, max ${l.max.toFixed(1)} ms`;

    console.log(`# baseline (Corral idle, no subscriber): RSS ${(base.rss / MiB).toFixed(0)} MiB, heap ${(base.heap / MiB).toFixed(0)} MiB`);
    const t1 = await grow(LATENCY_AT);
    rows.push(memoryRow(LATENCY_AT, await memory(), t1));
    console.log(`# ${rows.at(-1)}`);
    if (process.env.BENCH_HEAP_SNAPSHOT) console.log(`# heap snapshot: ${v8.writeHeapSnapshot(process.env.BENCH_HEAP_SNAPSHOT)}`);
    rows.push(latencyRow(LATENCY_AT, EVENTS, await measureLatency(EVENTS)));
    console.log(`# ${rows.at(-1)}`);
    const t2 = await grow(TOTAL);
    const full = await memory();
    rows.push(memoryRow(TOTAL, full, t2));
    console.log(`# ${rows.at(-1)}`);
    rows.push(latencyRow(TOTAL, 5, await measureLatency(5)));
    console.log(`# ${rows.at(-1)}`);

    console.log('\nbench:subscribers (one Corral process, containerMetrics over graphql-ws, loopback)');
    for (const row of rows) console.log(row);
    console.log(`goal 10,000 within 512 MB: ${sum('attached') >= 10_000 && full.rss <= 512 * MiB ? 'met' : 'NOT met'} (${sum('attached')} held, RSS ${(full.rss / MiB).toFixed(0)} MiB settled; peak RSS of the whole run ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB)`);
  } finally {
    for (const child of children) child.kill();
    await server.stop();
    clearTimeout(deadline);
  }
}

if (process.argv.includes('--client')) client();
else
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
