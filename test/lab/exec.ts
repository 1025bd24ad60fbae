import { spawn } from 'node:child_process';
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

/** Runs one command to completion, bounded by a timeout; the error names the command and carries stderr. */
export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const line = opts.label ?? [cmd, ...args].join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      env: { ...process.env, ...opts.env },
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`${line}: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) return reject(new Error(`${line}: no answer within ${timeoutMs / 1000} s\n${stderr}`));
      const exit = code ?? 128;
      if (exit !== 0 && !opts.allowFail) {
        return reject(new Error(`${line}: exit ${code ?? signal}\n${stderr.trim() || stdout.trim()}`));
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
    if (await probe()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(intervalMs);
  }
}
