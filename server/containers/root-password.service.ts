import { randomBytes } from 'node:crypto';
import { replayedContainer } from './replay';
import { visibleContainer } from '../accounts/access';
import type { Actor } from '../app/actor';
import { badInput, CorralError, ErrorCode } from '../app/errors';
import type { AuditService } from '../audit/audit.service';
import { Node, NodeStatus } from '../nodes/node.entity';
import { Operation } from '../operations/operation.entity';
import type { OperationsService } from '../operations/operations.service';
import type { OperationRunner } from '../operations/runner';
import { Container, ContainerStatus } from './container.entity';

export const SET_ROOT_PASSWORD = 'container.setRootPassword';
export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 256;

const SALT_ALPHABET = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** 16 characters of SHA-crypt salt (96 bits), uniformly from its 64-character alphabet. */
export function freshSalt(): string {
  return [...randomBytes(16)].map((byte) => SALT_ALPHABET[byte & 63]).join('');
}

/** The salt of a `$6$[rounds=N$]salt$hash` string, as the setting to hash with again (`$6$[rounds=N$]salt`). */
export function settingOf(shadowHash: string): string | null {
  const match = /^(\$6\$(?:rounds=\d+\$)?[./0-9A-Za-z]{1,16})\$[./0-9A-Za-z]+$/.exec(shadowHash);
  return match?.[1] ?? null;
}

// unixcrypt is an ES module; this CommonJS build reaches it with a real dynamic import.
let unixcrypt: Promise<typeof import('unixcrypt', { with: { 'resolution-mode': 'import' } })> | undefined;

/**
 * SHA-512 crypt (`$6$salt$…`, 5000 rounds, the form `chpasswd -e` and PAM accept) of a password.
 * `setting` is `$6$salt` (or `$6$rounds=N$salt`); without one a fresh salt is drawn.
 */
export async function shadowHash(password: string, setting = `$6$${freshSalt()}`): Promise<string> {
  unixcrypt ??= import('unixcrypt');
  return (await unixcrypt).encrypt(password, setting);
}

/** 8–256 characters (code points); no NUL, which C's crypt() and PAM would cut the password at. */
export function checkPassword(password: string): void {
  const length = [...password].length;
  if (length < PASSWORD_MIN || length > PASSWORD_MAX) throw badInput(`the password must have ${PASSWORD_MIN}–${PASSWORD_MAX} characters`, 'password');
  if (password.includes('\0')) throw badInput('the password cannot contain a NUL character', 'password');
}

/**
 * Sets a container's root password. The plaintext lives only in this call: it is hashed here
 * (SHA-512 crypt) and only the hash is stored in the operation and sent to the node, on stdin.
 */
export class RootPasswordService {
  runner!: OperationRunner;

  constructor(
    private readonly audit: AuditService,
    private readonly operations: OperationsService,
  ) {}

  /**
   * Records a `container.setRootPassword` operation and runs it in the background; returns the
   * container at once (follow `operation`). The container must be RUNNING.
   *
   * Idempotency: the stored input is `{ id, passwordHash }` with a random salt. A replay with the
   * same key hashes the new password with the earlier operation's salt, so the same password gives
   * the same input (and request hash) and another password does not; no fast hash of the password
   * is ever stored (see docs/decisions.md, "Day-2 operations (issue 4)").
   */
  async set(actor: Actor, id: string, password: string, idempotencyKey?: string | null): Promise<Container> {
    const { container, operation } = await this.audit.within({ actor, request: actor.request }, SET_ROOT_PASSWORD, async (em, draft) => {
      draft.target('container', id);
      const found = await visibleContainer(em, actor, id);
      const account = found.project.account;
      draft.concerns(account);
      checkPassword(password);
      const earlier = idempotencyKey ? await em.findOneBy(Operation, { accountId: account.id, idempotencyKey }) : null;
      const earlierHash = earlier?.action === SET_ROOT_PASSWORD ? earlier.input['passwordHash'] : undefined;
      const setting = typeof earlierHash === 'string' ? settingOf(earlierHash) : null;
      const input = { id: found.id, passwordHash: await shadowHash(password, setting ?? undefined) };
      const replay = await this.operations.replayOf(em, account, idempotencyKey, SET_ROOT_PASSWORD, input);
      if (replay) return { container: await replayedContainer(em, replay), operation: null };

      if ([ContainerStatus.CREATING, ContainerStatus.DELETING, ContainerStatus.STARTING, ContainerStatus.STOPPING].includes(found.status)) {
        throw new CorralError(ErrorCode.OPERATION_IN_PROGRESS, `the container is ${found.status.toLowerCase()}; try again when it has finished`);
      }
      if (found.status !== ContainerStatus.RUNNING) {
        throw new CorralError(ErrorCode.CONTAINER_NOT_RUNNING, `the container is ${found.status.toLowerCase()}: start it first, then set the password`, { status: found.status });
      }
      const node = await em.findOneByOrFail(Node, { id: found.nodeId });
      if (node.status === NodeStatus.OFFLINE) throw new CorralError(ErrorCode.NODE_UNAVAILABLE, `node ${node.name} is offline`);
      const recorded = await this.operations.record(em, actor, { account, action: SET_ROOT_PASSWORD, containerId: found.id, nodeId: found.nodeId, input, idempotencyKey });
      return { container: found as Container, operation: recorded };
    });
    if (operation) this.runner.kick(operation.id);
    return container;
  }

}
