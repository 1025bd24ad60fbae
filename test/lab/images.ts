import fs from 'node:fs';
import path from 'node:path';
import { run } from './exec';
import { BUSYBOX_IMAGE, IMAGE_DIR } from './layout';

/**
 * PID 1 of the busybox image. LXD stops a container cleanly by sending SIGPWR to init (liblxc's
 * default halt signal) and waiting for it to exit. busybox's own init handles SIGPWR too, but its
 * shutdown sequence sleeps about two seconds; this script stops in well under one, which the
 * tests feel on every stop. `wait` returns as soon as a trapped signal arrives; it also reaps
 * orphans that get re-parented to init.
 */
const INIT = `#!/bin/sh
# Corral lab image init: stays up until LXD asks it to stop.
stop() {
  kill -TERM -1 2>/dev/null
  exit 0
}
trap stop PWR TERM
ip link set lo up 2>/dev/null
while :; do
  sleep 86400 &
  wait $!
done
`;

/** Writes `content` to `root/rel`, making parent directories. */
function put(root: string, rel: string, content: string, mode = 0o644): void {
  const file = path.join(root, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content, { mode });
  fs.chmodSync(file, mode);
}

/** The rootfs: busybox from busybox-static, a symlink per applet, root's account files, the init above. */
async function buildBusyboxRootfs(rootfs: string): Promise<void> {
  for (const dir of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'etc', 'root', 'proc', 'sys', 'dev', 'run', 'var/log']) {
    fs.mkdirSync(path.join(rootfs, dir), { recursive: true, mode: 0o755 });
  }
  fs.chmodSync(path.join(rootfs, 'root'), 0o700);
  fs.mkdirSync(path.join(rootfs, 'tmp'));
  fs.chmodSync(path.join(rootfs, 'tmp'), 0o1777);
  fs.copyFileSync('/bin/busybox', path.join(rootfs, 'bin/busybox'));
  fs.chmodSync(path.join(rootfs, 'bin/busybox'), 0o755);
  const applets = (await run('/bin/busybox', ['--list-full'])).stdout.split('\n').filter(Boolean);
  for (const applet of applets) {
    const link = path.join(rootfs, applet);
    if (applet === 'bin/busybox' || applet === 'sbin/init' || fs.existsSync(link)) continue;
    fs.mkdirSync(path.dirname(link), { recursive: true });
    fs.symlinkSync('/bin/busybox', link);
  }
  put(rootfs, 'sbin/init', INIT, 0o755);
  put(rootfs, 'etc/passwd', 'root:x:0:0:root:/root:/bin/sh\n');
  put(rootfs, 'etc/group', 'root:x:0:\n');
  // Locked until someone sets a password; the shadow file has to exist for passwd(1).
  put(rootfs, 'etc/shadow', 'root:*:19000:0:99999:7:::\n', 0o600);
  put(rootfs, 'etc/hosts', '127.0.0.1 localhost\n::1 localhost\n');
  put(rootfs, 'etc/os-release', 'NAME="BusyBox"\nID=busybox\nPRETTY_NAME="Corral lab busybox"\n');
}

function metadataYaml(): string {
  return [
    'architecture: x86_64',
    `creation_date: ${Math.floor(Date.now() / 1000)}`,
    'properties:',
    '  os: busybox',
    '  description: Corral lab busybox (built locally from busybox-static)',
    '',
  ].join('\n');
}

/**
 * A unified LXD image tarball (metadata.yaml + rootfs/), about 1 MB. Built in a scratch
 * directory beside the cache and renamed into place, so a half-built file is never cached.
 */
export async function ensureBusyboxImage(): Promise<string> {
  if (fs.existsSync(BUSYBOX_IMAGE)) return BUSYBOX_IMAGE;
  fs.mkdirSync(IMAGE_DIR, { recursive: true });
  const work = fs.mkdtempSync(path.join(IMAGE_DIR, '.busybox-'));
  try {
    await buildBusyboxRootfs(path.join(work, 'rootfs'));
    fs.writeFileSync(path.join(work, 'metadata.yaml'), metadataYaml());
    const partial = path.join(work, 'busybox.tar.gz');
    await run('tar', ['--numeric-owner', '--owner=0', '--group=0', '-C', work, '-czf', partial, 'metadata.yaml', 'rootfs']);
    fs.renameSync(partial, BUSYBOX_IMAGE);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  return BUSYBOX_IMAGE;
}
