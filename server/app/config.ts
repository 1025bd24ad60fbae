import path from 'node:path';
import { z } from 'zod';

/** Every setting Corral reads from the environment, with its default. The README's table mirrors this. */
/** Corral's own licence-signing public key; licences issued with its private key verify against it. */
const VENDOR_LICENCE_KEY = `-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAjC6WppKBhoosMNsbUBLnOtnVbBes4fmBJXDq1IQs6VA=
-----END PUBLIC KEY-----
`;

const schema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().min(1).default('0.0.0.0'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
    .optional(),
  CORRAL_DATA_DIR: z.string().min(1).default('./data'),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
    .optional(),
  CORRAL_REDIS_PREFIX: z.string().min(1).max(100).default('corral:'),
  CORRAL_ADMIN_EMAIL: z.email().default('admin@corral.local'),
  CORRAL_ADMIN_PASSWORD: z.string().min(12, 'must be at least 12 characters').optional(),
  CORRAL_SESSION_IDLE_MINUTES: z.coerce.number().int().min(1).max(7 * 24 * 60).default(60),
  CORRAL_SESSION_ABSOLUTE_HOURS: z.coerce.number().int().min(1).max(24 * 90).default(12),
  CORRAL_TRUST_PROXY: z.stringbool().default(false),
  CORRAL_PORTAL: z.stringbool().default(true),
  CORRAL_LOGIN_MAX_FAILURES_PER_ACCOUNT: z.coerce.number().int().min(1).default(10),
  CORRAL_LOGIN_MAX_ATTEMPTS_PER_ADDRESS: z.coerce.number().int().min(1).default(100),
  CORRAL_IMAGE_DIR: z.string().min(1).optional(),
  CORRAL_LICENCE_PUBLIC_KEY: z
    .string()
    .refine((v) => v.includes('BEGIN PUBLIC KEY'), 'must be an Ed25519 public key in PEM')
    .default(VENDOR_LICENCE_KEY),
  CORRAL_RECONCILE_SECONDS: z.coerce.number().int().min(1).max(3600).default(30),
  CORRAL_HEALTH_SECONDS: z.coerce.number().int().min(1).max(3600).default(15),
  CORRAL_OPERATION_LEASE_SECONDS: z.coerce.number().int().min(3).max(3600).default(15),
  CORRAL_SCHEDULE_SECONDS: z.coerce.number().int().min(1).max(3600).default(30),
  CORRAL_BACKUP_MIN_INTERVAL_SECONDS: z.coerce.number().int().min(1).max(30 * 24 * 3600).default(3600),
  CORRAL_BACKUP_ARCHIVE_DIR: z.string().min(1).optional(),
  CORRAL_CONSOLE_IDLE_SECONDS: z.coerce.number().int().min(1).max(7 * 24 * 3600).default(900),
  CORRAL_CONSOLE_RECHECK_SECONDS: z.coerce.number().int().min(1).max(3600).default(30),
  CORRAL_METRICS_SECONDS: z.coerce.number().int().min(1).max(3600).default(5),
  CORRAL_METRICS_RAW_HOURS: z.coerce.number().int().min(1).max(168).default(1),
  CORRAL_METRICS_DAYS: z.coerce.number().int().min(1).max(3650).default(30),
  CORRAL_ANSIBLE_DIR: z.string().min(1).optional(),
  CORRAL_ANSIBLE_TIMEOUT_SECONDS: z.coerce.number().int().min(30).max(24 * 3600).default(1800),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type Env = z.infer<typeof schema>;

export interface Config {
  env: Env['NODE_ENV'];
  production: boolean;
  port: number;
  host: string;
  database: { kind: 'sqlite'; file: string } | { kind: 'postgres'; url: string };
  /** Set with REDIS_URL: pubsub and login limits go through Redis so that several replicas share them. */
  redis: { url: string; prefix: string } | null;
  dataDir: string;
  admin: { email: string; password?: string };
  session: { idleMs: number; absoluteMs: number };
  trustProxy: boolean;
  portal: boolean;
  loginLimits: { failuresPerAccount: number; attemptsPerAddress: number; windowSeconds: number };
  logLevel: Env['LOG_LEVEL'];
  imageDir: string;
  licencePublicKey: string;
  workers: { reconcileMs: number; healthMs: number; leaseMs: number };
  /** Metrics sampling interval, how long raw samples are kept, and how long 5-minute averages are kept. */
  metrics: { sampleMs: number; rawMs: number; keepMs: number };
  /**
   * Backup schedules: how often the scheduler looks for due schedules, and the shortest interval a
   * schedule may have; `archiveDir` is Corral's own backup archive (backups carried off a node by a
   * migration or drain live there).
   */
  backups: { scheduleMs: number; minIntervalSeconds: number; archiveDir: string };
  /**
   * The browser console: closed after `idleMs` without a byte either way; every `recheckMs` the
   * browser is pinged and the caller's session or token checked again.
   */
  console: { idleMs: number; recheckMs: number };
  /** The node playbook: Corral's ansible/ directory (null: the one next to the code) and how long one run may take. */
  ansible: { dir: string | null; timeoutMs: number };
}

export class ConfigError extends Error {}

/** Parses the environment; throws ConfigError with one line naming the first bad variable. */
export function loadConfig(source: Record<string, string | undefined> = process.env): Config {
  const parsed = schema.safeParse(source);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const name = String(issue.path[0]);
    throw new ConfigError(`invalid configuration: ${name}=${JSON.stringify(source[name] ?? '')}: ${issue.message}`);
  }
  const e = parsed.data;
  const dataDir = path.resolve(e.CORRAL_DATA_DIR);
  return {
    env: e.NODE_ENV,
    production: e.NODE_ENV === 'production',
    port: e.PORT,
    host: e.HOST,
    database: e.DATABASE_URL
      ? { kind: 'postgres', url: e.DATABASE_URL }
      : { kind: 'sqlite', file: path.join(dataDir, 'corral.sqlite') },
    redis: e.REDIS_URL ? { url: e.REDIS_URL, prefix: e.CORRAL_REDIS_PREFIX } : null,
    dataDir,
    admin: { email: e.CORRAL_ADMIN_EMAIL.toLowerCase(), password: e.CORRAL_ADMIN_PASSWORD },
    session: { idleMs: e.CORRAL_SESSION_IDLE_MINUTES * 60_000, absoluteMs: e.CORRAL_SESSION_ABSOLUTE_HOURS * 3_600_000 },
    trustProxy: e.CORRAL_TRUST_PROXY,
    portal: e.CORRAL_PORTAL,
    loginLimits: {
      failuresPerAccount: e.CORRAL_LOGIN_MAX_FAILURES_PER_ACCOUNT,
      attemptsPerAddress: e.CORRAL_LOGIN_MAX_ATTEMPTS_PER_ADDRESS,
      windowSeconds: 15 * 60,
    },
    logLevel: e.LOG_LEVEL,
    imageDir: path.resolve(e.CORRAL_IMAGE_DIR ?? path.join(dataDir, 'images')),
    licencePublicKey: e.CORRAL_LICENCE_PUBLIC_KEY,
    workers: {
      reconcileMs: e.CORRAL_RECONCILE_SECONDS * 1000,
      healthMs: e.CORRAL_HEALTH_SECONDS * 1000,
      leaseMs: e.CORRAL_OPERATION_LEASE_SECONDS * 1000,
    },
    metrics: {
      sampleMs: e.CORRAL_METRICS_SECONDS * 1000,
      rawMs: e.CORRAL_METRICS_RAW_HOURS * 3_600_000,
      keepMs: e.CORRAL_METRICS_DAYS * 86_400_000,
    },
    backups: {
      scheduleMs: e.CORRAL_SCHEDULE_SECONDS * 1000,
      minIntervalSeconds: e.CORRAL_BACKUP_MIN_INTERVAL_SECONDS,
      archiveDir: path.resolve(e.CORRAL_BACKUP_ARCHIVE_DIR ?? path.join(dataDir, 'backups')),
    },
    console: { idleMs: e.CORRAL_CONSOLE_IDLE_SECONDS * 1000, recheckMs: e.CORRAL_CONSOLE_RECHECK_SECONDS * 1000 },
    ansible: { dir: e.CORRAL_ANSIBLE_DIR ? path.resolve(e.CORRAL_ANSIBLE_DIR) : null, timeoutMs: e.CORRAL_ANSIBLE_TIMEOUT_SECONDS * 1000 },
  };
}
