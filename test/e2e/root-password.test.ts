import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CorralError } from '../../server/app/errors';
import { RootPasswordGateway } from '../../server/containers/root-password.gateway';
import { LxdOperationTimeoutError } from '../../server/lxd/errors';
import { execInstance } from '../../server/lxd/exec';
import { watchEvents } from '../../server/lxd/events';
import type { LxdGateway } from '../../server/nodes/lxd-gateway';
import { Node } from '../../server/nodes/node.entity';
import { generateLicenceKeyPair, issueLicence } from '../../server/licences/licence-document';
import { labStatus } from '../lab/lab';
import { Caller, codeOf } from '../support/client';
import { createAccount, createProject, signInAsAdmin, signInAsNewUser, unique } from '../support/factories';
import { corralInstances, eventually, requireLab, type LabNode } from '../support/lab';
import { startTestServer, type TestServer } from '../support/server';

const CONTAINER = `id name status operation { id state action errorCode errorMessage }`;
const SET = `mutation($id: ID!, $p: String!, $k: String) { setContainerRootPassword(id: $id, password: $p, idempotencyKey: $k) { ${CONTAINER} } }`;

/**
 * A real PAM login: an unprivileged user runs `su root` on a pseudo-terminal and answers the
 * password prompt with what arrives on stdin (never on a command line). Exit 0 and the marker
 * only when PAM accepted the password.
 */
const SU_THROUGH_A_PTY = `
import os, pty, select, sys
password = sys.stdin.readline().rstrip("\\n")
pid, fd = pty.fork()
if pid == 0:
    os.setgroups([]); os.setgid(65534); os.setuid(65534)
    os.execvp("su", ["su", "root", "-c", "echo PAM-LOGIN-OK"])
out, sent = b"", False
while True:
    ready, _, _ = select.select([fd], [], [], 20)
    if not ready:
        break
    try:
        chunk = os.read(fd, 1024)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
    if not sent and b"assword" in out:
        os.write(fd, (password + "\\n").encode()); sent = True
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(status))
`;

/** `lxc exec` on the node with `input` on stdin; resolves with the exit code and output. */
function lxcExec(node: LabNode, project: string, name: string, command: string[], input = ''): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile('lxc', ['exec', '--project', project, name, '--', ...command], { env: { ...process.env, LXD_DIR: node.lxd.lxdDir }, timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof (error as { code?: unknown }).code === 'number' ? ((error as { code: number }).code) : -1) : 0;
      if (code === -1) reject(error);
      else resolve({ code, stdout, stderr });
    });
    child.stdin!.end(input);
  });
}

