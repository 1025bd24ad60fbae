import fs from 'node:fs';
import { run, runCleanup, waitUntil } from './exec';

/** The command line of a live (non-zombie) process, or null. */
export function cmdline(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The state letter follows the parenthesised command name, which may itself hold spaces.
    if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return null;
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return null;
  }
}

/**
 * Whether the pid in `pidFile` is alive and is the process we mean: pids get reused, so the
 * command line has to contain `marker` (a path only that process carries).
 */
export function pidFromFile(pidFile: string, marker: string): number | null {
  let pid: number;
  try {
    pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
  } catch {
    return null;
  }
  if (!Number.isInteger(pid) || pid <= 0) return null;
  return cmdline(pid)?.includes(marker) ? pid : null;
}

/** Live processes whose command line contains `marker`, except this one. */
export function pidsWithMarker(marker: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    if (cmdline(pid)?.includes(marker)) pids.push(pid);
  }
  return pids;
}

/** Processes attached to a network namespace (`ip netns pids`); empty if it is gone. */
export async function netnsPids(namespace: string): Promise<number[]> {
  const r = await run('ip', ['netns', 'pids', namespace], { allowFail: true });
  if (r.code !== 0) return [];
  return r.stdout.split(/\s+/).filter(Boolean).map(Number).filter((p) => p !== process.pid && cmdline(p) !== null);
}

/** SIGTERM, then SIGKILL for whatever is still there after `graceMs`; resolves once all are gone. */
export async function terminate(pids: number[], what: string, graceMs = 5_000): Promise<void> {
  const alive = () => pids.filter((p) => cmdline(p) !== null);
  const signal = (sig: NodeJS.Signals) => {
    for (const p of alive()) {
      try {
        process.kill(p, sig);
      } catch {
        // Already gone.
      }
    }
  };
  if (alive().length === 0) return;
  signal('SIGTERM');
  try {
    await waitUntil(`${what} to exit after SIGTERM`, graceMs, () => alive().length === 0);
  } catch {
    signal('SIGKILL');
    await waitUntil(`${what} (pids ${alive().join(', ')}) to exit after SIGKILL`, 10_000, () => alive().length === 0);
  }
}

/** Mount points at or below `dir` in this mount namespace, deepest first. */
export function mountsBelow(dir: string): string[] {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4]?.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((target): target is string => target !== undefined && (target === dir || target.startsWith(`${dir}/`)))
    .sort((a, b) => b.length - a.length);
}

/**
 * Unmounts everything at or below `dir`. Must precede any recursive delete: Node's rm crosses
 * mount points, and debootstrap bind-mounts host files and mounts /proc and /sys in its target.
 */
export async function unmountBelow(dir: string): Promise<void> {
  for (const target of mountsBelow(dir)) await runCleanup('umount', ['--lazy', target], { allowFail: true });
  const left = mountsBelow(dir);
  if (left.length) throw new Error(`still mounted below ${dir}: ${left.join(', ')}`);
}
