import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ConsoleStream } from '../../server/containers/console.gateway';
import { generateLicenceKeyPair, issueLicence } from '../../server/licences/licence-document';
import type { Node } from '../../server/nodes/node.entity';
import { Caller } from '../support/client';
import { openConsole } from '../support/console';
import { PASSWORD, twoTenants } from '../support/factories';
import { FakeGateway } from '../support/fake-gateway';
import { eventually } from '../support/lab';
import { forEachDatabase, startTestServer, type TestServer } from '../support/server';
import { firstOutcome } from '../support/subscriptions';

/** A console stream that echoes what is typed, as `echo:<input>`, and records everything done to it. */
class FakeConsole implements ConsoleStream {
  readonly writes: string[] = [];
  readonly resizes: [number, number][] = [];
  terminated = false;
  readonly ended: Promise<number | null>;
  private listener: ((data: Buffer) => void) | null = null;
  private resolveEnded!: (code: number | null) => void;
  constructor(readonly size: { cols: number; rows: number }) {
    this.ended = new Promise((resolve) => (this.resolveEnded = resolve));
  }
  onOutput(listener: (data: Buffer) => void) {
    this.listener = listener;
  }
  write(data: Buffer) {
    this.writes.push(data.toString('utf8'));
    this.listener?.(Buffer.from(`echo:${data.toString('utf8')}`));
  }
  resize(cols: number, rows: number) {
    this.resizes.push([cols, rows]);
  }
  exit(code: number) {
    this.resolveEnded(code);
  }
  async terminate() {
    this.terminated = true;
    this.resolveEnded(null);
    return this.ended;
  }
}

class ConsoleFakeGateway extends FakeGateway {
  readonly consoles: FakeConsole[] = [];
  failNext: Error | null = null;
  async openConsole(node: Node, project: string, name: string, size: { cols: number; rows: number }): Promise<ConsoleStream> {
    if (this.failNext) {
      const error = this.failNext;
      this.failNext = null;
      throw error;
    }
    assert.equal(await this.instanceStatus(node, project, name), 'Running');
    const console_ = new FakeConsole(size);
    this.consoles.push(console_);
    return console_;
  }
}

