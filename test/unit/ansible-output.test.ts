import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { failureOf, PlaybookOutput, recapOf, resultMessageOf, taskNameOf, taskProgress } from '../../server/provisioning/ansible-output';
import { knownHostsLine } from '../../server/provisioning/ansible-runner';
import { peerProtocolName, renderPeersFile } from '../../server/network/fabric-peers';
import { peersScript } from '../../server/network/fabric.service';
import { sshKeyLine } from '../../server/provisioning/ssh-transport';

/** What ansible-playbook 2.14 prints with the default callback and JSON results (a run that fails at the third task). */
const FAILED_RUN = `
PLAY [Set up a Corral node] ****************************************************

TASK [Gathering Facts] *********************************************************
ok: [198.18.0.13]

TASK [corral_node : Install nftables and btrfs-progs before LXD] ***************
changed: [198.18.0.13]

TASK [corral_node : Initialise LXD storage pool] *******************************
fatal: [198.18.0.13]: FAILED! => {"changed": false, "cmd": ["lxc", "storage", "create"], "msg": "non-zero return code", "rc": 1, "stderr": "Error: Storage pool directory \\"/x\\" already exists", "stdout": ""}

PLAY RECAP *********************************************************************
198.18.0.13                : ok=2    changed=1    unreachable=0    failed=1    skipped=0    rescued=0    ignored=0   
`;

describe('reading ansible-playbook output', () => {
  test('a TASK line gives the task name, with its role', () => {
    assert.equal(taskNameOf('TASK [corral_node : Install nftables] ******************'), 'corral_node : Install nftables');
    assert.equal(taskNameOf('TASK [Gathering Facts] ***'), 'Gathering Facts');
    assert.equal(taskNameOf('ok: [198.18.0.13]'), null);
    assert.equal(taskNameOf('PLAY [all] ****'), null);
  });

  test('a fatal line gives the module message and stderr; an unreachable host and a loop item likewise; ERROR! lines too', () => {
    const fatal = failureOf('fatal: [h]: FAILED! => {"changed": false, "msg": "non-zero return code", "stderr": "boom"}', 'corral_node : x');
    assert.deepEqual(fatal, { task: 'corral_node : x', kind: 'FAILED', message: 'non-zero return code\nboom' });
    const unreachable = failureOf('fatal: [h]: UNREACHABLE! => {"changed": false, "msg": "Failed to connect to the host via ssh: Host key verification failed.", "unreachable": true}', 'Gathering Facts');
    assert.equal(unreachable?.kind, 'UNREACHABLE');
    assert.match(unreachable!.message, /Host key verification failed/);
    assert.match(failureOf('failed: [h] (item=bird2) => {"msg": "No package matching"}', 't')!.message, /^item=bird2: No package matching/);
    assert.deepEqual(failureOf('ERROR! the playbook: node.yml could not be found', null), { task: null, kind: 'ERROR', message: 'the playbook: node.yml could not be found' });
    assert.equal(failureOf('changed: [h]', 't'), null);
    assert.equal(resultMessageOf('not json at all'), 'not json at all');
  });

  test('the recap line gives the counts', () => {
    const recap = recapOf('198.18.0.13                : ok=12   changed=0    unreachable=0    failed=0    skipped=3    rescued=0    ignored=0   ');
    assert.deepEqual({ ...recap, line: undefined }, { host: '198.18.0.13', ok: 12, changed: 0, unreachable: 0, failed: 0, skipped: 3, rescued: 0, ignored: 0, line: undefined });
    assert.equal(recap!.line, '198.18.0.13 : ok=12 changed=0 unreachable=0 failed=0 skipped=3 rescued=0 ignored=0');
    assert.equal(recapOf('TASK [x] ***'), null);
  });

  test('streamed in arbitrary chunks, a run gives each task once in order, the failing task with its message, and the recap', () => {
    const seen: [string, number][] = [];
    const output = new PlaybookOutput((name, index) => seen.push([name, index]));
    for (let i = 0; i < FAILED_RUN.length; i += 7) output.push(FAILED_RUN.slice(i, i + 7));
    output.end();
    assert.deepEqual(seen, [
      ['Gathering Facts', 1],
      ['corral_node : Install nftables and btrfs-progs before LXD', 2],
      ['corral_node : Initialise LXD storage pool', 3],
    ]);
    assert.equal(output.failure?.task, 'corral_node : Initialise LXD storage pool');
    assert.equal(output.failure?.message, 'non-zero return code\nError: Storage pool directory "/x" already exists');
    assert.equal(output.recap?.changed, 1);
    assert.equal(output.recap?.failed, 1);
    assert.ok(output.tail.includes('PLAY RECAP'));
  });

  test('a failure the play ignores is not the failure', () => {
    const output = new PlaybookOutput();
    output.push('TASK [a] ***\nfatal: [h]: FAILED! => {"msg": "expected"}\n...ignoring\nTASK [b] ***\nok: [h]\n');
    assert.equal(output.failure, null);
  });

  test('the tail keeps only the last characters', () => {
    const output = new PlaybookOutput(undefined, 10);
    output.push('0123456789abcdef\n');
    assert.equal(output.tail, '789abcdef\n');
  });

  test('progress rises with every task and never reaches the end of its range', () => {
    const values = Array.from({ length: 200 }, (_, n) => taskProgress(n, 72, 92));
    assert.equal(values[0], 72);
    assert.ok(values.every((v, i) => i === 0 || v >= values[i - 1]!));
    assert.ok(values.at(-1)! < 92);
  });
});

