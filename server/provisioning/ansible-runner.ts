import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CorralError, ErrorCode } from '../app/errors';
import { PlaybookOutput, type PlaybookRecap } from './ansible-output';

/** What the node playbook (ansible/node.yml) is told; see ansible/README.md for the contract. */
export interface NodePlaybookVars {
  corral_node_address: string;
  corral_storage_pool: string;
  corral_storage_driver: string;
  corral_client_certificate: string;
  /** "" leaves LXD's trust password as it is. */
  corral_lxd_trust_password: string;
  corral_fabric_asn: number;
}

export interface PlaybookRequest {
  host: string;
  port: number;
  user: string;
  /** Corral's own SSH private key (OpenSSH). */
  privateKey: string;
  /** The pinned host key as known_hosts holds it (`ssh-ed25519 AAAA…`): ansible's ssh must meet exactly this key. */
  hostKeyLine: string;
  vars: NodePlaybookVars;
}

export interface PlaybookResult {
  /** The PLAY RECAP's `changed=` for the host; null when the recap was missing. */
  changed: number | null;
  recap: PlaybookRecap | null;
  /** The output's last part, for the logs. */
  tail: string;
}

/** Runs the node playbook against one node; tests of Corral's own logic put a fake here. */
export interface PlaybookRunner {
  /** `onTask` is called as each task starts (its name as `role : task`, and its number). Fails with NODE_SETUP_FAILED naming the task. */
  run(request: PlaybookRequest, onTask: (name: string, index: number) => Promise<void> | void): Promise<PlaybookResult>;
}

/** The repository's ansible/ directory, next to the compiled code's dist/. */
export const DEFAULT_ANSIBLE_DIR = path.resolve(__dirname, '../../../ansible');

/** A known_hosts line for `host` on `port`: OpenSSH writes `[host]:port` for any port but 22. */
export const knownHostsLine = (host: string, port: number, keyLine: string) => `${port === 22 ? host : `[${host}]:${port}`} ${keyLine}\n`;

/** The failure Corral reports: the failing task (the node's setup step) and its message with the recap. */
export class PlaybookFailedError extends CorralError {
  constructor(
    readonly step: string,
    message: string,
    readonly output: string,
  ) {
    super(ErrorCode.NODE_SETUP_FAILED, message, { step });
  }
}

/**
 * ansible-playbook as a child process: a private temporary directory holds the key, the pinned
 * known_hosts line and the variables (the trust password among them), and is removed afterwards.
 * The run is bounded by `timeoutMs`; past it the whole process group (ansible and its ssh
 * children) is killed.
 */
export class AnsiblePlaybookRunner implements PlaybookRunner {
  constructor(
    readonly ansibleDir: string = DEFAULT_ANSIBLE_DIR,
    private readonly timeoutMs = 30 * 60_000,
    private readonly command = 'ansible-playbook',
  ) {}

