import type { DataSource } from 'typeorm';
import { CorralError, ErrorCode } from '../app/errors';
import type { Logger } from '../app/logger';
import { lxdProjectOf } from '../nodes/node-gateway';
import { Node } from '../nodes/node.entity';
import type { Operation } from '../operations/operation.entity';
import type { OperationHandler, Step } from '../operations/runner';
import { Container } from './container.entity';
import { parseSize, type ResourcesGateway } from './resources.gateway';
import { checkShrink } from './resources.service';
import { nodeFailure } from '../operations/node-failure';

const MiB = 1024 * 1024;

/** The LXD config keys for a resources change (see UpdateContainerResourcesInput). */
export function limitsConfig(input: Record<string, unknown>): Record<string, string> {
  const config: Record<string, string> = {};
  if (typeof input.cpu === 'number') config['limits.cpu'] = String(input.cpu);
  if (typeof input.memoryMiB === 'number') config['limits.memory'] = `${input.memoryMiB * MiB}B`;
  // `N%` would only be a weight; `Nms/100ms` is a CFS quota, a hard cap.
  if (typeof input.cpuLimitPercent === 'number') config['limits.cpu.allowance'] = `${input.cpuLimitPercent}ms/100ms`;
  if (typeof input.cpuWeight === 'number') config['limits.cpu.priority'] = String(input.cpuWeight);
  return config;
}

/** The handlers of live resource changes. Both are safe to run twice (PATCHing the same values again). */
export function resourceHandlers(db: DataSource, gateway: ResourcesGateway, log: Logger): Record<string, OperationHandler> {
  async function load(operation: Operation) {
    const container = await db.manager.findOneBy(Container, { id: operation.containerId! });
    if (!container) throw new CorralError(ErrorCode.NOT_FOUND, 'the container is gone');
    const node = await db.manager.findOneByOrFail(Node, { id: container.nodeId });
    return { container, node, project: lxdProjectOf(container.projectId) };
  }

  const updateResources: OperationHandler = {
    async run(operation: Operation, step: Step) {
      const { container, node, project } = await load(operation);
      const wanted = limitsConfig(operation.input);
      await step.progress(30, 'applying the limits');
      let applied: Record<string, string>;
      try {
        applied = await gateway.patchConfig(node, project, container.name, wanted);
      } catch (error) {
        throw nodeFailure(error, 'the limits');
      }
      const differ = Object.entries(wanted).filter(([key, value]) => applied[key] !== value);
      if (differ.length) throw new CorralError(ErrorCode.LXD_ERROR, `the node kept other values for ${differ.map(([k]) => k).join(', ')}`);
      const input = operation.input;
      await db.manager.update(Container, { id: container.id }, {
        ...(typeof input.cpu === 'number' ? { cpu: input.cpu } : {}),
        ...(typeof input.memoryMiB === 'number' ? { memoryBytes: input.memoryMiB * MiB } : {}),
        ...(typeof input.cpuLimitPercent === 'number' ? { cpuLimitPercent: input.cpuLimitPercent } : {}),
        ...(typeof input.cpuWeight === 'number' ? { cpuWeight: input.cpuWeight } : {}),
      });
    },
    recover: (operation, step) => updateResources.run(operation, step),
  };

  const resizeDisk: OperationHandler = {
    async run(operation: Operation, step: Step) {
      const { container, node, project } = await load(operation);
      const bytes = (operation.input.diskMiB as number) * MiB;
      await step.progress(20, 'reading the disk');
      let disk;
      try {
        disk = await gateway.rootDisk(node, project, container.name);
      } catch (error) {
        throw nodeFailure(error, 'reading the disk');
      }
      if (!disk) throw new CorralError(ErrorCode.CONFLICT, 'the instance is missing on its node');
      // Usage may have grown since the request was accepted.
      if (bytes < (disk.sizeBytes ?? container.diskBytes)) await checkShrink(gateway, node, container, bytes);
      await step.progress(50, 'resizing the disk');
      try {
        const device = await gateway.setRootDisk(node, project, container.name, { ...disk.device, size: `${bytes}B` });
        if (parseSize(device.size) !== bytes) throw new CorralError(ErrorCode.LXD_ERROR, `the node kept the disk at ${device.size}`);
      } catch (error) {
        // btrfs can keep the new qgroup limit although LXD's config kept the old size: put the old size back.
        const previous = disk.device.size ? disk.device : { ...disk.device, size: `${container.diskBytes}B` };
        try {
          await gateway.setRootDisk(node, project, container.name, previous);
        } catch (again) {
          log.error({ err: again, container: container.id }, 'could not re-apply the previous disk size after a failed resize');
        }
        const failure = nodeFailure(error, 'the new disk size');
        throw new CorralError(failure.code, `${failure.message}; the disk keeps its size of ${previous.size}`, failure.details);
      }
      await db.manager.update(Container, { id: container.id }, { diskBytes: bytes });
    },
    recover: (operation, step) => resizeDisk.run(operation, step),
  };

  const setIoLimits: OperationHandler = {
    async run(operation: Operation, step: Step) {
      const { container, node, project } = await load(operation);
      const input = operation.input as Record<string, number | undefined>;
      await step.progress(30, 'applying the IO limits');
      try {
        const devices = await gateway.devices(node, project, container.name);
        if (!devices?.root) throw new CorralError(ErrorCode.CONFLICT, 'the instance has no root disk on its node');
        const root = { ...devices.root };
        // Mbit/s in bytes per second: 1 Mbit = 125 000 bytes.
        if (input.readIops !== undefined) root['limits.read'] = `${input.readIops}iops`;
        if (input.readMbit !== undefined) root['limits.read'] = `${input.readMbit * 125_000}B`;
        if (input.writeIops !== undefined) root['limits.write'] = `${input.writeIops}iops`;
        if (input.writeMbit !== undefined) root['limits.write'] = `${input.writeMbit * 125_000}B`;
        const config = input.weight !== undefined ? { 'limits.disk.priority': String(input.weight) } : undefined;
        await gateway.patchInstance(node, project, container.name, { ...(config ? { config } : {}), devices: { root } });
      } catch (error) {
        throw nodeFailure(error, 'the IO limits');
      }
    },
    recover: (operation, step) => setIoLimits.run(operation, step),
  };

  const setNetworkLimits: OperationHandler = {
    async run(operation: Operation, step: Step) {
      const { container, node, project } = await load(operation);
      const input = operation.input as Record<string, number | undefined>;
      await step.progress(30, 'applying the network limits');
      try {
        const devices = (await gateway.devices(node, project, container.name)) ?? {};
        const nics: Record<string, Record<string, string>> = {};
        for (const [name, device] of Object.entries(devices)) {
          if (device.type !== 'nic') continue;
          nics[name] = {
            ...device,
            ...(input.ingressMbit !== undefined ? { 'limits.ingress': `${input.ingressMbit}Mbit` } : {}),
            ...(input.egressMbit !== undefined ? { 'limits.egress': `${input.egressMbit}Mbit` } : {}),
          };
        }
        const config = input.weight !== undefined ? { 'limits.network.priority': String(input.weight) } : undefined;
        await gateway.patchInstance(node, project, container.name, { ...(config ? { config } : {}), ...(Object.keys(nics).length ? { devices: nics } : {}) });
      } catch (error) {
        throw nodeFailure(error, 'the network limits');
      }
    },
    recover: (operation, step) => setNetworkLimits.run(operation, step),
  };

  return { 'container.updateResources': updateResources, 'container.resizeDisk': resizeDisk, 'container.setIoLimits': setIoLimits, 'container.setNetworkLimits': setNetworkLimits };
}