/** Real LXD in the lab, with the Debian 12 image (systemd, PAM, chpasswd) and busybox (no chpasswd). */
describe('root password on real LXD nodes', () => {
  let server: TestServer;
  let nodes: LabNode[];
  let owner: Caller;
  let projectId: string;
  let lxdProject: string;
  let debianId: string;
  let busyboxId: string;
  const licenceKeys = generateLicenceKeyPair();

  before(async () => {
    const lab = await requireLab();
    nodes = lab.nodes;
    const debian = (await labStatus()).images.debian;
    if (!debian) throw new Error('the root password tests need the lab\'s Debian 12 image: run "npm run lab -- up" and "npm run lab -- image debian" (as root)');
    const imageDir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-images-'));
    fs.copyFileSync(debian, path.join(imageDir, 'debian12.tar.gz'));
    fs.copyFileSync(lab.busybox, path.join(imageDir, 'busybox.tar.gz'));
    server = await startTestServer('sqlite', { CORRAL_IMAGE_DIR: imageDir, CORRAL_LICENCE_PUBLIC_KEY: licenceKeys.publicKey, CORRAL_HEALTH_SECONDS: '1', CORRAL_RECONCILE_SECONDS: '5' });
    const admin = await signInAsAdmin(server.url);
    await admin.ok(`mutation($l: String!) { installLicence(licence: $l) { licensee } }`, {
      l: issueLicence({ licensee: 'Lab', maxNodes: 10, maxContainers: 1000, expiresAt: '2099-01-01T00:00:00Z' }, licenceKeys.privateKey),
    });
    const images = (await admin.ok(`{ images { edges { node { id name } } } }`)).images.edges.map((e: any) => e.node);
    debianId = images.find((i: any) => i.name === 'debian12').id;
    busyboxId = images.find((i: any) => i.name === 'busybox').id;
    const clusterId = (await admin.ok(`mutation { createCluster(input: { name: "lab", storageDriver: BTRFS, storagePool: "default" }) { id } }`)).createCluster.id;
    for (const node of nodes.slice(0, 2)) {
      const added = await admin.ok(`mutation($i: AddNodeInput!) { addNode(input: $i) { status } }`, { i: { clusterId, name: node.name, url: node.lxd.url, secret: node.lxd.trustPassword } });
      assert.equal(added.addNode.status, 'READY');
    }
    const customer = await createAccount(admin, 'CUSTOMER');
    owner = (await signInAsNewUser(admin, customer.id, 'CUSTOMER_OWNER')).caller;
    projectId = (await createProject(owner, customer.id)).id;
    lxdProject = `corral-${projectId.replaceAll('-', '')}`;
  });
  after(async () => {
    await server?.stop();
  });

  const create = async (name: string, imageId: string, diskMiB = 256) =>
    (await owner.ok(`mutation($i: CreateContainerInput!) { createContainer(input: $i) { ${CONTAINER} } }`, { i: { projectId, name, imageId, cpu: 1, memoryMiB: 256, diskMiB } })).createContainer;
  const read = async (id: string) => (await owner.ok(`query($id: ID!) { container(id: $id) { ${CONTAINER} } }`, { id })).container;
  const until = (id: string, status: string, ms = 30_000) => eventually(`container ${id} to be ${status}`, async () => ((await read(id)).status === status ? read(id) : null), ms);
  const operationOf = async (operationId: string) => (await owner.ok(`query($id: ID!) { operation(id: $id) { state errorCode errorMessage } }`, { id: operationId })).operation;
  const finished = (operationId: string) => eventually(`operation ${operationId} to finish`, async () => {
    const op = await operationOf(operationId);
    return ['SUCCEEDED', 'FAILED'].includes(op.state) ? op : null;
  }, 90_000);
  const whereIs = async (name: string) => {
    for (const node of nodes) if ((await corralInstances(node)).has(`${lxdProject}/${name}`)) return node;
    throw new Error(`${name} is on no node`);
  };
  const operationCount = async (containerId: string) => Number((await server.db.query(`SELECT COUNT(*) AS n FROM operations WHERE "containerId" = ?`, [containerId]))[0].n);
  const shadowOf = async (node: LabNode, name: string) => (await lxcExec(node, lxdProject, name, ['sh', '-c', 'cat /etc/shadow 2>&1 || true'])).stdout;
  const login = (node: LabNode, name: string, password: string) => lxcExec(node, lxdProject, name, ['python3', '-c', SU_THROUGH_A_PTY], `${password}\n`);

  test("root's new password opens a real login in the Debian container, a wrong one does not, and neither LXD's events nor Corral's tables ever held the plaintext", async () => {
    const container = await create(unique('deb'), debianId, 2048);
    await until(container.id, 'RUNNING', 240_000);
    const node = await whereIs(container.name);
    const password = `Corral ${randomBytes(12).toString('base64url')}!`;

    // Watch every project's operation and lifecycle events on the node, as any holder of a node certificate could.
    const gateway = server.services.gateway as LxdGateway;
    const client = await gateway.clientFor(await server.db.manager.findOneByOrFail(Node, { name: node.name }));
    const seen: string[] = [];
    const watch = watchEvents(client, { types: ['operation', 'lifecycle'], allProjects: true }, (event) => seen.push(JSON.stringify(event)), () => undefined);
    await watch.ready;
    let set: any;
    try {
      const key = unique('pw');
      set = (await owner.ok(SET, { id: container.id, p: password, k: key })).setContainerRootPassword;
      assert.equal(set.operation.action, 'container.setRootPassword');
      const done = await finished(set.operation.id);
      assert.equal(done.state, 'SUCCEEDED', JSON.stringify(done));
      // The same key and password replay the first answer; the same key with another password is refused.
      const before = await operationCount(container.id);
      assert.equal((await owner.ok(SET, { id: container.id, p: password, k: key })).setContainerRootPassword.id, container.id);
      assert.equal(codeOf(await owner.gql(SET, { id: container.id, p: `${password}x`, k: key })), 'IDEMPOTENCY_KEY_REUSED');
      assert.equal(await operationCount(container.id), before);
      await eventually('the exec to show on the event stream', async () => seen.some((e) => e.includes('"instance-exec"') || e.includes('chpasswd')));
    } finally {
      watch.close();
    }
    assert.ok(seen.some((e) => e.includes('chpasswd')), 'the watcher saw the chpasswd exec');
    assert.deepEqual(seen.filter((e) => e.includes(password)), [], 'no LXD event carries the plaintext');

    // Corral keeps the SHA-512 crypt hash only, and it is exactly what the container's /etc/shadow now holds.
    const [row] = await server.db.query(`SELECT input FROM operations WHERE id = ?`, [set.operation.id]);
    assert.ok(!String(row.input).includes(password), 'the operation row holds no plaintext');
    const stored = JSON.parse(row.input).passwordHash as string;
    assert.match(stored, /^\$6\$[./0-9A-Za-z]{16}\$[./0-9A-Za-z]{86}$/);
    const rootLine = (await shadowOf(node, container.name)).split('\n').find((l) => l.startsWith('root:'))!;
    assert.equal(rootLine.split(':')[1], stored);
    for (const table of ['audit_events', 'operations']) {
      assert.ok(!JSON.stringify(await server.db.query(`SELECT * FROM ${table}`)).includes(password), `${table} holds no plaintext`);
    }

    const right = await login(node, container.name, password);
    assert.equal(right.code, 0, `su with the new password: ${JSON.stringify(right)}`);
    assert.match(right.stdout, /PAM-LOGIN-OK/);
    const wrong = await login(node, container.name, `${password}-wrong`);
    assert.notEqual(wrong.code, 0, `su with a wrong password: ${JSON.stringify(wrong)}`);
    assert.doesNotMatch(wrong.stdout, /PAM-LOGIN-OK/);
    assert.match(wrong.stdout, /Authentication failure/i);

    await owner.ok(`mutation($id: ID!) { deleteContainer(id: $id) { id } }`, { id: container.id });
  });

  test('a password out of bounds, a stopped container, an image without chpasswd and a busy container each get a typed error and change nothing', async () => {
    const busybox = await create(unique('bb'), busyboxId);
    await until(busybox.id, 'RUNNING');
    const node = await whereIs(busybox.name);
    const shadowBefore = await shadowOf(node, busybox.name);

    for (const password of ['short', 'x'.repeat(257)]) {
      const res = await owner.gql(SET, { id: busybox.id, p: password });
      assert.equal(codeOf(res), 'BAD_USER_INPUT', JSON.stringify(res.errors));
      assert.equal(res.errors?.[0]?.extensions?.field, 'password');
    }
    assert.equal(await operationCount(busybox.id), 1, 'only the create operation');

    // busybox has no chpasswd: the operation fails with a stable code and the container is untouched.
    const set = (await owner.ok(SET, { id: busybox.id, p: 'a long root password' })).setContainerRootPassword;
    const failed = await finished(set.operation.id);
    assert.equal(failed.state, 'FAILED');
    assert.equal(failed.errorCode, 'IMAGE_UNSUPPORTED', JSON.stringify(failed));
    assert.match(failed.errorMessage, /chpasswd/);
    assert.equal(await shadowOf(node, busybox.name), shadowBefore);
    assert.equal((await read(busybox.id)).status, 'RUNNING');

    // Busy: a restart in flight.
    await owner.ok(`mutation($id: ID!) { restartContainer(id: $id) { id } }`, { id: busybox.id });
    const busy = await owner.gql(SET, { id: busybox.id, p: 'a long root password' });
    assert.equal(codeOf(busy), 'OPERATION_IN_PROGRESS', JSON.stringify(busy.errors));
    await until(busybox.id, 'RUNNING');

    // Stopped: asks for a start, records no operation.
    await owner.ok(`mutation($id: ID!) { stopContainer(id: $id, force: true) { id } }`, { id: busybox.id });
    await until(busybox.id, 'STOPPED');
    const count = await operationCount(busybox.id);
    const stopped = await owner.gql(SET, { id: busybox.id, p: 'a long root password' });
    assert.equal(codeOf(stopped), 'CONTAINER_NOT_RUNNING', JSON.stringify(stopped.errors));
    assert.match(String(stopped.errors?.[0]?.message), /start it/);
    assert.equal(await operationCount(busybox.id), count);
    assert.equal((await corralInstances(node)).get(`${lxdProject}/${busybox.name}`), 'Stopped');

    // Busy: still being created.
    const fresh = await create(unique('bb'), busyboxId);
    const creating = await owner.gql(SET, { id: fresh.id, p: 'a long root password' });
    assert.equal(codeOf(creating), 'OPERATION_IN_PROGRESS', JSON.stringify(creating.errors));
    await until(fresh.id, 'RUNNING');
    assert.equal(await operationCount(fresh.id), 1);

    for (const id of [busybox.id, fresh.id]) await owner.ok(`mutation($id: ID!) { deleteContainer(id: $id) { id } }`, { id });
  });

  test('execInstance passes stdin, returns the exit code and both streams, and kills the command at its deadline', async () => {
    const busybox = await create(unique('ex'), busyboxId);
    await until(busybox.id, 'RUNNING');
    const node = await whereIs(busybox.name);
    const nodeRow = await server.db.manager.findOneByOrFail(Node, { name: node.name });
    const client = await (server.services.gateway as LxdGateway).clientFor(nodeRow);

    const big = 'x'.repeat(300_000);
    const result = await execInstance(client, lxdProject, busybox.name, { command: ['sh', '-c', 'wc -c; echo to-stderr >&2; exit 7'], stdin: big, timeoutMs: 30_000 });
    assert.deepEqual({ ...result, stdout: result.stdout.trim() }, { exitCode: 7, stdout: '300000', stderr: 'to-stderr\n' });
    const silent = await execInstance(client, lxdProject, busybox.name, { command: ['true'], timeoutMs: 30_000 });
    assert.deepEqual(silent, { exitCode: 0, stdout: '', stderr: '' });

    const started = Date.now();
    await assert.rejects(execInstance(client, lxdProject, busybox.name, { command: ['sleep', '987'], timeoutMs: 1500 }), LxdOperationTimeoutError);
    assert.ok(Date.now() - started < 5000, 'the deadline bounds the call');
    await eventually('the timed-out command to be killed', async () => !(await lxcExec(node, lxdProject, busybox.name, ['ps'])).stdout.includes('sleep 987'));

    // The gateway on its own (as if Corral's row were stale): a stopped instance is CONTAINER_NOT_RUNNING.
    await owner.ok(`mutation($id: ID!) { stopContainer(id: $id, force: true) { id } }`, { id: busybox.id });
    await until(busybox.id, 'STOPPED');
    await assert.rejects(
      new RootPasswordGateway(server.services.gateway as LxdGateway).setRootPasswordHash(nodeRow, lxdProject, busybox.name, '$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1'),
      (e) => e instanceof CorralError && e.code === 'CONTAINER_NOT_RUNNING',
    );
    await owner.ok(`mutation($id: ID!) { deleteContainer(id: $id) { id } }`, { id: busybox.id });
  });
});
