import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../../server/app/config';
import { createLogger } from '../../server/app/logger';
import { ContainerMetric, ROLLUP_SECONDS } from '../../server/metrics/container-metric.entity';
import { metricsNodesFor } from '../../server/metrics/metrics.gateway';
import { MetricsSampler } from '../../server/metrics/metrics.sampler';
import { MetricsTopics } from '../../server/metrics/metrics.topics';
import { lxdProjectOf } from '../../server/nodes/node-gateway';
import { Caller, codeOf } from '../support/client';
import { twoTenants } from '../support/factories';
import { FakeGateway } from '../support/fake-gateway';
import { metricsSubscriber } from '../support/metrics-subscriber';
import { forEachDatabase, startTestServer, type TestServer } from '../support/server';

const R = ROLLUP_SECONDS * 1000;
const HISTORY = `query($id: ID!, $from: DateTimeISO!, $to: DateTimeISO!, $step: Int!) {
  containerMetricsHistory(id: $id, from: $from, to: $to, step: $step) { containerId at cpuPercent memoryBytes diskBytes rxBytesPerSecond txBytesPerSecond }
}`;

/**
 * Metrics sampling, history and the containerMetrics subscription, with LXD replaced by the
 * in-memory fake (its counters are set by the test) and the sampler driven by a test clock (its
 * own timer is stopped). The real node's numbers are in test/e2e/metrics.test.ts.
 */
