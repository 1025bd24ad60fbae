/**
 * The node playbook (ansible/) parses, and the bird configuration its role writes is one bird
 * accepts, with peers in the exact form Corral writes them, for nodes with and without an IPv6
 * fabric address. Needs Debian's ansible and bird2 (scripts/system-deps.sh, scripts/lab-deps.sh);
 * touches no node. That the playbook sets a node up is shown on lab nodes by hand and through
 * Corral by the end-to-end suite.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { run } from './exec';

const REPO = path.resolve(__dirname, '../../..');
const ANSIBLE_DIR = path.join(REPO, 'ansible');
const TEMPLATE = path.join(ANSIBLE_DIR, 'roles/corral_node/templates/bird.conf.j2');
const ansibleEnv = { ANSIBLE_CONFIG: path.join(ANSIBLE_DIR, 'ansible.cfg') };

/** The role's bird.conf, rendered on this machine with the variables the role computes on a node. */
async function renderBirdConf(dir: string, fabricIpv6: string): Promise<string> {
  const dest = path.join(dir, `bird-${fabricIpv6 ? 'v6' : 'v4only'}.conf`);
  const vars = {
    corral_fabric_ipv4: '198.18.0.13',
    corral_fabric_ipv6_address: fabricIpv6,
    corral_fabric_iface: 'eth0',
    corral_fabric_asn: 65000,
    corral_lxd_host_table: 100,
    corral_bird_peers: path.join(dir, 'corral-peers.conf'),
  };
  await run('ansible', ['localhost', '-c', 'local', '-m', 'ansible.builtin.template', '-a', `src=${TEMPLATE} dest=${dest} mode=0644`, '-e', JSON.stringify(vars)], {
    env: ansibleEnv,
    timeoutMs: 120_000,
  });
  return dest;
}

describe('the node playbook', () => {
  let dir: string;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-ansible-'));
    // Exactly what Corral writes when the cluster has two other nodes.
    fs.writeFileSync(
      path.join(dir, 'corral-peers.conf'),
      [
        'protocol bgp peer_198_18_0_12 from corral_peer { neighbor 198.18.0.12 as 65000; }',
        'protocol bgp peer_198_18_0_14 from corral_peer { neighbor 198.18.0.14 as 65000; }',
        '',
      ].join('\n'),
    );
  });

  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('passes ansible-playbook --syntax-check', async () => {
    await run('ansible-playbook', ['--syntax-check', '-i', 'localhost,', path.join(ANSIBLE_DIR, 'node.yml')], { env: ansibleEnv, timeoutMs: 120_000 });
  });

  it('writes a bird configuration bird accepts, announcing IPv6 with the fabric address as next hop', async () => {
    const conf = await renderBirdConf(dir, '2001:db8:ffff::13');
    const text = fs.readFileSync(conf, 'utf8');
    assert.match(text, /local 198\.18\.0\.13 as 65000;/);
    assert.match(text, /next hop address 2001:db8:ffff::13;/);
    assert.match(text, /kernel table 100;/);
    await run('bird', ['-p', '-c', conf]);
  });

  it('leaves IPv6 out when the node has no IPv6 fabric address, and bird still accepts it', async () => {
    const conf = await renderBirdConf(dir, '');
    const text = fs.readFileSync(conf, 'utf8');
    const template = text.slice(text.indexOf('template bgp corral_peer'), text.indexOf('include "'));
    assert.match(template, /ipv4 \{/);
    assert.doesNotMatch(template, /ipv6 \{/);
    await run('bird', ['-p', '-c', conf]);
  });

  it('makes bird refuse a peers line that is not in the agreed form', async () => {
    const conf = await renderBirdConf(dir, '2001:db8:ffff::13');
    const peers = path.join(dir, 'corral-peers.conf');
    const good = fs.readFileSync(peers, 'utf8');
    try {
      fs.writeFileSync(peers, 'protocol bgp peer_x from corral_peer { neighbour 198.18.0.12 as 65000; }\n');
      const r = await run('bird', ['-p', '-c', conf], { allowFail: true });
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /corral-peers\.conf/);
    } finally {
      fs.writeFileSync(peers, good);
    }
  });
});
