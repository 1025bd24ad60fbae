import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { parse } from 'yaml';
import { shadowHash } from '../../server/containers/root-password.service';
import { labStatus } from '../lab/lab';
import type { GqlResponse } from '../support/client';
import { unique } from '../support/factories';
import { corralInstances, eventually, lxc, settledContainer, type LabNode } from '../support/lab';
import { startLabCorral, type LabCorral } from '../support/lab-corral';

const run = promisify(execFile);
const CONTAINER = `id name status operation { id action state errorCode errorMessage }`;
/** Not in the lab's Debian image; the lab has no route to a mirror, so cloud-init can only try it. */
const PACKAGE = 'cowsay';

/** A fresh ed25519 key pair made by ssh-keygen, as a user would make one: the private key file and the public line. */
async function keyPair(dir: string, name: string): Promise<{ file: string; publicKey: string }> {
  const file = path.join(dir, name);
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `${name}@corral-test`, '-f', file], { timeout: 10_000 });
  return { file, publicKey: fs.readFileSync(`${file}.pub`, 'utf8').trim() };
}

/**
 * cloud-init user-data given at createContainer, on real LXD with the lab's Debian 12 image
 * (systemd, openssh-server, cloud-init 22.4): the accounts, hash, keys and sudo rule appear in
 * the container, the package is tried, and the keys open real SSH logins.
 */
