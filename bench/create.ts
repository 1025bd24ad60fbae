import 'reflect-metadata';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInstance, deleteInstance, setInstanceState } from '../server/lxd/instances';
import { getImage, uploadImage } from '../server/lxd/images';
import { generateLicenceKeyPair, issueLicence } from '../server/licences/licence-document';
import { createAccount, createProject, signInAsAdmin, signInAsNewUser } from '../test/support/factories';
import { requireLab } from '../test/support/lab';
import { startTestServer } from '../test/support/server';
import { directClients } from './direct';
import { timed } from './measure';

/**
 * `npm run bench:create`: create and start 20 containers through Corral (GraphQL over HTTP, until
 * the operation has finished) and the same 20 through LXD's API directly, one after another and
 * 4 at a time, on the lab's two nodes. Prints medians and the ratio. Needs `npm run lab -- up` (the nodes are then set up through connectNode).
 */
const COUNT = Number(process.env.BENCH_COUNT ?? 20);
const PARALLEL = 4;

async function main() {
  const lab = await requireLab();
  const nodes = lab.nodes.slice(0, 2);
  const imageDir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-bench-'));
  fs.copyFileSync(lab.busybox, path.join(imageDir, 'busybox.tar.gz'));
  const keys = generateLicenceKeyPair();
  const server = await startTestServer('sqlite', { CORRAL_IMAGE_DIR: imageDir, CORRAL_LICENCE_PUBLIC_KEY: keys.publicKey });
  try {
    const admin = await signInAsAdmin(server.url);
    await admin.ok(`mutation($l: String!) { installLicence(licence: $l) { licensee } }`, {
      l: issueLicence({ licensee: 'Benchmark', maxNodes: 10, maxContainers: 1000, expiresAt: '2099-01-01T00:00:00Z' }, keys.privateKey),
    });
    const imageId = (await admin.ok(`{ images { edges { node { id } } } }`)).images.edges[0].node.id;
    const clusterId = (await admin.ok(`mutation { createCluster(input: { name: "bench", cpuOvercommit: 32 }) { id } }`)).createCluster.id;
    for (const node of nodes) {
      await admin.ok(`mutation($i: AddNodeInput!) { addNode(input: $i) { id } }`, { i: { clusterId, name: node.name, url: node.lxd.url, secret: node.lxd.trustPassword } });
    }
    const customer = await createAccount(admin, 'CUSTOMER');
    const { caller: owner } = await signInAsNewUser(admin, customer.id, 'CUSTOMER_OWNER');
    const projectId = (await createProject(owner, customer.id)).id;

    // Direct LXD: our own trusted client, a project like Corral's, the image already on both nodes.
    const direct = await directClients(nodes, 'bench-direct');
    const fingerprint = (await server.db.query(`SELECT fingerprint FROM images`))[0].fingerprint as string;
    for (const client of direct) if (!(await getImage(client, fingerprint))) await uploadImage(client, path.join(imageDir, 'busybox.tar.gz'));

    const corralCreate = (label: string) => async (i: number) => {
      const res = await owner.ok(`mutation($i: CreateContainerInput!) { createContainer(input: $i) { id operation { id } } }`, {
        i: { projectId, name: `${label}-${i}`, imageId, cpu: 1, memoryMiB: 64, diskMiB: 128 },
      });
      await server.services.runner.settled(res.createContainer.operation.id);
      const op = await server.db.query(`SELECT state FROM operations WHERE id = ?`, [res.createContainer.operation.id]);
      if (op[0].state !== 'SUCCEEDED') throw new Error(`create ${label}-${i} ended ${op[0].state}`);
    };
    const directCreate = (label: string) => async (i: number) => {
      const client = direct[i % direct.length]!;
      await createInstance(client, 'bench-direct', {
        name: `${label}-${i}`,
        source: { type: 'image', fingerprint },
        config: { 'limits.cpu': '1', 'limits.memory': `${64 * 1024 * 1024}B` },
        devices: { root: { type: 'disk', path: '/', pool: 'default', size: `${128 * 1024 * 1024}B` } },
      });
      await setInstanceState(client, 'bench-direct', `${label}-${i}`, { action: 'start' });
    };

    // Warm both paths once (image unpacked on each node, connections open).
    await corralCreate('warm')(0);
    await corralCreate('warm')(1);
    await directCreate('warm')(0);
    await directCreate('warm')(1);

    const rows: [string, { median: number; total: number }, { median: number; total: number }][] = [];
    rows.push(['one after another', await timed(COUNT, 1, corralCreate('seq')), await timed(COUNT, 1, directCreate('seq'))]);
    rows.push([`${PARALLEL} at a time`, await timed(COUNT, PARALLEL, corralCreate('par')), await timed(COUNT, PARALLEL, directCreate('par'))]);

    console.log(`\ncreate + start ${COUNT} busybox containers on ${nodes.length} lab nodes`);
    console.log('mode                 | Corral median | LXD median | ratio | Corral total | LXD total | ratio');
    for (const [mode, c, l] of rows) {
      console.log(
        `${mode.padEnd(20)} | ${c.median.toFixed(0).padStart(10)} ms | ${l.median.toFixed(0).padStart(7)} ms | ${(c.median / l.median).toFixed(2)} | ${c.total.toFixed(0).padStart(9)} ms | ${l.total.toFixed(0).padStart(6)} ms | ${(c.total / l.total).toFixed(2)}`,
      );
    }

    // Tidy up: Corral's through Corral, ours directly.
    const all = await owner.ok(`query($p: ID!) { containers(projectId: $p, first: 100) { edges { node { id } } } }`, { p: projectId });
    for (const e of all.containers.edges) {
      const res = await owner.ok(`mutation($id: ID!) { deleteContainer(id: $id) { operation { id } } }`, { id: e.node.id });
      await server.services.runner.settled(res.deleteContainer.operation.id);
      const [op] = await server.db.query(`SELECT state, "errorMessage" FROM operations WHERE id = ?`, [res.deleteContainer.operation.id]);
      if (op.state !== 'SUCCEEDED') console.error(`deleting a benchmark container ended ${op.state}: ${op.errorMessage}`);
    }
    for (const label of ['warm', 'seq', 'par']) {
      for (let i = 0; i < COUNT; i++) await deleteInstance(direct[i % direct.length]!, 'bench-direct', `${label}-${i}`).catch(() => undefined);
    }
    await Promise.all(direct.map((c) => c.close()));
  } finally {
    await server.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
