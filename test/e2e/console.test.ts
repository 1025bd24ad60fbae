import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Caller } from '../support/client';
import { openConsole } from '../support/console';
import { createAccount, signInAsNewUser, unique } from '../support/factories';
import { labStatus } from '../lab/lab';
import { eventually, lxc, settledContainer, type LabNode } from '../support/lab';
import { startLabCorral, type LabCorral } from '../support/lab-corral';

const CONTAINER = `id name status operation { id action state errorCode errorMessage }`;

/** The browser console against real LXD nodes: a real WebSocket client, a real shell in busybox. */
describe('container console on real LXD nodes', () => {
  let lab: LabCorral;
  let owner: Caller;
  let running: { id: string; name: string; node: LabNode };
  let stopped: { id: string };

  const create = async (name: string, image = 'busybox', memoryMiB = 64, diskMiB = 256) => {
    const res = await owner.gql(`mutation($i: CreateContainerInput!) { createContainer(input: $i) { ${CONTAINER} } }`, {
      i: { projectId: lab.projectId, name, imageId: lab.imageIds[image], cpu: 1, memoryMiB, diskMiB },
    });
    const read = async (id: string) => (await lab.admin.ok(`query($id: ID!) { container(id: $id) { ${CONTAINER} node { name } } }`, { id })).container;
    const done = await settledContainer(read, res, 240_000);
    assert.equal(done.status, 'RUNNING', JSON.stringify(done.operation));
    return { id: done.id as string, name, node: lab.nodes.find((n) => n.name === done.node.name)! };
  };

  before(async () => {
    const debian = (await labStatus()).images.debian;
    if (!debian) throw new Error('the console tests need the lab\'s Debian 12 image: run "npm run lab -- up" and "npm run lab -- image debian" (as root)');
    lab = await startLabCorral({ images: { debian12: debian } });
    owner = lab.owner;
    running = await create(unique('con'));
    const off = await create(unique('con-off'));
    const read = async (id: string) => (await lab.admin.ok(`query($id: ID!) { container(id: $id) { ${CONTAINER} } }`, { id })).container;
    const done = await settledContainer(read, await owner.gql(`mutation($id: ID!) { stopContainer(id: $id) { ${CONTAINER} } }`, { id: off.id }));
    assert.equal(done.status, 'STOPPED');
    stopped = { id: off.id };
  });
  after(() => lab?.stop());

  const inContainer = (script: string) => lxc(running.node, 'exec', '--project', lab.lxdProject, running.name, '--', 'sh', '-c', script);
  const runningExecs = async () => {
    const ops = JSON.parse(await lxc(running.node, 'query', `/1.0/operations?project=${lab.lxdProject}&recursion=1`)) as { running?: { class: string; description: string }[] | null };
    return (ops.running ?? []).filter((o) => o.class === 'websocket');
  };
  const auditOf = async (action: string) =>
    (await owner.ok(`query($a: String) { auditEvents(action: $a, first: 50) { edges { node { action outcome errorCode targetId requestId details } } } }`, { a: action })).auditEvents.edges.map((e: any) => e.node);

  test('the owner types into a shell in the container and reads the answer; resize reaches the pty; closing the socket ends the shell on the node', async () => {
    const marker = randomBytes(6).toString('hex');
    const console_ = openConsole(lab.server.url, owner, running.id, { cols: 80, rows: 24 });
    await console_.ready;

    // The shell really runs in the container: what it writes there is visible with lxc.
    console_.type(`echo "hello-""${marker}"; echo "${marker}" > /tmp/console-proof\r`);
    await console_.waitFor(new RegExp(`hello-${marker}`));
    assert.equal((await eventually('the proof file', async () => (await inContainer('cat /tmp/console-proof 2>/dev/null')).trim())), marker);

    console_.type('stty size\r');
    await console_.waitFor(/\b24 80\b/);
    const mark = console_.output().length;
    console_.resize(100, 30);
    // The resize is a separate channel; wait for it to land before asking again.
    await eventually('stty size to answer 30 100', async () => {
      const from = console_.output().length;
      console_.type('stty size\r');
      return console_.waitFor(/\b30 100\b/, 1500, from).catch(() => null);
    }, 15_000);
    assert.ok(console_.output().length > mark);

    // A long-running child in the foreground, then the browser goes away.
    console_.type('sleep 4242\r');
    await eventually('sleep 4242 to run in the container', async () => (await inContainer('ps')).includes('sleep 4242'));
    assert.match(await inContainer('ps'), /\/bin\/sh -l/, 'the console runs a login shell');
    assert.equal((await runningExecs()).length, 1, 'one exec (the console) runs on the node');
    console_.ws.close();
    const closed = await console_.closed;
    assert.equal(closed.code, 1005, `the client closed: ${JSON.stringify(closed)}`);

    await eventually('the shell and its child to be gone from the container', async () => {
      const ps = await inContainer('ps');
      return !ps.includes('sleep 4242') && !/sh -l/.test(ps);
    }, 15_000);
    await eventually('no exec operation left running on the node', async () => (await runningExecs()).length === 0, 15_000);

    // Audited: the open, and the close with its duration, under the same request id.
    const close = await eventually('the close event', async () => (await auditOf('container.console.close')).find((e: any) => e.targetId === running.id));
    const open = (await auditOf('container.console.open')).find((e: any) => e.targetId === running.id && e.outcome === 'SUCCESS');
    assert.ok(open, 'the open was audited');
    assert.equal(close.requestId, open.requestId);
    assert.equal(close.outcome, 'SUCCESS');
    assert.equal(close.details.reason, 'CLIENT_CLOSED');
    assert.ok(Number.isInteger(close.details.durationMs) && close.details.durationMs > 0, JSON.stringify(close.details));
  });

  test('the shell exiting ends the console with its exit code', async () => {
    const console_ = openConsole(lab.server.url, owner, running.id);
    await console_.ready;
    console_.type('exit 3\r');
    const closed = await console_.closed;
    assert.deepEqual(closed, { code: 1000, reason: 'EXITED' });
    assert.deepEqual(console_.messages.at(-1), { type: 'exit', exitCode: 3 });
    await eventually('no exec operation left running on the node', async () => (await runningExecs()).length === 0, 15_000);
  });

  test('refused before anything reaches LXD: anonymous, another tenant, a member without CONTAINERS_WRITE, a stopped container', async () => {
    const other = (await signInAsNewUser(lab.admin, (await createAccount(lab.admin, 'CUSTOMER')).id, 'CUSTOMER_OWNER')).caller;
    const member = (await signInAsNewUser(lab.admin, (await lab.owner.ok(`{ me { account { id } } }`)).me.account.id, 'CUSTOMER_MEMBER')).caller;
    const execsBefore = await runningExecs();
    for (const [caller, id, code, reason] of [
      [null, running.id, 4401, 'UNAUTHENTICATED'],
      [other, running.id, 4404, 'NOT_FOUND'],
      [member, running.id, 4403, 'FORBIDDEN'],
      [owner, stopped.id, 4409, 'CONTAINER_NOT_RUNNING'],
    ] as const) {
      const c = openConsole(lab.server.url, caller, id);
      await assert.rejects(c.ready);
      assert.deepEqual(await c.closed, { code, reason }, `${reason}: ${JSON.stringify(c.messages)}`);
      assert.equal(c.messages[0]?.code, reason);
      assert.equal(c.output(), '');
    }
    assert.deepEqual(await runningExecs(), execsBefore);
    const refused = (await auditOf('container.console.open')).find((e: any) => e.targetId === stopped.id);
    assert.deepEqual([refused?.outcome, refused?.errorCode], ['FAILURE', 'CONTAINER_NOT_RUNNING']);
  });

  test("a Debian container gets root's login shell from /etc/passwd (bash, as a login shell) with a working terminal", async () => {
    const debian = await create(unique('con-deb'), 'debian12', 256, 2048);
    const c = openConsole(lab.server.url, owner, debian.id, { cols: 90, rows: 20 });
    await c.ready;
    c.type('echo "shell=$0 term=$TERM"; stty size\r');
    await c.waitFor(/shell=-?\/?(bin\/)?bash term=xterm-256color/, 15_000);
    await c.waitFor(/\b20 90\b/);
    const ps = await lxc(debian.node, 'exec', '--project', lab.lxdProject, debian.name, '--', 'ps', '-eo', 'args');
    assert.match(ps, /^\/bin\/bash -l$/m, ps);
    c.ws.close();
    await c.closed;
    await eventually('bash to be gone', async () => !/^\/bin\/bash -l$/m.test(await lxc(debian.node, 'exec', '--project', lab.lxdProject, debian.name, '--', 'ps', '-eo', 'args')), 15_000);
  });
});
