import fs from 'node:fs';
import path from 'node:path';
import { run } from './exec';
import { unmountBelow } from './proc';
import { DEBIAN_IMAGE, IMAGE_DIR } from './layout';

const SUITE = 'bookworm';
/**
 * systemd-sysv provides /sbin/init. debootstrap does not resolve virtual packages, so the one
 * providing python3-cryptography's `python3-cffi-backend-api-*` (for cloud-init) is named here.
 */
const PACKAGES = ['systemd', 'systemd-sysv', 'openssh-server', 'cloud-init', 'python3-cffi-backend', 'iproute2', 'netbase', 'ca-certificates'];
/** Downloaded .debs, kept beside the images so a rebuild does not fetch them again. */
const DEB_CACHE = path.join(path.dirname(IMAGE_DIR), 'debootstrap-debs');
/** debootstrap's own log of a failed build, kept beside the images until a build succeeds. */
const FAILED_LOG = path.join(IMAGE_DIR, 'debian12.debootstrap.log');

/**
 * The mirror apt on this machine uses (deb822 or one-line sources), so debootstrap fetches
 * through the same configured mirror and nothing else.
 */
function configuredMirror(): string {
  const files = ['/etc/apt/sources.list', ...(fs.existsSync('/etc/apt/sources.list.d') ? fs.readdirSync('/etc/apt/sources.list.d').map((f) => path.join('/etc/apt/sources.list.d', f)) : [])];
  for (const file of files.filter((f) => fs.existsSync(f))) {
    const text = fs.readFileSync(file, 'utf8');
    const deb822 = /^URIs:\s*(\S+)\s*\nSuites:\s*[^\n]*\bbookworm\b(?!-)/m.exec(text);
    if (deb822) return deb822[1];
    const oneLine = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm\s/m.exec(text);
    if (oneLine) return oneLine[1];
  }
  throw new Error('no Debian bookworm mirror found in /etc/apt/sources.list*');
}

function metadataYaml(): string {
  return [
    'architecture: x86_64',
    `creation_date: ${Math.floor(Date.now() / 1000)}`,
    'properties:',
    '  os: debian',
    '  release: bookworm',
    '  description: Debian 12 (Corral lab, debootstrap with systemd, openssh-server, cloud-init)',
    '',
  ].join('\n');
}

/**
 * What a Debian rootfs needs to boot cleanly as an LXD container: an empty machine-id (systemd
 * makes one at first boot), per-container SSH host keys, the locale cloud-init sets by default
 * (`update-locale LANG=en_US.UTF-8` fails unless it is generated, and cloud-config.service with
 * it), and no binfmt_misc setup, which containers may not mount.
 */
async function fitForContainers(rootfs: string): Promise<void> {
  fs.writeFileSync(path.join(rootfs, 'etc/machine-id'), '');
  fs.rmSync(path.join(rootfs, 'var/lib/dbus/machine-id'), { force: true });
  fs.writeFileSync(path.join(rootfs, 'etc/hostname'), 'debian\n');
  // Debian's ssh.service does not make missing host keys, and cloud-init only does when it finds
  // a datasource, so sshd makes them itself. An empty ExecStartPre= clears the unit's own list,
  // whose `sshd -t` would otherwise fail first.
  for (const f of fs.readdirSync(path.join(rootfs, 'etc/ssh')).filter((f) => f.startsWith('ssh_host_'))) {
    fs.rmSync(path.join(rootfs, 'etc/ssh', f));
  }
  const dropIn = path.join(rootfs, 'etc/systemd/system/ssh.service.d');
  fs.mkdirSync(dropIn, { recursive: true });
  fs.writeFileSync(path.join(dropIn, 'host-keys.conf'), '[Service]\nExecStartPre=\nExecStartPre=/usr/bin/ssh-keygen -A\nExecStartPre=/usr/sbin/sshd -t\n');
  fs.symlinkSync('/dev/null', path.join(rootfs, 'etc/systemd/system/systemd-binfmt.service'));
  const localeGen = path.join(rootfs, 'etc/locale.gen');
  fs.writeFileSync(localeGen, fs.readFileSync(localeGen, 'utf8').replace(/^# *(en_US\.UTF-8 UTF-8)$/m, '$1'));
  await run('chroot', [rootfs, 'locale-gen'], { timeoutMs: 300_000 });
  fs.writeFileSync(path.join(rootfs, 'etc/default/locale'), 'LANG=en_US.UTF-8\n');
  fs.rmSync(path.join(rootfs, 'var/cache/apt/archives'), { recursive: true, force: true });
  fs.mkdirSync(path.join(rootfs, 'var/cache/apt/archives/partial'), { recursive: true });
  fs.rmSync(path.join(rootfs, 'var/lib/apt/lists'), { recursive: true, force: true });
  fs.mkdirSync(path.join(rootfs, 'var/lib/apt/lists/partial'), { recursive: true });
}

/** Debian 12 image (slow: debootstrap). Only `npm run lab -- image debian` builds it. */
export async function ensureDebianImage(opts: { log?: (line: string) => void } = {}): Promise<string> {
  const log = opts.log ?? (() => {});
  if (fs.existsSync(DEBIAN_IMAGE)) return DEBIAN_IMAGE;
  if (process.getuid?.() !== 0) throw new Error('building the Debian image needs root (debootstrap)');
  fs.mkdirSync(IMAGE_DIR, { recursive: true });
  const work = fs.mkdtempSync(path.join(IMAGE_DIR, '.debian-'));
  try {
    const rootfs = path.join(work, 'rootfs');
    const mirror = configuredMirror();
    log(`debootstrap ${SUITE} from ${mirror}`);
    fs.mkdirSync(DEB_CACHE, { recursive: true });
    await run('debootstrap', ['--variant=minbase', `--cache-dir=${DEB_CACHE}`, `--include=${PACKAGES.join(',')}`, SUITE, rootfs, mirror], { timeoutMs: 1_800_000 }).catch((e: Error) => {
      // The reason is in debootstrap's own log, which would go with the scratch directory.
      const bootstrapLog = path.join(rootfs, 'debootstrap/debootstrap.log');
      if (!fs.existsSync(bootstrapLog)) throw e;
      fs.copyFileSync(bootstrapLog, FAILED_LOG);
      throw new Error(`${e.message}\nsee ${FAILED_LOG}`);
    });
    await fitForContainers(rootfs);
    fs.writeFileSync(path.join(work, 'metadata.yaml'), metadataYaml());
    log('tar');
    const partial = path.join(work, 'debian12.tar.gz');
    await run('tar', ['--numeric-owner', '--xattrs', '-C', work, '-czf', partial, 'metadata.yaml', 'rootfs'], { timeoutMs: 600_000 });
    fs.renameSync(partial, DEBIAN_IMAGE);
    fs.rmSync(FAILED_LOG, { force: true });
  } finally {
    await unmountBelow(work);
    fs.rmSync(work, { recursive: true, force: true });
  }
  return DEBIAN_IMAGE;
}
