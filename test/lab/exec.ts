import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

export interface RunOptions {
  env?: Record<string, string>;
  /** Written to the command's stdin, which is otherwise closed. */
  input?: string;
  /** The command is killed (SIGKILL) after this long; default 60 s. */
  timeoutMs?: number;
  /** Resolve with the exit code instead of rejecting on a non-zero exit. */
  allowFail?: boolean;
  /** How errors name the command; default the whole command line. */
  label?: string;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The end of a long output, where the reason for a failure usually is. */
function lastLines(text: string, count = 30): string {
  const lines = text.split('\n');
  return lines.length <= count ? text : [`(${lines.length - count} lines before)`, ...lines.slice(-count)].join('\n');
}

/** Commands running now; each leads its own process group, so its helpers can be stopped with it. */
const running = new Set<ChildProcess>();

function killGroup(child: ChildProcess): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

let interrupted = false;

/**
 * Kills every command `run` started that is still going, with the helpers it spawned (debootstrap
 * is a shell script running dpkg and more), and makes later `run` and `waitUntil` calls fail at
 * once. The CLI calls this on SIGINT/SIGTERM so that an interrupted command fails, its cleanup
 * (finally blocks) runs, and no orphans are left. Cleanup itself must not use `run` then, so
 * it sticks to fs calls and umount(8) through `runCleanup`.
 */
export function interrupt(): void {
  interrupted = true;
  for (const child of running) killGroup(child);
}

/** Runs one command to completion, bounded by a timeout; the error names the command and carries stderr. */
export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const line = opts.label ?? [cmd, ...args].join(' ');
  if (interrupted) return Promise.reject(new Error(`${line}: not started, interrupted`));
  return spawnAndWait(cmd, args, opts, timeoutMs, line);
}

/** `run` for cleanup after an interrupt: runs even then. */
export function runCleanup(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return spawnAndWait(cmd, args, opts, opts.timeoutMs ?? 60_000, opts.label ?? [cmd, ...args].join(' '));
}

function spawnAndWait(cmd: string, args: string[], opts: RunOptions, timeoutMs: number, line: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      env: { ...process.env, ...opts.env },
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      detached: true,
    });
    running.add(child);
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child);
    }, timeoutMs);
    child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', (e) => {
      running.delete(child);
      clearTimeout(timer);
      reject(new Error(`${line}: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      running.delete(child);
      clearTimeout(timer);
      if (timedOut) return reject(new Error(`${line}: no answer within ${timeoutMs / 1000} s\n${stderr}`));
      const exit = code ?? 128;
      if (exit !== 0 && !opts.allowFail) {
        return reject(new Error(`${line}: exit ${code ?? signal}\n${lastLines(stderr.trim() || stdout.trim())}`));
      }
      resolve({ code: exit, stdout, stderr });
    });
    if (child.stdin) {
      // A command may exit without reading its input; that is its answer, not ours to fail on.
      child.stdin.on('error', () => {});
      child.stdin.end(opts.input);
    }
  });
}

/**
 * Polls `probe` until it returns true. Used only where the thing waited for offers no event
 * (a TCP port opening, a process going away); the error says what was awaited.
 */
export async function waitUntil(what: string, timeoutMs: number, probe: () => Promise<boolean> | boolean, intervalMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (interrupted) throw new Error(`interrupted while waiting for ${what}`);
    if (await probe()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(intervalMs);
  }
}