describe('cloud-init at create on a real Debian container', () => {
  let lab: LabCorral;
  let keyDir: string;
  let alice: { file: string; publicKey: string };
  let root: { file: string; publicKey: string };
  let password: string;
  let passwordHash: string;

  before(async () => {
    const debian = (await labStatus()).images.debian;
    if (!debian) throw new Error('the cloud-init tests need the lab\'s Debian 12 image: run "npm run lab -- image debian" (as root)');
    lab = await startLabCorral({ images: { debian } });
    keyDir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-cloud-init-'));
    alice = await keyPair(keyDir, 'alice');
    root = await keyPair(keyDir, 'root');
    password = `Corral ${randomBytes(12).toString('base64url')}!`;
    passwordHash = await shadowHash(password);
  });
  after(async () => {
    await lab?.stop();
    if (keyDir) fs.rmSync(keyDir, { recursive: true, force: true });
  });

  const read = async (id: string) => (await lab.owner.ok(`query($id: ID!) { container(id: $id) { ${CONTAINER} addresses { address family } } }`, { id })).container;
  const settled = (res: GqlResponse) => settledContainer(read, res, 240_000);
  const whereIs = async (name: string): Promise<LabNode> => {
    for (const node of lab.nodes) if ((await corralInstances(node)).has(`${lab.lxdProject}/${name}`)) return node;
    throw new Error(`${name} is on no node`);
  };
  /** A shell command in the container, as the node's operator would run it; stdout, or the failure. */
  const inside = (node: LabNode, name: string, script: string) => lxc(node, 'exec', '--project', lab.lxdProject, name, '--', 'sh', '-c', script);
  const createDebian = async (name: string, extra: Record<string, unknown>) => {
    const c = await settled(
      await lab.owner.gql(`mutation($i: CreateContainerInput!) { createContainer(input: $i) { ${CONTAINER} } }`, {
        i: { projectId: lab.projectId, clusterId: lab.clusterId, name, imageId: lab.imageIds.debian, cpu: 1, memoryMiB: 512, diskMiB: 2048, ...extra },
      }),
    );
    assert.equal(c.status, 'RUNNING', JSON.stringify(c.operation));
    return c;
  };
  const cloudInit = () => ({
    users: [{ name: 'alice', passwordHash, sshAuthorizedKeys: [alice.publicKey], sudo: true }],
    sshAuthorizedKeys: [root.publicKey],
    packages: [PACKAGE],
  });

  test('the account, its password hash, its key and sudo rule, root\'s key and the package attempt all appear in the container', async () => {
    const name = unique('ci');
    const container = await createDebian(name, { cloudInit: cloudInit() });
    const node = await whereIs(name);

    // What Corral sent is in the instance's LXD config, as cloud-init reads it through devlxd.
    const userData = await lxc(node, 'config', 'get', '--project', lab.lxdProject, name, 'cloud-init.user-data');
    assert.ok(userData.startsWith('#cloud-config\n'));
    const sent = parse(userData);
    assert.deepEqual(sent.packages, [PACKAGE]);
    assert.equal(sent.users[0].name, 'alice');

    // cloud-init's config stage (users, keys) runs early in the first boot; wait for its result, not for a time.
    const authorized = await eventually('cloud-init to give alice her key', async () => (await inside(node, name, 'cat /home/alice/.ssh/authorized_keys 2>/dev/null || true')).trim(), 180_000);
    assert.equal(authorized, alice.publicKey);
    const shadow = (await inside(node, name, 'getent shadow alice')).trim().split(':');
    assert.equal(shadow[1], passwordHash, 'alice\'s password is the given hash, unlocked');
    assert.equal((await inside(node, name, 'stat -c %U:%a /home/alice/.ssh/authorized_keys')).trim(), 'alice:600');
    assert.match(await inside(node, name, 'cat /etc/sudoers.d/90-cloud-init-users'), /^alice ALL=\(ALL\) NOPASSWD:ALL$/m);
    // Root gets its key as given (cloud-init's ssh module, after the accounts): no "log in as debian" command prefix, and no default `debian` account was made.
    const rootKeys = await eventually('cloud-init to give root its key', async () => (await inside(node, name, 'cat /root/.ssh/authorized_keys 2>/dev/null || true')).trim(), 120_000);
    assert.equal(rootKeys, root.publicKey);
    assert.equal((await inside(node, name, 'getent passwd debian || echo none')).trim(), 'none');

    // The package: cloud-init tries apt-get update, then apt-get install, and logs the failure (no mirror here).
    const log = await eventually(
      `cloud-init to try installing ${PACKAGE}`,
      async () => {
        const text = await inside(node, name, 'cat /var/log/cloud-init.log');
        return text.includes(`Failed to install packages: ['${PACKAGE}']`) || text.includes(`Installing packages: ['${PACKAGE}']`) ? text : null;
      },
      240_000,
    );
    assert.match(log, new RegExp(`Running command \\['apt-get'.*'install', '${PACKAGE}'\\]`));

    await lab.owner.ok(`mutation($id: ID!) { deleteContainer(id: $id) { id } }`, { id: container.id });
  });

  test(
    'alice logs in over SSH with her key, and root with its key, on the container\'s public address',
    async () => {
      await lab.admin.ok(`mutation($c: ID!) { createIpPool(input: { clusterId: $c, name: "ci-v4", cidr: "198.51.100.160/28", gateway: "198.51.100.161" }) { id } }`, { c: lab.clusterId });
      const name = unique('ssh');
      const created = await createDebian(name, { cloudInit: cloudInit(), addresses: [{ family: 'IPV4' }] });
      const address = ((await read(created.id)).addresses as { address: string; family: number }[]).find((a) => a.family === 4)?.address;
      assert.ok(address, 'the container has a public IPv4 address');
      const node = await whereIs(name);

      /** `ssh user@address id` from the node's namespace; sshd and cloud-init come up during boot, so retry, bounded. */
      const sshId = (user: string, key: string) =>
        eventually(
          `ssh ${user}@${address} to answer`,
          async () => {
            const { stdout } = await run(
              'ip',
              ['netns', 'exec', node.namespace, 'ssh', '-i', key, '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'ConnectTimeout=5', '-o', 'LogLevel=ERROR', `${user}@${address}`, 'id'],
              { timeout: 20_000 },
            );
            return stdout.trim();
          },
          180_000,
        );
      const aliceId = await sshId('alice', alice.file);
      const uid = (await inside(node, name, 'id -u alice')).trim();
      assert.equal(aliceId, `uid=${uid}(alice) gid=${uid}(alice) groups=${uid}(alice)`);
      assert.match(await sshId('root', root.file), /^uid=0\(root\)/);
      // alice's key is hers only: it does not open root.
      await assert.rejects(
        run('ip', ['netns', 'exec', node.namespace, 'ssh', '-i', alice.file, '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'ConnectTimeout=5', `root@${address}`, 'id'], { timeout: 20_000 }),
      );

      await lab.owner.ok(`mutation($id: ID!) { deleteContainer(id: $id) { id } }`, { id: created.id });
    },
  );
});
