import { createHash } from 'node:crypto';
import { Client } from 'ssh2';
import { CorralError, ErrorCode } from '../app/errors';

export interface SshTarget {
  host: string;
  port: number;
  user: string;
  password?: string;
  privateKey?: string;
  /** The pinned host key fingerprint (`SHA256:…`); null the first time. A different key aborts before authentication. */
  hostKey: string | null;
  timeoutMs: number;
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface SshSession {
  /** The host key the node presented, as OpenSSH prints it: `SHA256:` and unpadded base64. */
  readonly hostKey: string;
  /**
   * The same key as OpenSSH writes it in known_hosts (`ssh-ed25519 AAAA…`), so that tools that
   * open their own connection (ansible-playbook) are held to the key this session verified.
   * Optional only so that test fakes may leave it out; the real transport always gives it.
   */
  readonly hostKeyLine?: string;
  exec(command: string): Promise<ExecResult>;
  close(): void;
}

/** How Corral reaches a node over SSH; tests use a fake. */
export interface SshTransport {
  open(target: SshTarget): Promise<SshSession>;
}

/** OpenSSH's fingerprint of a host key blob. */
export const sshFingerprint = (key: Buffer) => `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;

/** A host key blob as known_hosts holds it: its type (the blob's first SSH string) and the blob in base64. */
export function sshKeyLine(key: Buffer): string {
  const length = key.length >= 4 ? key.readUInt32BE(0) : 0;
  const type = key.subarray(4, 4 + length).toString('ascii');
  if (length === 0 || length > 64 || 4 + length > key.length || !/^[a-z0-9@.-]+$/.test(type)) throw new Error('not an SSH public key blob');
  return `${type} ${key.toString('base64')}`;
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNRESET']);

/** ssh2, with every failure mapped to a typed error and every wait bounded. */
export class Ssh2Transport implements SshTransport {
  open(target: SshTarget): Promise<SshSession> {
    return new Promise((resolve, reject) => {
      const client = new Client();
      let presented: string | null = null;
      let presentedLine: string | undefined;
      let mismatch = false;
      let settled = false;
      const fail = (error: CorralError) => {
        if (settled) return;
        settled = true;
        client.end();
        reject(error);
      };
      const where = `${target.user}@${target.host}:${target.port}`;
      // Past ssh2's own readyTimeout (which covers the handshake only), a stuck TCP connect ends here.
      const timer = setTimeout(() => fail(new CorralError(ErrorCode.NODE_UNREACHABLE, `no SSH answer from ${target.host}:${target.port} within ${target.timeoutMs} ms`, { field: 'host' })), target.timeoutMs + 1_000);
      client.on('ready', () => {
        clearTimeout(timer);
        if (settled) return client.end();
        settled = true;
        resolve(new Ssh2Session(client, presented!, presentedLine, target.timeoutMs));
      });
      client.on('error', (error: Error & { level?: string; code?: string }) => {
        clearTimeout(timer);
        if (mismatch) {
          fail(new CorralError(ErrorCode.SSH_HOST_KEY_MISMATCH, `the SSH host key of ${target.host} is ${presented}, not the pinned ${target.hostKey}: refusing to connect`, { field: 'host' }));
        } else if (error.level === 'client-authentication') {
          fail(new CorralError(ErrorCode.SSH_AUTH_FAILED, `${where} refused the credentials (${error.message})`, { field: target.password !== undefined ? 'password' : 'privateKey' }));
        } else if (error.level === 'client-timeout' || (error.code && UNREACHABLE.has(error.code))) {
          fail(new CorralError(ErrorCode.NODE_UNREACHABLE, `cannot reach ${target.host}:${target.port} over SSH: ${error.code ?? error.message}`, { field: 'host' }));
        } else {
          fail(new CorralError(ErrorCode.NODE_UNREACHABLE, `SSH to ${where} failed: ${error.message}`, { field: 'host' }));
        }
      });
      try {
        client.connect({
          host: target.host,
          port: target.port,
          username: target.user,
          password: target.password,
          privateKey: target.privateKey,
          readyTimeout: target.timeoutMs,
          tryKeyboard: false,
          hostVerifier: (key: Buffer) => {
            presented = sshFingerprint(key);
            try {
              presentedLine = sshKeyLine(key);
            } catch {
              presentedLine = undefined;
            }
            mismatch = target.hostKey !== null && presented !== target.hostKey;
            return !mismatch;
          },
        });
      } catch (error) {
        // ssh2 throws synchronously on a private key it cannot parse.
        clearTimeout(timer);
        fail(new CorralError(ErrorCode.BAD_USER_INPUT, `the private key cannot be used: ${(error as Error).message}`, { field: 'privateKey' }));
      }
    });
  }
}

class Ssh2Session implements SshSession {
  constructor(
    private readonly client: Client,
    readonly hostKey: string,
    readonly hostKeyLine: string | undefined,
    private readonly timeoutMs: number,
  ) {}

  exec(command: string): Promise<ExecResult> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new CorralError(ErrorCode.NODE_UNREACHABLE, `\`${command}\` did not finish within ${this.timeoutMs * 3} ms`)), this.timeoutMs * 3);
      this.client.exec(command, (error, stream) => {
        if (error) {
          clearTimeout(timer);
          return reject(new CorralError(ErrorCode.NODE_UNREACHABLE, `could not run \`${command}\`: ${error.message}`));
        }
        let stdout = '';
        let stderr = '';
        stream.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
        stream.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
        stream.on('close', (code: number | null) => {
          clearTimeout(timer);
          resolve({ code: code ?? -1, stdout, stderr });
        });
      });
    });
  }

  close(): void {
    this.client.end();
  }
}
