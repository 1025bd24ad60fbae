import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomInt } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { generateLicenceKeyPair, issueLicence } from '../../server/licences/licence-document';
import { routedHostName } from '../../server/network/routed-nic';
import type { Caller } from '../support/client';
import { createAccount, createProject, signInAsAdmin, signInAsNewUser, unique } from '../support/factories';
import { eventually, lxc, requireLab, settledContainer, type LabNode } from '../support/lab';
import { startTestServer, type TestServer } from '../support/server';

const run = promisify(execFile);
const AUTHORIZED_KEYS = '/root/.ssh/authorized_keys';
const CONTAINER = `id name status addresses { address family } operation { id action state errorCode errorMessage }`;
const SET = `mutation($i: SetContainerFirewallInput!) { setContainerFirewall(input: $i) { id firewall { tcpConnectionLimit inboundPorts { protocol from to } } } }`;

/**
 * Opens TCP connections one after another (each settles before the next, so the count is
 * exact), keeps them all open, prints how each went, then closes them. Run in a node's network
 * namespace, so the connections leave through the node's output hook like the node's own.
 */
const CONNECT_SCRIPT = `
const net = require('node:net');
const targets = JSON.parse(process.argv[2]);
(async () => {
  const sockets = [];
  const results = [];
  for (const [host, port] of targets) {
    results.push(await new Promise((resolve) => {
      const socket = net.connect({ host, port });
      sockets.push(socket);
      const timer = setTimeout(() => { resolve('timeout'); socket.destroy(); }, 3000);
      socket.once('connect', () => { clearTimeout(timer); resolve('connected'); });
      socket.once('error', (error) => { clearTimeout(timer); resolve(error.code === 'ECONNREFUSED' || error.code === 'ECONNRESET' ? 'reset' : error.code); });
    }));
  }
  console.log(JSON.stringify(results));
  for (const socket of sockets) socket.destroy();
})();
`;

/**
 * Corral's nftables table on a real lab node (connected over SSH), proven with real packets:
 * anti-spoofing, the TCP connection limit and the inbound port rules. Traffic goes only between
 * the node's namespace and its containers, in bounded loops with timeouts.
 */
