import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

const MAIN = path.resolve(__dirname, '../../server/main.js');

export interface CorralProcess {
  child: ChildProcess;
  /** Everything printed so far, stdout and stderr together. */
  output(): string;
  /** Resolves with the first line matching, or rejects after `ms`. */
  waitFor(pattern: RegExp, ms?: number): Promise<string>;
  exited: Promise<number | null>;
  url(): Promise<string>;
}

/** `node dist/server/main.js` as a separate process, exactly as `npm start` runs it. */
export function spawnCorral(env: Record<string, string | undefined>): CorralProcess {
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH, NODE_ENV: 'test', HOST: '127.0.0.1', PORT: '0', CORRAL_PORTAL: 'false', LOG_LEVEL: 'info', ...env } as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  const onData = (chunk: Buffer) => {
    output += chunk.toString();
    for (const w of [...waiters]) {
      const line = output.split('\n').find((l) => w.pattern.test(l));
      if (line) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const waitFor = (pattern: RegExp, ms = 20_000) =>
    new Promise<string>((resolve, reject) => {
      const line = output.split('\n').find((l) => pattern.test(l));
      if (line) return resolve(line);
      const timer = setTimeout(() => reject(new Error(`no line matching ${pattern} within ${ms} ms; output:\n${output}`)), ms);
      waiters.push({ pattern, resolve: (l) => (clearTimeout(timer), resolve(l)) });
      void exited.then(() => setTimeout(() => reject(new Error(`corral exited before printing ${pattern}; output:\n${output}`)), 50));
    });
  return {
    child,
    output: () => output,
    waitFor,
    exited,
    url: async () => JSON.parse(await waitFor(/corral is listening/)).url as string,
  };
}