/** The console endpoint's checks, protocol and bounds, against the fake gateway. */
forEachDatabase((TEST_DB) => {
  describe(`container console (${TEST_DB})`, () => {
    let server: TestServer;
    let fake: ConsoleFakeGateway;
    let f: Awaited<ReturnType<typeof twoTenants>>;
    let containerId: string;
    let stoppedId: string;
    const keys = generateLicenceKeyPair();

    before(async () => {
      const imageDir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-images-'));
      fs.writeFileSync(path.join(imageDir, 'tiny.tar.gz'), 'stand-in image');
      fake = new ConsoleFakeGateway();
      server = await startTestServer(TEST_DB, { CORRAL_IMAGE_DIR: imageDir, CORRAL_LICENCE_PUBLIC_KEY: keys.publicKey, CORRAL_CONSOLE_IDLE_SECONDS: '2', CORRAL_CONSOLE_RECHECK_SECONDS: '1' }, { gateway: fake });
      f = await twoTenants(server.url);
      await f.admin.ok(`mutation($l: String!) { installLicence(licence: $l) { licensee } }`, {
        l: issueLicence({ licensee: 'Console', maxNodes: 10, maxContainers: 50, expiresAt: '2099-01-01T00:00:00Z' }, keys.privateKey),
      });
      const clusterId = (await f.admin.ok(`mutation { createCluster(input: { name: "lab" }) { id } }`)).createCluster.id;
      await f.admin.ok(`mutation($c: ID!) { addNode(input: { clusterId: $c, name: "n1", url: "https://198.18.0.201:8443", secret: "fake-secret" }) { id } }`, { c: clusterId });
      const imageId = (await f.admin.ok(`{ images { edges { node { id name } } } }`)).images.edges.find((e: any) => e.node.name === 'tiny').node.id;
      const create = async (name: string) => {
        const created = (await f.ownerA.caller.ok(`mutation($i: CreateContainerInput!) { createContainer(input: $i) { id operation { id } } }`, {
          i: { projectId: f.projectA.id, name, imageId, cpu: 1, memoryMiB: 64, diskMiB: 128 },
        })).createContainer;
        await server.services.runner.settled(created.operation.id);
        return created.id as string;
      };
      containerId = await create('console');
      stoppedId = await create('console-off');
      const stop = (await f.ownerA.caller.ok(`mutation($id: ID!) { stopContainer(id: $id) { operation { id } } }`, { id: stoppedId })).stopContainer;
      await server.services.runner.settled(stop.operation.id);
    });
    after(() => server.stop());

    const audit = async (action: string) =>
      (await f.admin.ok(`query($a: String) { auditEvents(action: $a, first: 100) { edges { node { outcome errorCode targetId requestId details actorEmail } } } }`, { a: action })).auditEvents.edges.map((e: any) => e.node);

    test('keystrokes reach the shell, its output comes back, resize is passed on, and closing ends it with an audited duration', async () => {
      const before = fake.consoles.length;
      const c = openConsole(server.url, f.ownerA.caller, containerId, { cols: 120, rows: 40 });
      await c.ready;
      const stream = fake.consoles[before]!;
      assert.deepEqual(stream.size, { cols: 120, rows: 40 });
      c.type('ls\r');
      await c.waitFor(/echo:ls\r/);
      c.resize(100, 30);
      await eventually('the resize', async () => stream.resizes.length === 1, 5000);
      assert.deepEqual(stream.resizes, [[100, 30]]);
      c.ws.close();
      await c.closed;
      await eventually('the shell to be terminated', async () => stream.terminated, 5000);
      const close = await eventually('the close event', async () => (await audit('container.console.close')).find((e: any) => e.details?.reason === 'CLIENT_CLOSED'));
      assert.equal(close.targetId, containerId);
      assert.equal(close.outcome, 'SUCCESS');
      assert.ok(typeof close.details.durationMs === 'number' && close.details.durationMs >= 0);
      const open = (await audit('container.console.open')).find((e: any) => e.requestId === close.requestId);
      assert.equal(open?.outcome, 'SUCCESS');
      assert.equal(server.services.consoles.constructor.name, 'ConsoleService');
    });

    test('bad control messages are answered with BAD_USER_INPUT and change nothing; the console stays open', async () => {
      const before = fake.consoles.length;
      const c = openConsole(server.url, f.ownerA.caller, containerId);
      await c.ready;
      const stream = fake.consoles[before]!;
      for (const bad of ['not json', '{"type":"reboot"}', '{"type":"resize","cols":0,"rows":24}', '{"type":"resize","cols":80,"rows":100000}', '{"type":"resize","cols":"80x","rows":24}']) {
        const seen = c.messages.length;
        c.ws.send(bad);
        await eventually(`an answer to ${bad}`, async () => c.messages.length > seen, 5000);
        assert.equal(c.messages.at(-1)?.code, 'BAD_USER_INPUT', bad);
      }
      assert.deepEqual(stream.resizes, []);
      assert.equal(stream.terminated, false);
      c.type('still here');
      await c.waitFor(/echo:still here/);
      c.ws.close();
      await c.closed;
    });

    test('refusals close with a typed code before the node is asked: anonymous, other tenant, missing permission, bad size, not running, cross-site cookie', async () => {
      const before = fake.consoles.length;
      const noWrite = new Caller(server.url, f.tokenA.token);
      const cases: [Caller | null, string, { query?: string; origin?: string; rawId?: boolean }, number, string][] = [
        [null, containerId, {}, 4401, 'UNAUTHENTICATED'],
        [new Caller(server.url, 'corral_not-a-real-token'), containerId, {}, 4401, 'UNAUTHENTICATED'],
        [f.memberB.caller, containerId, {}, 4403, 'FORBIDDEN'],
        [f.resellerAdminB.caller, containerId, {}, 4404, 'NOT_FOUND'],
        [f.resellerAdminB.caller, 'not-an-id', {}, 4404, 'NOT_FOUND'],
        [noWrite, containerId, {}, 4403, 'FORBIDDEN'],
        [f.ownerA.caller, containerId, { query: 'cols=0&rows=24' }, 4400, 'BAD_USER_INPUT'],
        [f.ownerA.caller, containerId, { query: 'cols=80&rows=abc' }, 4400, 'BAD_USER_INPUT'],
        [f.ownerA.caller, stoppedId, {}, 4409, 'CONTAINER_NOT_RUNNING'],
        [f.ownerA.caller, containerId, { origin: 'https://evil.example' }, 4403, 'FORBIDDEN'],
        [f.ownerA.caller, containerId, { origin: 'null' }, 4403, 'FORBIDDEN'],
        [f.ownerA.caller, '%E0%A4%A', { rawId: true }, 4404, 'NOT_FOUND'],
      ];
      for (const [caller, id, options, code, reason] of cases) {
        const c = openConsole(server.url, caller, id, options);
        await assert.rejects(c.ready);
        assert.deepEqual(await c.closed, { code, reason }, `${reason} ${JSON.stringify(options)}: ${JSON.stringify(c.messages)}`);
        assert.equal(c.messages[0]?.code, reason);
      }
      assert.equal(fake.consoles.length, before, 'no console was opened on the node');
      // The tenant's own trail shows the refused open of its stopped container; the probe from tenant B is filed under B.
      const opens = await audit('container.console.open');
      assert.ok(opens.some((e: any) => e.targetId === stoppedId && e.outcome === 'FAILURE' && e.errorCode === 'CONTAINER_NOT_RUNNING'));
      const ownerView = (await f.ownerA.caller.ok(`{ auditEvents(action: "container.console.open", first: 100) { edges { node { errorCode actorEmail } } } }`)).auditEvents.edges.map((e: any) => e.node);
      assert.ok(!ownerView.some((e: any) => e.actorEmail === f.resellerAdminB.user.email), 'tenant A does not see B probing');
      const bView = (await f.resellerAdminB.caller.ok(`{ auditEvents(action: "container.console.open", first: 100) { edges { node { errorCode targetId } } } }`)).auditEvents.edges.map((e: any) => e.node);
      assert.ok(bView.some((e: any) => e.errorCode === 'NOT_FOUND' && e.targetId === containerId), 'the probe is in the prober\'s own trail');
    });

    test('a node failure while starting the shell closes with NODE_UNAVAILABLE and is audited', async () => {
      fake.failNext = Object.assign(new Error('connect ECONNREFUSED'), { name: 'LxdUnavailableError' });
      const c = openConsole(server.url, f.ownerA.caller, containerId);
      await assert.rejects(c.ready);
      assert.deepEqual(await c.closed, { code: 4503, reason: 'NODE_UNAVAILABLE' });
      const close = await eventually('the failed close', async () => (await audit('container.console.close')).find((e: any) => e.details?.reason === 'NODE_FAILED'));
      assert.deepEqual([close.outcome, close.errorCode], ['FAILURE', 'NODE_UNAVAILABLE']);
    });

    test('the shell ending closes the console with its exit code; an idle console is closed and its shell ended', async () => {
      let before = fake.consoles.length;
      const c = openConsole(server.url, f.ownerA.caller, containerId);
      await c.ready;
      fake.consoles[before]!.exit(7);
      assert.deepEqual(await c.closed, { code: 1000, reason: 'EXITED' });
      assert.deepEqual(c.messages.at(-1), { type: 'exit', exitCode: 7 });

      before = fake.consoles.length;
      const idle = openConsole(server.url, f.ownerA.caller, containerId);
      await idle.ready;
      const started = Date.now();
      assert.deepEqual(await idle.closed, { code: 4408, reason: 'IDLE_TIMEOUT' });
      assert.ok(Date.now() - started >= 1900, 'not before the idle timeout');
      assert.equal(fake.consoles[before]!.terminated, true);
      await eventually('the idle close event', async () => (await audit('container.console.close')).find((e: any) => e.details?.reason === 'IDLE_TIMEOUT'));
    });

    test('signing out ends a console opened with that session; a console survives its own keepalive checks', async () => {
      const before = fake.consoles.length;
      const session = await new Caller(server.url).login(f.ownerA.user.email, PASSWORD);
      const c = openConsole(server.url, session, containerId);
      await c.ready;
      // Kept busy past several rechecks (1 s each) and under the idle timeout (2 s): still open.
      for (let i = 0; i < 4; i++) {
        c.type(`tick ${i}`);
        await c.waitFor(new RegExp(`echo:tick ${i}`));
        await new Promise((resolve) => setTimeout(resolve, 600));
      }
      assert.equal(c.ws.readyState, c.ws.OPEN);
      await session.ok(`mutation { logout }`);
      assert.deepEqual(await c.closed, { code: 4401, reason: 'SIGNED_OUT' });
      assert.equal(fake.consoles[before]!.terminated, true);
    });

    test('other upgrade paths are refused; /graphql subscriptions still share the port', async () => {
      const status = await new Promise<number>((resolve, reject) => {
        const req = http.request(`${server.url}/elsewhere`, { headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' } });
        req.on('response', (res) => resolve(res.statusCode ?? 0));
        req.on('upgrade', () => reject(new Error('upgraded')));
        req.on('error', reject);
        req.end();
      });
      assert.equal(status, 404);
      // graphql-ws still answers on /graphql (an operation over the socket, authenticated by the cookie).
      const outcome = await firstOutcome(f.ownerA.caller.ws(), { query: `{ me { email } }` });
      assert.equal(outcome.data?.me.email, f.ownerA.user.email, JSON.stringify(outcome));
    });

    // Last: it stops the server.
    test('shutting Corral down ends open consoles, their shells, and records their close first', async () => {
      const before = fake.consoles.length;
      const c = openConsole(server.url, f.ownerA.caller, containerId);
      await c.ready;
      const recorded: string[] = [];
      const consoles = server.services.consoles;
      const closed = consoles.closed.bind(consoles);
      consoles.closed = async (actor, target, session) => {
        await closed(actor, target, session);
        recorded.push(session.reason);
      };
      await server.close();
      assert.deepEqual(await c.closed, { code: 1001, reason: 'SERVER_SHUTDOWN' });
      assert.equal(fake.consoles[before]!.terminated, true);
      assert.deepEqual(recorded, ['SERVER_SHUTDOWN'], 'the close was written before the database closed');
    });
  });
});