describe('the node firewall with real packets on a lab node', () => {
  let server: TestServer;
  let admin: Caller;
  let owner: Caller;
  let n1: LabNode;
  let nodeId: string;
  let lxdProject: string;
  let corralPublicKey: string | undefined;
  const connectScript = path.join(os.tmpdir(), `corral-fw-connect-${process.pid}.js`);
  /** Containers A (IPv4 and IPv6) and B (IPv4), each with its addresses. */
  let a: { id: string; name: string; v4: string; v6: string };
  let b: { id: string; name: string; v4: string };
  /** An address of the pool that is nobody's, for A to pretend to have. */
  let spoof4: string;
  let spoof6: string;
  /** Every container this suite made, for the cleanup. */
  const madeHere: string[] = [];

  before(async () => {
    const lab = await requireLab();
    n1 = lab.nodes.find((n) => n.name === 'n1') ?? lab.nodes[0]!;
    fs.writeFileSync(connectScript, CONNECT_SCRIPT);
    const imageDir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-images-'));
    fs.copyFileSync(lab.busybox, path.join(imageDir, 'busybox.tar.gz'));
    const licenceKeys = generateLicenceKeyPair();
    server = await startTestServer('sqlite', { CORRAL_IMAGE_DIR: imageDir, CORRAL_LICENCE_PUBLIC_KEY: licenceKeys.publicKey, CORRAL_HEALTH_SECONDS: '2' });
    admin = await signInAsAdmin(server.url);
    await admin.ok(`mutation($l: String!) { installLicence(licence: $l) { licensee } }`, {
      l: issueLicence({ licensee: 'Lab', maxNodes: 10, maxContainers: 100, expiresAt: '2099-01-01T00:00:00Z' }, licenceKeys.privateKey),
    });
    const clusterId = (await admin.ok(`mutation { createCluster(input: { name: "fw-lab", storageDriver: BTRFS, storagePool: "default" }) { id } }`)).createCluster.id;

    // The node over SSH with the lab's root key: only such nodes get Corral's firewall.
    const labKey = fs.readFileSync(n1.ssh.privateKeyPath, 'utf8');
    const connected = (await admin.ok(`mutation($i: ConnectNodeInput!) { connectNode(input: $i) { id operation { id } } }`, { i: { clusterId, name: n1.name, host: n1.address, privateKey: labKey, lxdTrustPassword: n1.lxd.trustPassword } })).connectNode;
    nodeId = connected.id;
    corralPublicKey = (await server.services.nodeSetups.identity()).publicKey;
    const ready = await eventually('the node to be set up', async () => {
      const node = (await admin.ok(`query($id: ID!) { node(id: $id) { status operation { state errorCode errorMessage } } }`, { id: nodeId })).node;
      return node.operation.state === 'SUCCEEDED' || node.operation.state === 'FAILED' ? node : null;
    }, 600_000);
    assert.equal(ready.status, 'READY', JSON.stringify(ready.operation));

    // Addresses no live route on the node uses yet (other suites share the lab).
    const routed = (await inNode('ip', '-4', 'route')).stdout + (await inNode('ip', '-6', 'route')).stdout;
    const base = [...Array(12).keys()].map((i) => 128 + i * 8).find((n) => ![0, 1, 2, 3].some((k) => routed.includes(`198.51.100.${n + k} `)))!;
    // Groups without leading zeros, as `ip` prints them.
    const v6net = `2001:db8:${randomInt(0x1000, 0xffff).toString(16)}:${randomInt(0x1000, 0xffff).toString(16)}`;
    await admin.ok(`mutation($c: ID!, $cidr: String!) { createIpPool(input: { clusterId: $c, name: "fw-v4", cidr: $cidr }) { id } }`, { c: clusterId, cidr: `198.51.100.${base}/29` });
    await admin.ok(`mutation($c: ID!, $cidr: String!) { createIpPool(input: { clusterId: $c, name: "fw-v6", cidr: $cidr }) { id } }`, { c: clusterId, cidr: `${v6net}::/64` });
    spoof4 = `198.51.100.${base + 6}`;
    spoof6 = `${v6net}::${randomInt(0x1000, 0xffff).toString(16)}`;

    const customer = await createAccount(admin, 'CUSTOMER');
    owner = (await signInAsNewUser(admin, customer.id, 'CUSTOMER_OWNER')).caller;
    const projectId = (await createProject(owner, customer.id)).id;
    lxdProject = `corral-${projectId.replaceAll('-', '')}`;
    const imageId = (await admin.ok(`{ images { edges { node { id name } } } }`)).images.edges.find((e: any) => e.node.name === 'busybox').node.id;
    const create = async (families: ('IPV4' | 'IPV6')[]) => {
      const name = unique('fw');
      const created = await settled(await owner.gql(`mutation($i: CreateContainerInput!) { createContainer(input: $i) { ${CONTAINER} } }`, { i: { projectId, name, imageId, cpu: 1, memoryMiB: 64, diskMiB: 256 } }));
      madeHere.push(name);
      assert.equal(created.status, 'RUNNING', JSON.stringify(created.operation));
      // Addresses on the stopped container: LXD puts them on eth0 at start.
      await settled(await owner.gql(`mutation($id: ID!) { stopContainer(id: $id) { ${CONTAINER} } }`, { id: created.id }));
      for (const family of families) {
        const added = await settled(await owner.gql(`mutation($i: AddContainerAddressInput!) { addContainerAddress(input: $i) { ${CONTAINER} } }`, { i: { containerId: created.id, family } }));
        assert.equal(added.operation.state, 'SUCCEEDED', JSON.stringify(added.operation));
      }
      const started = await settled(await owner.gql(`mutation($id: ID!) { startContainer(id: $id) { ${CONTAINER} } }`, { id: created.id }));
      assert.equal(started.status, 'RUNNING', JSON.stringify(started.operation));
      const addresses = (await read(created.id)).addresses as { address: string; family: number }[];
      return { id: created.id as string, name, v4: addresses.find((x) => x.family === 4)?.address ?? '', v6: addresses.find((x) => x.family === 6)?.address ?? '' };
    };
    a = await create(['IPV4', 'IPV6']);
    b = await create(['IPV4']);
    // What the address operations' onNetworkChanged hook does once wired: the node's table follows its containers' addresses.
    await server.services.firewall.refresh(nodeId);
    // Listeners in A: busybox httpd holds a connection open while it waits for a request.
    await sh(a.name, 'httpd -p 8080 -h / && httpd -p 22 -h /');
  });

  after(async () => {
    for (const name of madeHere) await lxc(n1, 'delete', '--force', '--project', lxdProject, name).catch(() => undefined);
    await inNode('nft', 'delete', 'table', 'inet', 'corral').catch(() => undefined);
    await server?.stop();
    fs.rmSync(connectScript, { force: true });
    // The lab nodes share this machine's /root/.ssh: take this run's key out again.
    if (corralPublicKey && fs.existsSync(AUTHORIZED_KEYS)) {
      const kept = fs.readFileSync(AUTHORIZED_KEYS, 'utf8').split('\n').filter((line) => line.trim() !== corralPublicKey);
      fs.writeFileSync(AUTHORIZED_KEYS, kept.join('\n'));
    }
  });

  const read = async (id: string) => (await admin.ok(`query($id: ID!) { container(id: $id) { ${CONTAINER} } }`, { id })).container;
  const settled = (res: { data?: unknown; errors?: unknown }) => settledContainer(read, res, 120_000);
  /** A command in the node's network namespace. */
  const inNode = (...args: string[]) => run('ip', ['netns', 'exec', n1.namespace, ...args], { timeout: 20_000 });
  /** A shell command inside a container; exit code and output, never throws for a non-zero exit. */
  const sh = async (name: string, script: string): Promise<{ code: number; out: string }> => {
    try {
      return { code: 0, out: await lxc(n1, 'exec', '--project', lxdProject, name, '--', 'sh', '-c', script) };
    } catch (error) {
      const e = error as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof e.code === 'number' ? e.code : -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
    }
  };
  /** How each of these connections from the node went, all held open together. */
  const connectFromNode = async (targets: [string, number][]) => JSON.parse((await inNode(process.execPath, connectScript, JSON.stringify(targets))).stdout) as string[];
  /** The packet counter of the rule in Corral's table on the node that contains `text`. */
  const counter = async (text: string) => {
    const line = (await inNode('nft', 'list', 'table', 'inet', 'corral')).stdout.split('\n').find((l) => l.includes(text));
    assert.ok(line, `a rule with ${text}`);
    return Number(/counter packets (\d+)/.exec(line!)![1]);
  };
  const setFirewall = async (containerId: string, settings: Record<string, unknown>) => (await owner.ok(SET, { i: { containerId, ...settings } })).setContainerFirewall.firewall;

  test('a container cannot send from an address that is not its own: dropped and counted, while its own addresses work', async () => {
    const iif = `iifname "${routedHostName(a.id)}"`;
    const node4 = n1.address;
    const node6 = (await inNode('ip', '-6', '-o', 'addr', 'show', 'dev', 'eth0', 'scope', 'global')).stdout.match(/inet6 ([0-9a-f:]+)\//)![1]!;
    // Its own addresses reach the node (bounded: the address may still be settling).
    await eventually('A to ping the node from its own IPv4 address', async () => (await sh(a.name, `ping -c 1 -W 1 -I ${a.v4} ${node4}`)).code === 0, 15_000);
    await eventually('A to ping the node from its own IPv6 address', async () => (await sh(a.name, `ping6 -c 1 -W 1 -I ${a.v6} ${node6}`)).code === 0, 15_000);

    // B's address, and one of the pool's that nobody has, put on A's interface by hand.
    await sh(a.name, `ip addr add ${b.v4}/32 dev eth0; ip addr add ${spoof4}/32 dev eth0; ip -6 addr add ${spoof6}/128 dev eth0`);
    try {
      // busybox ip has no `nodad`: a tentative address cannot be sent from, so wait for DAD (about a second; its probes come from ::, which the rules allow).
      await eventually('the added IPv6 address to finish DAD', async () => {
        const shown = (await sh(a.name, 'ip -6 addr show dev eth0')).out;
        if (!shown.includes(spoof6) || new RegExp(`${spoof6}/128[^\\n]*tentative`).test(shown)) throw new Error(`not yet: ${shown}`);
        return true;
      }, 10_000);
      for (const [source, family] of [[b.v4, 4], [spoof4, 4], [spoof6, 6]] as const) {
        const rule = family === 4 ? `${iif} ip saddr` : `${iif} ip6 saddr`;
        const before = await counter(rule);
        const sent = await sh(a.name, family === 4 ? `ping -c 3 -W 1 -I ${source} ${node4}` : `ping6 -c 3 -W 1 -I ${source} ${node6}`);
        assert.notEqual(sent.code, 0, `no reply to a ping from ${source}: ${sent.out}`);
        assert.ok((await counter(rule)) >= before + 3, `the anti-spoofing rule counted the pings from ${source}`);
      }
      // And to the other container (once A no longer holds B's address itself, which would answer locally): B never hears from A-as-someone-else.
      await sh(a.name, `ip addr del ${b.v4}/32 dev eth0`);
      const toB = await sh(a.name, `ping -c 2 -W 1 -I ${spoof4} ${b.v4}`);
      assert.notEqual(toB.code, 0, toB.out);
      assert.equal((await sh(a.name, `ping -c 1 -W 2 -I ${a.v4} ${b.v4}`)).code, 0, 'A reaches B from its own address');
    } finally {
      await sh(a.name, `ip addr del ${b.v4}/32 dev eth0; ip addr del ${spoof4}/32 dev eth0; ip -6 addr del ${spoof6}/128 dev eth0`);
    }
  });

  test('a TCP connection limit of 2 resets the third and fourth connection, over all the container’s addresses together, until it is lifted', async () => {
    assert.deepEqual(await setFirewall(a.id, { tcpConnectionLimit: 2 }), { tcpConnectionLimit: 2, inboundPorts: null });
    const limitRule = 'ct count over 2';
    const before = await counter(limitRule);
    assert.deepEqual(await connectFromNode([[a.v4, 8080], [a.v4, 8080], [a.v4, 8080], [a.v4, 8080]]), ['connected', 'connected', 'reset', 'reset']);
    assert.ok((await counter(limitRule)) >= before + 2);
    // IPv4 and IPv6 count together: one rule over the container's sets of both families. (Bounded
    // retries: the connections just closed leave the count once their close has gone through.)
    await eventually('two of four connections over both families', async () => JSON.stringify(await connectFromNode([[a.v4, 8080], [a.v6, 8080], [a.v6, 8080], [a.v4, 8080]])) === JSON.stringify(['connected', 'connected', 'reset', 'reset']), 10_000);

    assert.deepEqual(await setFirewall(a.id, { tcpConnectionLimit: null }), { tcpConnectionLimit: null, inboundPorts: null });
    assert.deepEqual(await connectFromNode([[a.v4, 8080], [a.v4, 8080], [a.v6, 8080], [a.v4, 8080]]), ['connected', 'connected', 'connected', 'connected']);
    assert.doesNotMatch((await inNode('nft', 'list', 'table', 'inet', 'corral')).stdout, /ct count/);
  });

  test('inbound ports [22]: TCP to 8080 is reset, 22 answers, ICMP passes; all open again with null', async () => {
    assert.deepEqual(await setFirewall(a.id, { inboundPorts: [{ protocol: 'TCP', from: 22 }] }), { tcpConnectionLimit: null, inboundPorts: [{ protocol: 'TCP', from: 22, to: 22 }] });
    assert.deepEqual(await connectFromNode([[a.v4, 8080], [a.v4, 22], [a.v6, 8080], [a.v6, 22]]), ['reset', 'connected', 'reset', 'connected']);
    // From the other container, through the node's forward hook.
    const closed = await sh(b.name, `nc -w 2 ${a.v4} 8080 </dev/null`);
    assert.notEqual(closed.code, 0, closed.out);
    assert.match(closed.out, /refused/i);
    assert.equal((await sh(b.name, `nc -w 2 ${a.v4} 22 </dev/null`)).code, 0);
    assert.match((await inNode('ping', '-c', '1', '-W', '2', a.v4)).stdout, / 0% packet loss/, 'ICMP still passes');
    // The listener was there all along: it is the rule that refused.
    assert.equal((await sh(a.name, `nc -w 2 127.0.0.1 8080 </dev/null`)).code, 0);

    assert.deepEqual(await setFirewall(a.id, { inboundPorts: null }), { tcpConnectionLimit: null, inboundPorts: null });
    assert.deepEqual(await connectFromNode([[a.v4, 8080], [a.v6, 8080]]), ['connected', 'connected']);
    assert.equal((await sh(b.name, `nc -w 2 ${a.v4} 8080 </dev/null`)).code, 0);
  });

  test('an unchanged node keeps its table (and counters); a rebooted node that lost it gets it back at the next reconcile', async () => {
    const iif = `iifname "${routedHostName(a.id)}" ip saddr`;
    const table = async () => (await inNode('nft', 'list', 'table', 'inet', 'corral')).stdout;
    // Something for the counters to show: one spoofed ping.
    await sh(a.name, `ip addr add ${spoof4}/32 dev eth0; ping -c 1 -W 1 -I ${spoof4} ${n1.address}; ip addr del ${spoof4}/32 dev eth0`);
    const before = await counter(iif);
    assert.ok(before > 0);
    await server.services.firewall.refresh(nodeId);
    assert.equal(await counter(iif), before, 'not replaced: the counters are the same');
    const hash = /comment "corral:([0-9a-f]+)"/.exec(await table())![1];
    await inNode('nft', 'delete', 'table', 'inet', 'corral');
    await server.services.firewall.reconcileAll();
    assert.match(await table(), new RegExp(`comment "corral:${hash}"`));
  });
});