forEachDatabase((TEST_DB) => {
  describe(`container metrics (${TEST_DB})`, () => {
    let server: TestServer;
    let fake: FakeGateway;
    let t: Awaited<ReturnType<typeof twoTenants>>;
    let nodeId: string;
    let imageId: string;
    /** The test clock: starts on a rollup window boundary, only moves forward. */
    let clock = Math.floor(Date.now() / R) * R + R;

    before(async () => {
      const imageDir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-images-'));
      fs.writeFileSync(path.join(imageDir, 'tiny.tar.gz'), 'stand-in image');
      fake = new FakeGateway();
      server = await startTestServer(TEST_DB, { CORRAL_IMAGE_DIR: imageDir }, { gateway: fake });
      await server.services.metricsSampler.stop();
      t = await twoTenants(server.url);
      imageId = (await t.admin.ok(`{ images { edges { node { id } } } }`)).images.edges[0].node.id;
      const clusterId = (await t.admin.ok(`mutation { createCluster(input: { name: "main" }) { id } }`)).createCluster.id;
      nodeId = (await t.admin.ok(`mutation($c: ID!) { addNode(input: { clusterId: $c, name: "n1", url: "https://198.18.0.201:8443", secret: "fake-secret" }) { id } }`, { c: clusterId })).addNode.id;
    });
    after(() => server.stop());

    let n = 0;
    /** A running container of tenant A and its fake counters. */
    const running = async () => {
      const name = `m${n++}`;
      const created = (await t.ownerA.caller.ok(`mutation($i: CreateContainerInput!) { createContainer(input: $i) { id operation { id } } }`, { i: { projectId: t.projectA.id, name, imageId, cpu: 1, memoryMiB: 128, diskMiB: 256 } })).createContainer;
      await server.services.runner.settled(created.operation.id);
      const counters = { cpuNs: 0, memoryBytes: 64 * 1024 * 1024, diskBytes: 1_000_000 as number | null, rxBytes: 0, txBytes: 0 };
      fake.counters.set(`${nodeId}/${lxdProjectOf(t.projectA.id)}/${name}`, counters);
      return { id: created.id as string, name, counters };
    };
    type Counters = Awaited<ReturnType<typeof running>>['counters'];
    /** Moves the clock by `ms` while the container uses `cpuPercent` of a CPU and moves `rxPerSecond`/`txPerSecond`, then runs one sampler pass. */
    const advance = async (ms: number, load: [Counters, number, number?, number?][] = []) => {
      clock += ms;
      for (const [c, cpuPercent, rxPerSecond = 0, txPerSecond = 0] of load) {
        c.cpuNs += Math.round((cpuPercent / 100) * ms * 1e6);
        c.rxBytes += Math.round((rxPerSecond * ms) / 1000);
        c.txBytes += Math.round((txPerSecond * ms) / 1000);
      }
      await server.services.metricsSampler.tick(clock);
    };
    const history = (caller: Caller, id: string, from: number, to: number, step: number) => caller.gql(HISTORY, { id, from: new Date(from).toISOString(), to: new Date(to).toISOString(), step });
    const rows = async (containerId: string, step: number) => (await server.db.manager.findBy(ContainerMetric, { containerId, step })).length;

    test('a subscriber gets CPU percent and network rates computed from the deltas, and each node is sampled once per pass however many subscribe', async () => {
      const a = await running();
      const b = await running();
      const subs = [metricsSubscriber(t.ownerA.caller.ws(), a.id), metricsSubscriber(t.resellerAdminA.caller.ws(), a.id), metricsSubscriber(t.ownerA.caller.ws(), b.id)];
      try {
        for (const sub of subs) await sub.attached(server.services.pubsub);
        const before = fake.sampledNodes.length;
        await advance(5000, [[a.counters, 50, 1000, 250], [b.counters, 10]]);
        // First sight of a container only sets its baseline.
        assert.equal(subs[0]!.events.length, 0);
        await advance(5000, [[a.counters, 50, 1000, 250], [b.counters, 10]]);
        await advance(5000, [[a.counters, 120, 0, 0], [b.counters, 10]]);
        assert.equal(fake.sampledNodes.length - before, 3, 'one request per node per pass');
        const [first, second] = [await subs[0]!.nth(1), await subs[0]!.nth(2)];
        assert.deepEqual(
          { cpu: first.cpuPercent, rx: first.rxBytesPerSecond, tx: first.txBytesPerSecond, mem: Number(first.memoryBytes), disk: Number(first.diskBytes), id: first.containerId },
          { cpu: 50, rx: 1000, tx: 250, mem: 64 * 1024 * 1024, disk: 1_000_000, id: a.id },
        );
        assert.equal(new Date(first.at).getTime(), clock - 5000);
        assert.equal(second.cpuPercent, 120, 'percent of one CPU: above 100 with more than one busy');
        assert.deepEqual((await subs[1]!.nth(2)).cpuPercent, 120, 'the reseller above sees the same samples');
        assert.equal((await subs[2]!.nth(1)).cpuPercent, 10);
        assert.ok(subs[2]!.events.every((e) => e.containerId === b.id), 'a subscriber only gets its own container');
        assert.ok(subs[0]!.events.every((e) => e.containerId === a.id));
      } finally {
        for (const sub of subs) sub.dispose();
      }
    });

    test('a counter that goes back (a restart) and a stopped container give no sample', async () => {
      const c = await running();
      const sub = metricsSubscriber(t.ownerA.caller.ws(), c.id);
      try {
        await sub.attached(server.services.pubsub);
        await advance(5000, [[c.counters, 20]]);
        await advance(5000, [[c.counters, 20]]);
        await sub.nth(1);
        c.counters.cpuNs = 1000;
        await advance(5000);
        await advance(5000, [[c.counters, 30]]);
        const third = await sub.nth(2);
        assert.equal(third.cpuPercent, 30, 'the reset only set a new baseline');
        assert.equal(sub.events.length, 2);
        const stopped = (await t.ownerA.caller.ok(`mutation($id: ID!) { stopContainer(id: $id) { operation { id } } }`, { id: c.id })).stopContainer;
        await server.services.runner.settled(stopped.operation.id);
        await advance(5000, [[c.counters, 30]]);
        await advance(5000, [[c.counters, 30]]);
        assert.equal(sub.events.length, 2);
      } finally {
        sub.dispose();
      }
    });

    test('history averages samples per step; finished windows are rolled up, old raw samples and old rollups are pruned', async () => {
      const c = await running();
      // Line the clock up on a window boundary, with a baseline taken just before it.
      clock = Math.ceil(clock / R) * R - 5000;
      await advance(5000);
      const start = clock;
      for (const cpu of [10, 20, 30, 40]) await advance(60_000, [[c.counters, cpu, 100]]);
      await advance(R - 4 * 60_000 + 1000, [[c.counters, 50, 100]]); // first sample of the next window: rolls the first one up
      const raw = await history(t.ownerA.caller, c.id, start, start + 2 * R, 60);
      assert.equal(raw.errors, undefined, JSON.stringify(raw.errors));
      assert.deepEqual(raw.data!.containerMetricsHistory.map((p: any) => p.cpuPercent), [10, 20, 30, 40, 50]);
      const rollup = await server.db.manager.findOneByOrFail(ContainerMetric, { containerId: c.id, step: ROLLUP_SECONDS, at: start });
      assert.deepEqual([rollup.cpuPercent, rollup.samples, rollup.rxBytesPerSecond], [25, 4, 100]);
      const coarse = (await history(t.ownerA.caller, c.id, start, start + 2 * R, ROLLUP_SECONDS)).data!.containerMetricsHistory;
      assert.deepEqual(coarse.map((p: any) => [new Date(p.at).getTime() - start, p.cpuPercent]), [[0, 25], [R, 50]]);
      assert.equal(Number(coarse[0].memoryBytes), 64 * 1024 * 1024);

      // An hour and more later (CORRAL_METRICS_RAW_HOURS=1): the raw samples are gone, their averages answer instead.
      await advance(3_600_000 + R, [[c.counters, 70]]);
      assert.equal(await server.db.manager.countBy(ContainerMetric, { containerId: c.id, step: 0, at: start }), 0);
      const later = (await history(t.ownerA.caller, c.id, start, start + 2 * R, ROLLUP_SECONDS)).data!.containerMetricsHistory;
      assert.deepEqual(later.map((p: any) => p.cpuPercent), [25, 50]);
      assert.ok((await rows(c.id, 0)) <= 2, 'only the raw samples of the last hour stay');

      // 30 days on (CORRAL_METRICS_DAYS=30), the rollups of that day go too.
      await advance(30 * 86_400_000, [[c.counters, 70]]);
      assert.deepEqual((await history(t.ownerA.caller, c.id, start, start + 2 * R, ROLLUP_SECONDS)).data!.containerMetricsHistory, []);
      assert.ok((await rows(c.id, ROLLUP_SECONDS)) <= 1);
    });

    if (TEST_DB === 'postgres') {
      test('two replicas sampling the same interval store it once and only the one that stored it publishes', async () => {
        const c = await running();
        const mine = server.services.metricsSampler;
        const other = new MetricsSampler(server.db, metricsNodesFor(fake), server.services.pubsub, createLogger(loadConfig({ LOG_LEVEL: 'silent' })), mine.settings);
        const sub = metricsSubscriber(t.ownerA.caller.ws(), c.id);
        try {
          await sub.attached(server.services.pubsub);
          for (let i = 0; i < 3; i++) {
            clock += 5000;
            c.counters.cpuNs += 0.4 * 5000 * 1e6;
            await Promise.all([mine.tick(clock), other.tick(clock)]);
          }
          await sub.nth(2);
          await new Promise((resolve) => setTimeout(resolve, 300));
          assert.deepEqual(sub.events.map((e) => e.cpuPercent), [40, 40]);
          assert.equal(await rows(c.id, 0), 2);
        } finally {
          sub.dispose();
        }
      });
    }

    test('bad ranges and steps are refused with BAD_USER_INPUT', async () => {
      const c = await running();
      const now = Date.now();
      for (const [from, to, step] of [
        [now, now, 60],
        [now, now - 1000, 60],
        [now - 3_600_000, now, 0],
        [now - 3_600_000, now, 86_401],
        [now - 30 * 86_400_000, now, 60],
      ] as const) {
        const res = await history(t.ownerA.caller, c.id, from, to, step);
        assert.equal(codeOf(res), 'BAD_USER_INPUT', `${from} ${to} ${step}: ${JSON.stringify(res.errors)}`);
      }
      assert.equal(codeOf(await t.ownerA.caller.gql(HISTORY, { id: c.id, from: 'yesterday', to: new Date().toISOString(), step: 60 })), 'BAD_USER_INPUT');
    });

    test('another tenant gets NOT_FOUND for history and subscription; a subscriber stops getting samples once the container is gone', async () => {
      const c = await running();
      const now = Date.now();
      for (const caller of [t.memberB.caller, t.resellerAdminB.caller]) {
        assert.equal(codeOf(await history(caller, c.id, now - 3_600_000, now, 60)), 'NOT_FOUND');
        const sub = metricsSubscriber(caller.ws(), c.id);
        try {
          assert.deepEqual(await sub.refusal(), { code: 'NOT_FOUND' });
        } finally {
          sub.dispose();
        }
      }
      const anonymous = metricsSubscriber(new Caller(server.url).ws(), c.id);
      try {
        assert.deepEqual(await anonymous.refusal(), { closeCode: 4403 });
      } finally {
        anonymous.dispose();
      }
      assert.equal(codeOf(await history(t.memberB.caller, 'not-an-id', now - 3_600_000, now, 60)), 'NOT_FOUND');

      await advance(5000, [[c.counters, 5]]);
      await advance(5000, [[c.counters, 5]]);
      assert.equal(await rows(c.id, 0), 1);
      // Access is checked again for every sample: once the container is deleted, nothing more comes through.
      const sub = metricsSubscriber(t.ownerA.caller.ws(), c.id);
      try {
        await sub.attached(server.services.pubsub);
        const sample = { containerId: c.id, at: Date.now(), cpuPercent: 5, memoryBytes: 1, diskBytes: null, rxBytesPerSecond: 0, txBytesPerSecond: 0 };
        server.services.pubsub.publish(MetricsTopics.sampled, c.id, sample);
        await sub.nth(1);
        const deleted = (await t.ownerA.caller.ok(`mutation($id: ID!) { deleteContainer(id: $id) { operation { id } } }`, { id: c.id })).deleteContainer;
        await server.services.runner.settled(deleted.operation.id);
        server.services.pubsub.publish(MetricsTopics.sampled, c.id, { ...sample, cpuPercent: 6 });
        await new Promise((resolve) => setTimeout(resolve, 300));
        assert.deepEqual(sub.events.map((e) => e.cpuPercent), [5]);
        assert.equal(await rows(c.id, 0), 0, 'its history went with it');
      } finally {
        sub.dispose();
      }
    });
  });
});
