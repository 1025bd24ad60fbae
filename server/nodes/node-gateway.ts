import type { Image } from '../images/image.entity';
import type { Node } from './node.entity';

/** An instance as Corral needs to know it. */
export interface InstanceSummary {
  project: string;
  name: string;
  /** LXD's status: Running, Stopped, Frozen, Error… */
  status: string;
}

export interface InstanceSpec {
  name: string;
  image: Image;
  cpu: number;
  memoryBytes: number;
  diskBytes: number;
  storagePool: string;
  /** `{ 'cloud-init.user-data': '#cloud-config…' }` from `cloudInitConfig` (containers/cloud-init.ts), or nothing. */
  userData?: Record<string, string>;
  /** The routed eth0 with the container's public addresses and the cloud-init key that leaves eth0 to liblxc, from `routedNetworkAtCreate` (network/routed-nic.ts). */
  network?: { config: Record<string, string>; devices: Record<string, Record<string, string>> };
}

export interface NodeCapacity {
  cpuThreads: number;
  memoryBytes: number;
  diskBytes: number;
}

export interface LifecycleEvent {
  project: string;
  /** e.g. `instance-started`, `instance-stopped`, `instance-deleted`. */
  action: string;
  instance: string;
}

/**
 * Everything Corral asks of a node, in Corral's terms. The LXD implementation is
 * `lxd-gateway.ts`; unit tests of Corral's own logic may use a fake. Every method is idempotent
 * and bounded in time.
 */
export interface NodeGateway {
  /** Trusts Corral's certificate on a node reached for the first time; returns the pinned certificate. */
  enrol(url: string, secret: string): Promise<{ serverCertificate: string; fingerprint: string }>;
  /** Corral's LXD client certificate (PEM), which the node playbook makes LXD trust. */
  clientCertificate(): Promise<string>;
  /** Whether the node's LXD, reached through its pinned certificate, trusts Corral's client certificate (`GET /1.0` auth). */
  trusted(node: Node): Promise<boolean>;
  capacity(node: Node, storagePool: string): Promise<NodeCapacity>;
  ensureProject(node: Node, project: string, storagePool: string): Promise<void>;
  ensureImage(node: Node, image: Image): Promise<void>;
  createInstance(node: Node, project: string, spec: InstanceSpec): Promise<void>;
  /** null when the instance does not exist. */
  instanceStatus(node: Node, project: string, name: string): Promise<string | null>;
  setState(node: Node, project: string, name: string, action: 'start' | 'stop' | 'restart', force: boolean): Promise<void>;
  deleteInstance(node: Node, project: string, name: string): Promise<void>;
  listInstances(node: Node): Promise<InstanceSummary[]>;
  /** Opens the node's event stream; resolves once it is open. */
  watch(node: Node, onEvent: (event: LifecycleEvent) => void, onClose: (error?: unknown) => void): Promise<{ close(): void }>;
  /** Forgets cached connections to a node (its certificate or address changed, or it was removed). */
  forget(nodeId: string): void;
  close(): Promise<void>;
}

/** Each tenant project is an LXD project of the same identity on every node. */
export const lxdProjectOf = (projectId: string) => `corral-${projectId.replaceAll('-', '')}`;
export const projectIdOfLxdProject = (lxdProject: string): string | null => {
  const match = /^corral-([0-9a-f]{8})([0-9a-f]{4})([0-9a-f]{4})([0-9a-f]{4})([0-9a-f]{12})$/.exec(lxdProject);
  return match ? match.slice(1).join('-') : null;
};