  async run(request: PlaybookRequest, onTask: (name: string, index: number) => Promise<void> | void): Promise<PlaybookResult> {
    const playbook = path.join(this.ansibleDir, 'node.yml');
    if (!fs.existsSync(playbook)) throw new CorralError(ErrorCode.NODE_SETUP_FAILED, `the node playbook ${playbook} is missing: set CORRAL_ANSIBLE_DIR to the ansible/ directory of Corral`, { step: 'ansible-playbook' });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-ansible-'));
    try {
      const keyFile = path.join(dir, 'id');
      const knownHosts = path.join(dir, 'known_hosts');
      const varsFile = path.join(dir, 'vars.json');
      fs.writeFileSync(keyFile, request.privateKey.endsWith('\n') ? request.privateKey : `${request.privateKey}\n`, { mode: 0o600 });
      fs.writeFileSync(knownHosts, knownHostsLine(request.host, request.port, request.hostKeyLine), { mode: 0o600 });
      fs.writeFileSync(varsFile, JSON.stringify(request.vars), { mode: 0o600 });
      const args = [
        '-i', `${request.host},`,
        playbook,
        '-e', `@${varsFile}`,
        '-e', `ansible_port=${request.port}`,
        '-e', `ansible_user=${request.user}`,
        '-e', `ansible_ssh_private_key_file=${keyFile}`,
        `--ssh-common-args=-o UserKnownHostsFile=${knownHosts} -o StrictHostKeyChecking=yes`,
      ];
      return await this.spawn(args, dir, onTask);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  private spawn(args: string[], dir: string, onTask: (name: string, index: number) => Promise<void> | void): Promise<PlaybookResult> {
    return new Promise((resolve, reject) => {
      // Progress writes are chained so that they land in order and none is lost when the run ends.
      let progress = Promise.resolve();
      const output = new PlaybookOutput((name, index) => {
        progress = progress.then(() => onTask(name, index)).catch(() => undefined);
      });
      const child = spawn(this.command, args, {
        cwd: this.ansibleDir,
        // Its own process group, so that a timeout ends ansible's ssh children too.
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          ...process.env,
          ANSIBLE_CONFIG: path.join(this.ansibleDir, 'ansible.cfg'),
          // The output Corral parses, whatever ansible.cfg prefers for people.
          ANSIBLE_STDOUT_CALLBACK: 'default',
          ANSIBLE_CALLBACK_RESULT_FORMAT: 'json',
          ANSIBLE_NOCOLOR: '1',
          ANSIBLE_FORCE_COLOR: '0',
          ANSIBLE_RETRY_FILES_ENABLED: 'False',
          ANSIBLE_LOCAL_TEMP: path.join(dir, 'tmp'),
          // ssh's ControlMaster sockets of this run only: a master opened by another run (or by
          // hand) would be reused without checking the host key against this run's pin.
          ANSIBLE_SSH_CONTROL_PATH_DIR: path.join(dir, 'cp'),
          PYTHONUNBUFFERED: '1',
        },
      });
      let timedOut = false;
      let killer: NodeJS.Timeout | undefined;
      const timer = setTimeout(() => {
        timedOut = true;
        const kill = (signal: NodeJS.Signals) => {
          try {
            process.kill(-child.pid!, signal);
          } catch {
            /* already gone */
          }
        };
        kill('SIGTERM');
        killer = setTimeout(() => kill('SIGKILL'), 5_000);
      }, this.timeoutMs);
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => output.push(chunk));
      // stderr carries ansible's own errors (ERROR! …) and warnings: read them the same way.
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => output.push(chunk));
      child.on('error', (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        if (error.code === 'ENOENT') {
          reject(new CorralError(ErrorCode.NODE_SETUP_FAILED, `${this.command} is not installed on the Corral server: install Debian's "ansible" package (apt-get install ansible)`, { step: 'ansible-playbook' }));
        } else {
          reject(new CorralError(ErrorCode.NODE_SETUP_FAILED, `could not run ${this.command}: ${error.message}`, { step: 'ansible-playbook' }));
        }
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        clearTimeout(killer);
        output.end();
        void progress.then(() => {
          const recap = output.recap;
          if (code === 0 && !timedOut) return resolve({ changed: recap?.changed ?? null, recap, tail: output.tail });
          const step = output.failure?.task ?? output.task ?? 'ansible-playbook';
          const why = timedOut
            ? `ansible-playbook did not finish within ${Math.round(this.timeoutMs / 1000)} s and was stopped`
            : (output.failure?.message ?? `ansible-playbook exited with ${code ?? signal}: ${lastLines(output.tail, 20)}`);
          const text = [`${step}: ${why}`, recap ? `PLAY RECAP: ${recap.line}` : null].filter(Boolean).join('\n');
          reject(new PlaybookFailedError(step, text.slice(0, 1_000), `${text}\n\n${lastLines(output.tail, 60)}`));
        });
      });
    });
  }
}

const lastLines = (text: string, n: number) => text.trimEnd().split('\n').slice(-n).join('\n');
