import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generateLicenceKeyPair, issueLicence } from '../../server/licences/licence-document';
import type { Caller } from './client';
import { createAccount, createProject, signInAsAdmin, signInAsNewUser } from './factories';
import { corralInstances, lxc, requireLab, type LabNode } from './lab';
import { forgetCorralKey } from './lab-connect';
import { startTestServer, type TestServer } from './server';

export interface LabCorral {
  server: TestServer;
  nodes: LabNode[];
  admin: Caller;
  /** The owner of a fresh customer account, and that customer's project. */
  owner: Caller;
  projectId: string;
  /** The project's LXD project on every node. */
  lxdProject: string;
  imageIds: Record<string, string>;
  clusterId: string;
  /** Corral's node id by lab node name. */
  nodeIds: Map<string, string>;
  /** Stops Corral and removes whatever the tests left in the project's LXD project. */
  stop(): Promise<void>;
}

/**
 * Corral on the lab, as the end-to-end suites need it: a roomy licence, the lab's busybox image
 * (and others named in `images`) in the repository, a cluster of both lab nodes (joined with addNode,
 * or with `connectOverSsh` connected over SSH and the playbook as a provider would), and a customer
 * with a project.
 */
export async function startLabCorral(options: { env?: Record<string, string>; images?: Record<string, string>; connectOverSsh?: boolean } = {}): Promise<LabCorral> {
  const lab = await requireLab();
  const nodes = lab.nodes.slice(0, 2);
  const imageDir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-images-'));
  for (const [name, file] of Object.entries({ busybox: lab.busybox, ...options.images })) fs.copyFileSync(file, path.join(imageDir, `${name}.tar.gz`));
  const licenceKeys = generateLicenceKeyPair();
  const server = await startTestServer('sqlite', { CORRAL_IMAGE_DIR: imageDir, CORRAL_LICENCE_PUBLIC_KEY: licenceKeys.publicKey, CORRAL_HEALTH_SECONDS: '2', ...options.env });
  const admin = await signInAsAdmin(server.url);
  await admin.ok(`mutation($l: String!) { installLicence(licence: $l) { licensee } }`, {
    l: issueLicence({ licensee: 'Lab', maxNodes: 10, maxContainers: 1000, expiresAt: '2099-01-01T00:00:00Z' }, licenceKeys.privateKey),
  });
  const imageIds = Object.fromEntries(
    (await admin.ok(`{ images { edges { node { id name } } } }`)).images.edges.map((e: any) => [e.node.name, e.node.id]),
  ) as Record<string, string>;
  const clusterId = (await admin.ok(`mutation { createCluster(input: { name: "lab", storageDriver: BTRFS, storagePool: "default" }) { id } }`)).createCluster.id as string;
  const nodeIds = new Map<string, string>();
  if (options.connectOverSsh) {
    // As a provider connects bare servers: SSH with the lab's root key, then the playbook (which converges at once on a set-up node).
    const privateKey = fs.readFileSync(nodes[0]!.ssh.privateKeyPath, 'utf8');
    const started = await Promise.all(
      nodes.map(async (node) => (await admin.ok(`mutation($i: ConnectNodeInput!) { connectNode(input: $i) { id operation { id } } }`, { i: { clusterId, name: node.name, host: node.address, user: node.ssh.user, privateKey } })).connectNode),
    );
    for (const [i, node] of nodes.entries()) {
      await server.services.runner.settled(started[i].operation.id);
      const read = (await admin.ok(`query($id: ID!) { node(id: $id) { status setup { step output } } }`, { id: started[i].id })).node;
      if (read.status !== 'READY') throw new Error(`connectNode of lab node ${node.name} did not end READY: ${JSON.stringify(read)}`);
      nodeIds.set(node.name, started[i].id);
    }
  } else {
    for (const node of nodes) {
      const added = await admin.ok(`mutation($i: AddNodeInput!) { addNode(input: $i) { id } }`, { i: { clusterId, name: node.name, url: node.lxd.url, secret: node.lxd.trustPassword } });
      nodeIds.set(node.name, added.addNode.id);
    }
  }
  const customer = await createAccount(admin, 'CUSTOMER');
  const owner = (await signInAsNewUser(admin, customer.id, 'CUSTOMER_OWNER')).caller;
  const projectId = (await createProject(owner, customer.id)).id;
  const lxdProject = `corral-${projectId.replaceAll('-', '')}`;
  return {
    server,
    nodes,
    admin,
    owner,
    projectId,
    lxdProject,
    imageIds,
    clusterId,
    nodeIds,
    async stop() {
      if (options.connectOverSsh) await forgetCorralKey(server);
      await server.stop();
      for (const node of nodes) {
        for (const key of (await corralInstances(node)).keys()) {
          const [project, name] = key.split('/');
          if (project === lxdProject) await lxc(node, 'delete', '--force', '--project', project, name!);
        }
      }
    },
  };
}
