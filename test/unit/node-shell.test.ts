import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { DataSource } from 'typeorm';
import { CorralError, ErrorCode } from '../../server/app/errors';
import type { NodeSetup } from '../../server/provisioning/node-setup.entity';
import type { NodeSetupService } from '../../server/provisioning/node-setup.service';
import { NodeShell, withStdin } from '../../server/provisioning/node-shell';
import type { ExecResult, SshSession, SshTarget } from '../../server/provisioning/ssh-transport';

const SETUP = { nodeId: 'n1', host: '198.18.0.11', port: 22, user: 'root', hostKeyFingerprint: 'SHA256:pinned', corralKeyInstalled: true } as NodeSetup;

/** A fake SSH transport that counts connections and can break the next command of an open one. */
function fakeNodes() {
  const sessions: { closed: boolean; commands: string[]; breakNext: boolean }[] = [];
  const targets: SshTarget[] = [];
  const transport = {
    async open(target: SshTarget): Promise<SshSession> {
      targets.push(target);
      const state = { closed: false, commands: [] as string[], breakNext: false };
      sessions.push(state);
      return {
        hostKey: 'SHA256:pinned',
        hostKeyLine: 'ssh-ed25519 AAAA',
        async exec(command: string): Promise<ExecResult> {
          if (state.closed) throw new Error('exec on a closed session');
          if (state.breakNext) {
            state.breakNext = false;
            throw new CorralError(ErrorCode.NODE_UNREACHABLE, 'could not run: Not connected');
          }
          state.commands.push(command);
          return { code: 0, stdout: `ran ${command}`, stderr: '' };
        },
        close() {
          state.closed = true;
        },
      } as SshSession;
    },
  };
  const setups = { transport, identity: async () => ({ privateKey: 'corral-key', publicKey: 'ssh-ed25519 AAAA corral' }) } as unknown as NodeSetupService;
  let setup: NodeSetup | null = SETUP;
  const db = { manager: { findOneBy: async () => setup } } as unknown as DataSource;
  return { shell: new NodeShell(db, setups), sessions, targets, setSetup: (s: NodeSetup | null) => (setup = s) };
}

describe('NodeShell', () => {
  test('commands to one node share one SSH connection, opened with the pinned host key and Corral\'s key', async () => {
    const { shell, sessions, targets } = fakeNodes();
    assert.equal((await shell.run('n1', 'nft -f -')).stdout, 'ran nft -f -');
    await Promise.all([shell.check('n1', 'birdc configure', 'bird'), shell.check('n1', 'true', 'true')]);
    assert.equal(sessions.length, 1);
    assert.deepEqual(sessions[0]!.commands, ['nft -f -', 'birdc configure', 'true']);
    assert.equal(targets[0]!.hostKey, 'SHA256:pinned');
    assert.equal(targets[0]!.privateKey, 'corral-key');
    shell.close();
    await new Promise((resolve) => setImmediate(resolve)); // closing waits for the connection's promise
    assert.equal(sessions[0]!.closed, true);
  });

  test('a kept connection the node dropped is replaced once, and the command runs on the new one', async () => {
    const { shell, sessions } = fakeNodes();
    await shell.run('n1', 'first');
    sessions[0]!.breakNext = true;
    assert.equal((await shell.run('n1', 'second')).stdout, 'ran second');
    assert.equal(sessions.length, 2);
    assert.equal(sessions[0]!.closed, true);
    assert.deepEqual(sessions[1]!.commands, ['second']);
    shell.close();
  });

  test('a new connection that fails is not retried, and a changed pin opens a new connection', async () => {
    const { shell, sessions, setSetup } = fakeNodes();
    await shell.run('n1', 'first');
    setSetup({ ...SETUP, hostKeyFingerprint: 'SHA256:other' } as NodeSetup);
    await shell.run('n1', 'second');
    assert.equal(sessions.length, 2);
    assert.equal(sessions[0]!.closed, true, 'the connection of the old pin is closed');
    shell.close();
  });

  test('a node without Corral\'s key answers NODE_UNAVAILABLE; a failing command is NODE_UNAVAILABLE from check', async () => {
    const { shell, setSetup } = fakeNodes();
    setSetup(null);
    await assert.rejects(shell.run('n1', 'true'), (e: CorralError) => e.code === ErrorCode.NODE_UNAVAILABLE && /connectNode/.test(e.message));
    shell.close();
  });

  test('withStdin picks a delimiter the text does not contain', () => {
    assert.equal(withStdin('nft -f -', 'a\n'), "nft -f - <<'CORRAL_EOF'\na\nCORRAL_EOF");
    assert.equal(withStdin('cat', 'x\nCORRAL_EOF\n'), "cat <<'CORRAL_EOF_'\nx\nCORRAL_EOF\nCORRAL_EOF_");
  });
});
