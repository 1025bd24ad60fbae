/**
 * The lab keeps its promises. Needs root and brings the lab up (with LXD) if it is not; leaves it
 * up, since others use it. Run on its own: `npx tsc -p . && node --test dist/test/lab/`.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import { after, before, describe, it } from 'node:test';
import { run } from './exec';
import { labStatus, labUp, type LabStatus } from './lab';
import { nodeLayout } from './layout';

const isRoot = process.getuid?.() === 0;

function getUntrusted(url: string): Promise<any> {
  return new Promise((resolve, reject) => {
    // The daemons' certificates are self-signed; this only checks that they answer.
    const req = https.get(url, { rejectUnauthorized: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(JSON.parse(body)));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within 10 s`)));
    req.on('error', reject);
  });
}

describe('the lab', { skip: !isRoot && 'needs root' }, () => {
  let status: LabStatus;
  const lxc = (args: string[], opts: { allowFail?: boolean; timeoutMs?: number } = {}) =>
    run('lxc', args, { env: { LXD_DIR: status.nodes[0].lxd!.lxdDir }, ...opts });
  const unique = `lab-test-${process.pid}`;
  // Others use the lab too and may have imported the same image; it is only removed if ours.
  let importedImage: string | null = null;

  before(async () => {
    status = await labUp({ withLxd: true });
  });

  after(async () => {
    if (!status?.nodes[0]?.lxd) return;
    await lxc(['delete', '--force', unique], { allowFail: true });
    if (importedImage) await lxc(['image', 'delete', importedImage], { allowFail: true });
  });

  it('brings up two nodes with sshd and LXD on 198.18.0.11 and .12', () => {
    assert.deepEqual(
      status.nodes.slice(0, 2).map((n) => [n.name, n.namespace, n.address, n.ssh.running, n.lxd?.url, n.lxd?.running]),
      [
        ['n1', 'corral-n1', '198.18.0.11', true, 'https://198.18.0.11:8443', true],
        ['n2', 'corral-n2', '198.18.0.12', true, 'https://198.18.0.12:8443', true],
      ],
    );
    assert.equal(status.images.busybox, '/var/cache/corral-lab/images/busybox.tar.gz');
  });

  it('changes nothing when brought up again', async () => {
    const pids = () => [1, 2].flatMap((i) => [nodeLayout(i).lxdPidFile, nodeLayout(i).sshdPidFile].map((f) => fs.readFileSync(f, 'utf8')));
    const before = pids();
    assert.deepEqual(await labUp({ withLxd: true }), status);
    assert.deepEqual(pids(), before);
    assert.deepEqual(await labStatus(), status);
  });

  it('answers LXD over HTTPS from the host, untrusted', async () => {
    for (const node of status.nodes.slice(0, 2)) {
      const answer = await getUntrusted(`${node.lxd!.url}/1.0`);
      assert.equal(answer.metadata.auth, 'untrusted');
    }
  });

  it('lets one node reach another', async () => {
    await run('ip', ['netns', 'exec', 'corral-n1', 'ping', '-c1', '-W2', '198.18.0.12']);
  });

  it('lets root in over SSH with the lab key, inside the node', async () => {
    const node = status.nodes[1];
    const r = await run('ssh', ['-i', node.ssh.privateKeyPath, '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', `${node.ssh.user}@${node.address}`, 'ip -4 -o addr show dev eth0']);
    assert.match(r.stdout, /198\.18\.0\.12\/24/);
  });

  it("gives each node's SSH sessions its own paths (for the node playbook) and an IPv6 fabric address", async () => {
    const node = status.nodes[1];
    const r = await run('ssh', ['-i', node.ssh.privateKeyPath, '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', `${node.ssh.user}@${node.address}`, 'echo "$CORRAL_NODE_ROOT $LXD_DIR"; ip -6 -o addr show dev eth0 scope global; ip -6 route show default; ping -6 -c1 -W2 2001:db8:ffff::1 >/dev/null && echo gateway answers']);
    assert.match(r.stdout, /^\/var\/lib\/corral-lab\/n2 \/var\/lib\/corral-lab\/n2\/lxd$/m);
    assert.match(r.stdout, /inet6 2001:db8:ffff::12\/64/);
    assert.match(r.stdout, /default via 2001:db8:ffff::1 dev eth0/);
    assert.match(r.stdout, /gateway answers/);
    assert.equal(node.address6, '2001:db8:ffff::12');
    assert.equal(node.nodeRoot, '/var/lib/corral-lab/n2');
  });

  it('runs the busybox image, enforces a 64 MiB root quota and stops it cleanly within seconds', async () => {
    // A unified tarball's fingerprint is its SHA-256.
    const fingerprint = createHash('sha256').update(fs.readFileSync(status.images.busybox!)).digest('hex');
    if ((await lxc(['image', 'info', fingerprint], { allowFail: true })).code !== 0) {
      await lxc(['image', 'import', status.images.busybox!]);
      importedImage = fingerprint;
    }
    await lxc(['launch', fingerprint, unique, '--device', 'root,size=64MiB']);
    assert.match((await lxc(['list', unique, '--format', 'csv', '--columns', 'ns'])).stdout, /RUNNING/);

    const write = await lxc(['exec', unique, '--', 'dd', 'if=/dev/zero', 'of=/root/fill', 'bs=1M', 'count=100'], { allowFail: true });
    assert.notEqual(write.code, 0);
    assert.match(write.stderr, /Disk quota exceeded/);

    // Without --force, LXD only asks init to stop (SIGPWR) and fails once the timeout passes.
    const started = Date.now();
    await lxc(['stop', unique, '--timeout', '10']);
    assert.ok(Date.now() - started < 5_000, `stop took ${Date.now() - started} ms`);
    assert.match((await lxc(['list', unique, '--format', 'csv', '--columns', 'ns'])).stdout, /STOPPED/);
  });
});
