import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CorralError } from '../../server/app/errors';
import { AnsiblePlaybookRunner, PlaybookFailedError, type PlaybookRequest } from '../../server/provisioning/ansible-runner';

/**
 * The runner against stand-in `ansible-playbook` scripts: what it hands the command (files,
 * arguments, environment), how it reads success, failure and a hang.
 */
describe('AnsiblePlaybookRunner', () => {
  let dir: string;
  const request: PlaybookRequest = {
    host: '198.18.0.13',
    port: 2222,
    user: 'root',
    privateKey: '-----BEGIN OPENSSH PRIVATE KEY-----\nfake\n-----END OPENSSH PRIVATE KEY-----',
    hostKeyLine: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFake',
    vars: { corral_node_address: '198.18.0.13', corral_storage_pool: 'default', corral_storage_driver: 'btrfs', corral_client_certificate: 'PEM', corral_lxd_trust_password: '', corral_fabric_asn: 65000 },
  };
  const script = (name: string, body: string) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, `#!/bin/bash\n${body}\n`, { mode: 0o755 });
    return file;
  };

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-runner-test-'));
    fs.writeFileSync(path.join(dir, 'node.yml'), '- hosts: all\n');
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('hands ansible-playbook the inventory, the variables, the key and the pinned known_hosts line, streams the tasks and reads changed= from the recap; the files are gone afterwards', async () => {
    const seen = path.join(dir, 'seen');
    const fake = script(
      'ok-playbook',
      `key=""; vars=""
for a in "$@"; do case "$a" in ansible_ssh_private_key_file=*) key="\${a#*=}";; @*) vars="\${a#@}";; --ssh-common-args=*) kh="$(echo "$a" | sed -E 's/.*UserKnownHostsFile=([^ ]+).*/\\1/')";; esac; done
{ echo "ARGS $*"; echo "CONFIG $ANSIBLE_CONFIG $ANSIBLE_STDOUT_CALLBACK"; echo "KEYMODE $(stat -c %a "$key")"; echo "KNOWN $(cat "$kh")"; echo "VARS $(cat "$vars")"; echo "TMPDIR $(dirname "$key")"; } > ${seen}
echo 'TASK [Gathering Facts] ****'; echo 'ok: [198.18.0.13]'
echo 'TASK [corral_node : Install nftables] ****'; echo 'ok: [198.18.0.13]'
echo 'PLAY RECAP ****'; echo '198.18.0.13 : ok=2 changed=0 unreachable=0 failed=0 skipped=0 rescued=0 ignored=0'`,
    );
    const tasks: string[] = [];
    const result = await new AnsiblePlaybookRunner(dir, 10_000, fake).run(request, (name) => void tasks.push(name));
    assert.equal(result.changed, 0);
    assert.deepEqual(tasks, ['Gathering Facts', 'corral_node : Install nftables']);
    const lines = Object.fromEntries(fs.readFileSync(seen, 'utf8').trim().split('\n').map((l) => [l.split(' ')[0], l.slice(l.indexOf(' ') + 1)]));
    assert.match(lines.ARGS!, new RegExp(`^-i 198\\.18\\.0\\.13, ${dir}/node\\.yml -e @\\S+vars\\.json -e ansible_port=2222 -e ansible_user=root -e ansible_ssh_private_key_file=\\S+ --ssh-common-args=-o UserKnownHostsFile=\\S+ -o StrictHostKeyChecking=yes$`));
    assert.equal(lines.CONFIG, `${dir}/ansible.cfg default`);
    assert.equal(lines.KEYMODE, '600');
    assert.equal(lines.KNOWN, '[198.18.0.13]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFake');
    assert.deepEqual(JSON.parse(lines.VARS!), request.vars);
    assert.equal(fs.existsSync(lines.TMPDIR!), false, 'the key and the variables are removed');
  });

  test('a failing task: NODE_SETUP_FAILED naming the task, with its message and the recap', async () => {
    const fake = script(
      'failing-playbook',
      `echo 'TASK [corral_node : Initialise LXD] ****'
echo 'fatal: [198.18.0.13]: FAILED! => {"changed": false, "msg": "non-zero return code", "stderr": "Error: pool exists"}'
echo 'PLAY RECAP ****'; echo '198.18.0.13 : ok=3 changed=1 unreachable=0 failed=1 skipped=0 rescued=0 ignored=0'
exit 2`,
    );
    await assert.rejects(new AnsiblePlaybookRunner(dir, 10_000, fake).run(request, () => {}), (e: unknown) => {
      assert.ok(e instanceof PlaybookFailedError);
      assert.equal(e.code, 'NODE_SETUP_FAILED');
      assert.equal(e.step, 'corral_node : Initialise LXD');
      assert.equal(e.message, 'corral_node : Initialise LXD: non-zero return code\nError: pool exists\nPLAY RECAP: 198.18.0.13 : ok=3 changed=1 unreachable=0 failed=1 skipped=0 rescued=0 ignored=0');
      assert.ok(e.output.startsWith(e.message));
      return true;
    });
  });

  test('a run past its timeout is killed and fails naming the task it hung in', async () => {
    const fake = script('hanging-playbook', `echo 'TASK [corral_node : Start LXD] ****'; sleep 30 & wait`);
    const t0 = Date.now();
    await assert.rejects(new AnsiblePlaybookRunner(dir, 500, fake).run(request, () => {}), (e: unknown) => e instanceof PlaybookFailedError && e.step === 'corral_node : Start LXD' && /did not finish within/.test(e.message));
    assert.ok(Date.now() - t0 < 5_000, `took ${Date.now() - t0} ms`);
  });

  test('without ansible-playbook, the error names the Debian package to install; without the playbook, CORRAL_ANSIBLE_DIR', async () => {
    await assert.rejects(new AnsiblePlaybookRunner(dir, 10_000, path.join(dir, 'no-such-ansible-playbook')).run(request, () => {}), (e: unknown) => e instanceof CorralError && e.code === 'NODE_SETUP_FAILED' && /install Debian's "ansible" package/.test(e.message));
    await assert.rejects(new AnsiblePlaybookRunner(path.join(dir, 'nowhere')).run(request, () => {}), (e: unknown) => e instanceof CorralError && /CORRAL_ANSIBLE_DIR/.test(e.message));
  });
});
