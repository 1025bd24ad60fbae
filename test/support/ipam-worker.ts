import 'reflect-metadata';
import { createDataSource } from '../../server/app/data-source';
import { CorralError } from '../../server/app/errors';
import type { AuditService } from '../../server/audit/audit.service';
import * as dbErrors from '../../server/common/db-errors';
import { IpamService } from '../../server/network/ipam.service';

/**
 * A separate process that allocates COUNT addresses from POOL_ID to CONTAINER_ID on the
 * PostgreSQL database at DATABASE_URL, all at once, starting at START_AT (epoch ms) so that two
 * such processes race. Prints one JSON line: the addresses it got, the error codes it met, and
 * how many races it lost (unique violations that made it pick again).
 */
async function main() {
  const { DATABASE_URL, POOL_ID, CONTAINER_ID, COUNT, START_AT } = process.env;
  const db = createDataSource({ kind: 'postgres', url: DATABASE_URL! });
  await db.initialize();
  // Allocation writes no audit event (the mutation that calls it does).
  const ipam = new IpamService(db, null as unknown as AuditService);
  // Counts lost races; the compiled service looks the function up on the module at each call.
  let racesLost = 0;
  const isUniqueViolation = dbErrors.isUniqueViolation;
  (dbErrors as { isUniqueViolation: typeof isUniqueViolation }).isUniqueViolation = (error: unknown) => {
    const lost = isUniqueViolation(error);
    if (lost) racesLost++;
    return lost;
  };
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, Number(START_AT) - Date.now())));
  const outcomes = await Promise.allSettled(Array.from({ length: Number(COUNT) }, () => ipam.allocateAddress(POOL_ID!, CONTAINER_ID!)));
  const addresses: string[] = [];
  const errors: string[] = [];
  for (const o of outcomes) {
    if (o.status === 'fulfilled') addresses.push(o.value.address);
    else errors.push(o.reason instanceof CorralError ? o.reason.code : String(o.reason?.stack ?? o.reason));
  }
  await db.destroy();
  process.stdout.write(`${JSON.stringify({ addresses, errors, racesLost })}\n`);
}

main().catch((error) => {
  process.stderr.write(`${error?.stack ?? error}\n`);
  process.exit(1);
});