describe('the pinned host key for ansible', () => {
  test('known_hosts gets the key verified by ssh2, in [host]:port form off port 22', () => {
    // An ed25519 public key blob: string "ssh-ed25519", then the 32-byte key.
    const type = Buffer.from('ssh-ed25519');
    const blob = Buffer.concat([Buffer.from([0, 0, 0, type.length]), type, Buffer.from([0, 0, 0, 32]), Buffer.alloc(32, 7)]);
    const line = sshKeyLine(blob);
    assert.equal(line, `ssh-ed25519 ${blob.toString('base64')}`);
    assert.equal(knownHostsLine('198.18.0.11', 22, line), `198.18.0.11 ${line}\n`);
    assert.equal(knownHostsLine('198.18.0.11', 2222, line), `[198.18.0.11]:2222 ${line}\n`);
    assert.throws(() => sshKeyLine(Buffer.from([0, 0, 1, 0, 1])));
  });
});

describe('the BGP peers file', () => {
  test('one session per other node, named after its address, from the corral_peer template with the cluster AS', () => {
    const file = renderPeersFile('198.18.0.11', [{ address: '198.18.0.12' }, { address: '198.18.0.11' }, { address: '198.18.0.13' }, { address: '198.18.0.12' }], 65000);
    assert.equal(
      file,
      [
        "# Written by Corral: the other nodes of this node's cluster. Rewritten when the cluster's nodes change.",
        'protocol bgp peer_198_18_0_12 from corral_peer { neighbor 198.18.0.12 as 65000; }',
        'protocol bgp peer_198_18_0_13 from corral_peer { neighbor 198.18.0.13 as 65000; }',
        '',
      ].join('\n'),
    );
  });

  test('IPv6 peers get names bird accepts; host names are left out; the AS is checked', () => {
    assert.equal(peerProtocolName('2001:db8:ffff::12'), 'peer_2001_db8_ffff__12');
    const file = renderPeersFile('a', [{ address: 'node.example' }, { address: '2001:db8:ffff::12' }], 4200000000);
    assert.match(file, /protocol bgp peer_2001_db8_ffff__12 from corral_peer \{ neighbor 2001:db8:ffff::12 as 4200000000; \}/);
    assert.ok(!file.includes('node.example'));
    assert.equal(renderPeersFile('198.18.0.11', [{ address: '198.18.0.11' }], 65000).split('\n').filter((l) => l.startsWith('protocol')).length, 0);
    assert.throws(() => renderPeersFile('a', [], 0));
    assert.throws(() => renderPeersFile('a', [], 4294967295));
  });

  test('the script writes the file under the node root only when it changes, then reconfigures bird', () => {
    const script = peersScript('protocol bgp x from corral_peer { neighbor 198.18.0.12 as 65000; }\n');
    assert.match(script, /cat > "\$dir\/corral-peers\.conf\.new" <<'CORRAL_EOF'\nprotocol bgp x/);
    assert.match(script, /cmp -s/);
    assert.match(script, /birdc -s "\$\{CORRAL_NODE_ROOT:-\}\/run\/bird\/bird\.ctl" configure$/);
  });
});
