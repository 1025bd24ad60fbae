import type { EntityManager, EntityTarget, ObjectLiteral } from 'typeorm';
import { conflict } from '../app/errors';

/** True for a unique-key violation on SQLite or PostgreSQL, so that races surface as CONFLICT. */
export function isUniqueViolation(error: unknown): boolean {
  const e = error as { code?: string; driverError?: { code?: string } };
  const code = e?.driverError?.code ?? e?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}


/** Inserts a row; a unique-key violation (a taken name, a race) becomes CONFLICT on `field`. */
export async function insertUnique<T extends ObjectLiteral>(em: EntityManager, entity: EntityTarget<T>, row: T, field: string, message: string): Promise<T> {
  try {
    await em.insert(entity, row);
    return row;
  } catch (error) {
    if (isUniqueViolation(error)) throw conflict(message, field);
    throw error;
  }
}
