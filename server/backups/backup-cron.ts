import { Cron } from 'croner';
import { badInput } from '../app/errors';

/** How many upcoming runs are compared with the minimum interval. */
const LOOKAHEAD = 50;

function cronOf(expression: string): Cron {
  try {
    return new Cron(expression, { paused: true, timezone: 'Etc/UTC', mode: '5-or-6-parts' });
  } catch (error) {
    throw badInput(`not a cron expression: ${(error as Error).message}`, 'cron');
  }
}

/**
 * Checks a schedule's cron expression (UTC; 5 fields, or 6 with seconds first) and that no two of
 * its next runs are closer than `minIntervalSeconds`; returns its first run after `from`.
 * @throws CorralError BAD_USER_INPUT (field `cron`, with `minIntervalSeconds`)
 */
export function checkCron(expression: string, minIntervalSeconds: number, from = new Date()): Date {
  if (expression.length > 120) throw badInput('the cron expression is longer than 120 characters', 'cron');
  const cron = cronOf(expression.trim());
  const runs = cron.nextRuns(LOOKAHEAD, from);
  if (runs.length === 0) throw badInput('the cron expression never runs', 'cron');
  for (let i = 1; i < runs.length; i++) {
    if (runs[i]!.getTime() - runs[i - 1]!.getTime() < minIntervalSeconds * 1000) {
      const error = badInput(`backups may run at most every ${minIntervalSeconds} seconds; this expression runs more often`, 'cron');
      Object.assign(error.details, { minIntervalSeconds });
      throw error;
    }
  }
  return runs[0]!;
}

/** The run after `from`; null when the expression has no more runs. */
export function nextRunOf(expression: string, from: Date): Date | null {
  return cronOf(expression.trim()).nextRun(from);
}
