// Parses the environment once, at start, into a typed Config. A bad value
// fails with every offending variable named and what it expects.

import { maskUrl } from './mask-secrets.js';
import os from 'node:os';
import path from 'node:path';
import { envSchema, type RawEnv } from './env-schema.js';
import { parseDevice, type Device } from '../detection/device.js';
import type { ImageLimits } from '../detection/preprocess.js';

export type Profile = 'development' | 'test' | 'production';

export interface Config {
  profile: Profile;
  log: { level: RawEnv['LOG_LEVEL']; pretty: boolean; /** LOG_FILE and its rotation; undefined: stdout. */ file: LogFileConfig | undefined };
  /** OpenTelemetry tracing of the server processes (OTEL_* variables; src/tracing). */
  tracing: TracingConfig;
  detect: {
    model: string;
    device: Device;
    allowCpuFallback: boolean;
    maxBatch: number;
    maxDelayMs: number;
    intraOpThreads: number;
    /** The best-scoring detections one image keeps (MAX_DETECTIONS_PER_IMAGE). */
    maxDetectionsPerImage: number;
  };
  limits: ImageLimits;
  port: number;
  redisUrl: string;
  databaseUrl: string;
  /**
   * DATABASE_OWNER_URL: the role that owns the tables, used only to create and
   * migrate the database, grant the application role, verify and restore.
   * Undefined in one-role installs, where databaseUrl does all of that.
   */
  databaseOwnerUrl: string | undefined;
  queuePrefix: string;
  /** Batches of at most this many images go in the interactive lane, ahead of bulk work (INTERACTIVE_MAX_IMAGES; 0: no interactive lane). */
  interactiveMaxImages: number;
  /** Where uploaded images are kept (BLOB_STORE and its settings). */
  blobs: BlobStoreConfig;
  /** Variables that are set but have no effect with the rest of this configuration (S3_BUCKET, S3_PREFIX with BLOB_STORE=fs): warned about, see config-warnings.ts. */
  unusedVariables: string[];
  /** How to reach S3 (S3_REGION, S3_ENDPOINT, S3_FORCE_PATH_STYLE), whatever the blob store. */
  s3: S3Settings;
  /** SUBMIT_S3_BUCKETS: the buckets whose objects a batch may name by reference (s3://BUCKET/KEY); empty: by upload only. */
  submitS3Buckets: string[];
  /** Where fetched models live (LOOKOUT_MODELS_DIR, default the user's cache dir). */
  modelsDir: string;
  worker: { concurrency: number; shutdownGraceMs: number; lockMs: number; maxRssMb: number | undefined };
  /** idleTimeoutMs: an upload that receives no byte for this long is ended (408). */
  upload: { maxFiles: number; maxRequestBytes: number; idleTimeoutMs: number; /** Uploads one API process receives at once; more: 503. */ maxInFlight: number };
  backup: BackupConfig;
  /** Point-in-time recovery through pgBackRest: on when PGBACKREST_CONFIG is set. */
  pitr: PitrConfig;
  metricsPort: number | undefined;
  heartbeatMs: number;
  /** Hours a stopped or missing worker stays in the fleet view before its row is dropped. */
  workerHistoryHours: number;
  /** Seconds between scheduled reconciler runs. */
  reconcileIntervalSeconds: number;
  health: { intervalSeconds: number; retentionDays: number };
  /** RETENTION_DAYS: finished batches older than this many days are pruned daily; undefined keeps them forever. */
  retention: { days: number | undefined };
  alerts: AlertConfig;
  http: {
    corsOrigins: string[];
    rateLimitPerMinute: number;
    uploadsPerMinute: number;
    /** Failed authentications (no key, a malformed or rejected key) a client address may make in a minute; beyond it 429. */
    anonymousPerMinute: number;
    /** How long a request body other than an upload may take to arrive whole, in ms; then 408 body_timeout. */
    bodyTimeoutMs: number;
    /** express's 'trust proxy': a hop count, or the addresses and subnets trusted ([] trusts none). */
    trustProxy: number | string[];
  };
  webhooks: { allowedHosts: string[]; batchSecret: string | undefined };
}

/**
 * LOG_FILE: JSON lines written by a pino-roll transport, rotated when a file
 * reaches `size` and/or every `frequency`; at most `keep` files stay (2 or
 * more), the one being written included.
 */
export interface LogFileConfig {
  /** Absolute; the rotated files are its name with a number before the extension (lookout.1.log, lookout.2.log …). */
  path: string;
  /** pino-roll's size: a number with k, m or g (no unit: megabytes); undefined: no size limit. */
  size: string | undefined;
  /** daily, hourly or milliseconds; undefined: by size alone. */
  frequency: 'daily' | 'hourly' | number | undefined;
  keep: number;
}

/**
 * Tracing is on when an OTLP endpoint is set, OTEL_SDK_DISABLED is not true
 * and OTEL_TRACES_EXPORTER is not none; the SDK and its exporter read the OTEL_* variables themselves
 * (headers, timeouts, sampler), these are what Lookout decides with.
 */
export interface TracingConfig {
  enabled: boolean;
  /** OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (used as it is), else OTEL_EXPORTER_OTLP_ENDPOINT (+ /v1/traces). */
  endpoint: string | undefined;
  protocol: 'http/protobuf' | 'http/json';
  /** OTEL_SERVICE_NAME, else service.name of OTEL_RESOURCE_ATTRIBUTES, else lookout. */
  serviceName: string;
}

/**
 * BLOB_STORE=fs: a directory (BLOB_DIR, absolute). BLOB_STORE=s3: a bucket
 * (S3_BUCKET) and a key prefix (S3_PREFIX, '' or ending in '/'); BLOB_DIR is
 * then not part of the configuration at all, so nothing can use it.
 */
export type BlobStoreConfig = { store: 'fs'; dir: string } | { store: 's3'; bucket: string; prefix: string };

/** How to reach S3: the signing region, an endpoint URL (undefined: AWS's own) and path-style addressing. No credentials: the AWS SDK's default chain has them. */
export interface S3Settings {
  region: string;
  endpoint: string | undefined;
  forcePathStyle: boolean;
}

export interface AlertConfig {
  backlogThreshold: number;
  backlogMinutes: number;
  failureRate: number;
  backupMaxAgeHours: number;
  diskMinFreePercent: number;
  /** WAL waiting to be archived for longer than this (minutes) is an alert (ALERT_ARCHIVE_LAG_MINUTES). */
  archiveLagMinutes: number;
  gpuMaxCelsius: number;
  repeatMinutes: number;
  webhook: { url: string; secret: string | undefined } | undefined;
  email: { to: string; from: string; smtpUrl: string } | undefined;
}

export interface BackupConfig {
  dir: string;
  /** The key new backups are encrypted with; backups are refused without one. */
  key: Buffer | undefined;
  /** Earlier keys, still accepted for verify and restore (key rotation). */
  oldKeys: Buffer[];
  schedules: boolean;
  cron: string;
  pruneCron: string;
  verifyAfter: boolean;
  keep: { daily: number; weekly: number; monthly: number };
  timezone: string;
}

/**
 * Point-in-time recovery: pgBackRest's own settings, as its environment names
 * them. `configFile` undefined: PITR is off here (no pitr worker in `lookout
 * all`, no pitr schedulers); the archiving health component still reads
 * Postgres, which says whether WAL is archived.
 */
export interface PitrConfig {
  /** PGBACKREST_CONFIG: the pgbackrest.conf every pgbackrest Lookout runs reads (its secrets stay there). */
  configFile: string | undefined;
  /** PGBACKREST_STANZA (default lookout). */
  stanza: string;
  /** PITR_FULL_CRON, PITR_DIFF_CRON: the full and differential backups; PITR_DRILL_CRON: the restore drill. In BACKUP_TIMEZONE. */
  fullCron: string;
  diffCron: string;
  drillCron: string;
  /** BACKUP_SCHEDULES: false leaves the pitr schedulers out too. */
  schedules: boolean;
  timezone: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: Array<{ variable: string; message: string }>) {
    super(`invalid configuration:\n${problems.map((p) => `  ${p.variable}: ${p.message}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

function profileOf(env: RawEnv): Profile {
  if (env.LOOKOUT_PROFILE) return env.LOOKOUT_PROFILE;
  if (env.NODE_ENV === 'production' || env.NODE_ENV === 'test') return env.NODE_ENV;
  return 'development';
}

/** Variables whose whole value is a secret (keys, signing secrets, a webhook URL that is its own credential). */
const SECRET_VARIABLE = /(KEY|KEYS|SECRET|PASSWORD|TOKEN)$|^ALERT_WEBHOOK_URL$/;
/** Variables holding a URL that may carry a password. */
const URL_VARIABLE = /_URL$|^S3_ENDPOINT$|^OTEL_EXPORTER_OTLP(_TRACES)?_ENDPOINT$/;

/**
 * A bad value as an error message may show it: a secret never (only its
 * length), a URL with its password masked, anything else quoted as it is.
 */
export function shownValue(variable: string, value: string): string {
  if (SECRET_VARIABLE.test(variable)) return `a value of ${value.length} characters (not shown: it is a secret)`;
  if (URL_VARIABLE.test(variable)) {
    const masked = maskUrl(value);
    return masked === value ? `"${value}"` : `"${masked}" (password masked)`;
  }
  return `"${value}"`;
}

const userOf = (url: string): string => decodeURIComponent(new URL(url).username);

/**
 * Why DATABASE_URL and DATABASE_OWNER_URL cannot work as a pair, or undefined
 * when they can: both must name their user (the application role is granted
 * by name) and the same database (the owner migrates what the application
 * uses). The hosts may differ (a pooler in front of the application).
 */
export function databaseRolesProblem(databaseUrl: string, ownerUrl: string): string | undefined {
  const app = userOf(databaseUrl);
  const owner = userOf(ownerUrl);
  if (!app || !owner) return 'DATABASE_URL and DATABASE_OWNER_URL must each name their user (postgres://USER:PASSWORD@host/db)';
  const [appDb, ownerDb] = [databaseUrl, ownerUrl].map((u) => decodeURIComponent(new URL(u).pathname.replace(/^\//, '')));
  if (appDb !== ownerDb) return `expected the same database as DATABASE_URL ("${appDb}"), got "${ownerDb}"`;
  return undefined;
}

/** service.name in OTEL_RESOURCE_ATTRIBUTES (key=value,key=value, values percent-encoded), if there. */
function serviceNameOf(resourceAttributes: string | undefined): string | undefined {
  for (const pair of resourceAttributes?.split(',') ?? []) {
    const [key, value] = pair.split('=', 2).map((p) => p.trim());
    if (key === 'service.name' && value) return decodeURIComponent(value);
  }
  return undefined;
}

/** S3_PREFIX as keys start: '' when unset, else ending in exactly one '/' ('lookout' and 'lookout/' are the same). */
const keyPrefix = (prefix: string | undefined): string => (prefix ? `${prefix.replace(/\/+$/, '')}/` : '');

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // Empty strings count as unset, as in most twelve-factor tools.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const variable = String(issue.path[0] ?? '(environment)');
        const got = present[variable];
        return { variable, message: `${issue.message}${got === undefined ? '' : `, got ${shownValue(variable, got)}`}` };
      }),
    );
  }
  const e = parsed.data;
  const rolesProblem = e.DATABASE_OWNER_URL ? databaseRolesProblem(e.DATABASE_URL, e.DATABASE_OWNER_URL) : undefined;
  if (rolesProblem) throw new ConfigError([{ variable: 'DATABASE_OWNER_URL', message: rolesProblem }]);
  if (e.BLOB_STORE === 's3' && !e.S3_BUCKET) {
    throw new ConfigError([{ variable: 'S3_BUCKET', message: 'required with BLOB_STORE=s3: the bucket that keeps the uploaded images' }]);
  }
  const rotationWithoutFile = (['LOG_ROTATE_SIZE', 'LOG_ROTATE_FREQUENCY'] as const).find((v) => e[v] !== undefined && !e.LOG_FILE);
  if (rotationWithoutFile)
    throw new ConfigError([{ variable: rotationWithoutFile, message: 'only with LOG_FILE: without it logs go to stdout, which is not rotated' }]);
  const profile = profileOf(e);
  const endpoint = e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? e.OTEL_EXPORTER_OTLP_ENDPOINT;
  return {
    profile,
    log: {
      level: e.LOG_LEVEL,
      pretty: e.LOG_FORMAT ? e.LOG_FORMAT === 'pretty' : profile === 'development',
      file: e.LOG_FILE
        ? {
            path: path.resolve(e.LOG_FILE),
            size: e.LOG_ROTATE_SIZE,
            // Neither set: a file a day.
            frequency: e.LOG_ROTATE_FREQUENCY ?? (e.LOG_ROTATE_SIZE ? undefined : 'daily'),
            keep: e.LOG_ROTATE_KEEP,
          }
        : undefined,
    },
    tracing: {
      enabled: endpoint !== undefined && e.OTEL_SDK_DISABLED !== true && e.OTEL_TRACES_EXPORTER !== 'none',
      endpoint,
      protocol: e.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? e.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf',
      serviceName: e.OTEL_SERVICE_NAME ?? serviceNameOf(e.OTEL_RESOURCE_ATTRIBUTES) ?? 'lookout',
    },
    detect: {
      model: e.DETECT_MODEL,
      device: parseDevice(e.DETECT_DEVICE),
      allowCpuFallback: e.DETECT_ALLOW_CPU_FALLBACK,
      maxBatch: e.DETECT_MAX_BATCH,
      maxDelayMs: e.DETECT_MAX_DELAY_MS,
      intraOpThreads: e.DETECT_INTRA_OP_THREADS,
      maxDetectionsPerImage: e.MAX_DETECTIONS_PER_IMAGE,
    },
    limits: { maxBytes: e.IMAGE_MAX_BYTES, maxPixels: e.IMAGE_MAX_PIXELS },
    port: e.PORT,
    redisUrl: e.REDIS_URL,
    databaseUrl: e.DATABASE_URL,
    databaseOwnerUrl: e.DATABASE_OWNER_URL,
    queuePrefix: e.LOOKOUT_QUEUE_PREFIX,
    interactiveMaxImages: e.INTERACTIVE_MAX_IMAGES,
    blobs: e.BLOB_STORE === 's3' ? { store: 's3', bucket: e.S3_BUCKET!, prefix: keyPrefix(e.S3_PREFIX) } : { store: 'fs', dir: path.resolve(e.BLOB_DIR) },
    unusedVariables: e.BLOB_STORE === 's3' ? [] : ['S3_BUCKET', 'S3_PREFIX'].filter((name) => present[name] !== undefined),
    s3: { region: e.S3_REGION, endpoint: e.S3_ENDPOINT, forcePathStyle: e.S3_FORCE_PATH_STYLE },
    submitS3Buckets: e.SUBMIT_S3_BUCKETS,
    modelsDir: path.resolve(e.LOOKOUT_MODELS_DIR ?? path.join(e.XDG_CACHE_HOME ?? path.join(e.HOME ?? os.homedir(), '.cache'), 'lookout', 'models')),
    worker: { concurrency: e.DETECT_CONCURRENCY, shutdownGraceMs: e.SHUTDOWN_GRACE_MS, lockMs: e.JOB_LOCK_MS, maxRssMb: e.WORKER_MAX_RSS_MB },
    upload: {
      maxFiles: e.UPLOAD_MAX_FILES,
      maxRequestBytes: e.UPLOAD_MAX_REQUEST_BYTES,
      idleTimeoutMs: e.UPLOAD_IDLE_TIMEOUT_MS,
      maxInFlight: e.UPLOADS_IN_FLIGHT_MAX,
    },
    backup: {
      dir: path.resolve(e.BACKUP_DIR),
      key: e.BACKUP_ENCRYPTION_KEY ? Buffer.from(e.BACKUP_ENCRYPTION_KEY, 'base64') : undefined,
      oldKeys: e.BACKUP_OLD_KEYS.map((k) => Buffer.from(k, 'base64')),
      schedules: e.BACKUP_SCHEDULES,
      cron: e.BACKUP_CRON,
      pruneCron: e.BACKUP_PRUNE_CRON,
      verifyAfter: e.BACKUP_VERIFY_AFTER,
      keep: { daily: e.BACKUP_KEEP_DAILY, weekly: e.BACKUP_KEEP_WEEKLY, monthly: e.BACKUP_KEEP_MONTHLY },
      timezone: e.BACKUP_TIMEZONE,
    },
    pitr: {
      configFile: e.PGBACKREST_CONFIG,
      stanza: e.PGBACKREST_STANZA,
      fullCron: e.PITR_FULL_CRON,
      diffCron: e.PITR_DIFF_CRON,
      drillCron: e.PITR_DRILL_CRON,
      schedules: e.BACKUP_SCHEDULES,
      timezone: e.BACKUP_TIMEZONE,
    },
    metricsPort: e.METRICS_PORT,
    heartbeatMs: e.HEARTBEAT_MS,
    workerHistoryHours: e.WORKER_HISTORY_HOURS,
    reconcileIntervalSeconds: e.RECONCILE_INTERVAL,
    health: { intervalSeconds: e.HEALTH_INTERVAL, retentionDays: e.HEALTH_RETENTION_DAYS },
    retention: { days: e.RETENTION_DAYS },
    http: {
      corsOrigins: e.CORS_ORIGINS,
      rateLimitPerMinute: e.RATE_LIMIT_PER_MINUTE,
      uploadsPerMinute: e.RATE_LIMIT_UPLOADS_PER_MINUTE,
      anonymousPerMinute: e.RATE_LIMIT_ANONYMOUS_PER_MINUTE,
      bodyTimeoutMs: e.REQUEST_BODY_TIMEOUT_MS,
      trustProxy: e.TRUST_PROXY,
    },
    webhooks: { allowedHosts: e.WEBHOOK_ALLOWED_HOSTS, batchSecret: e.BATCH_WEBHOOK_SECRET },
    alerts: {
      backlogThreshold: e.ALERT_BACKLOG_THRESHOLD,
      backlogMinutes: e.ALERT_BACKLOG_MINUTES,
      failureRate: e.ALERT_FAILURE_RATE,
      backupMaxAgeHours: e.ALERT_BACKUP_MAX_AGE_HOURS,
      diskMinFreePercent: e.ALERT_DISK_MIN_FREE_PERCENT,
      archiveLagMinutes: e.ALERT_ARCHIVE_LAG_MINUTES,
      gpuMaxCelsius: e.ALERT_GPU_MAX_CELSIUS,
      repeatMinutes: e.ALERT_REPEAT_MINUTES,
      webhook: e.ALERT_WEBHOOK_URL ? { url: e.ALERT_WEBHOOK_URL, secret: e.ALERT_WEBHOOK_SECRET } : undefined,
      email: e.ALERT_EMAIL_TO && e.SMTP_URL ? { to: e.ALERT_EMAIL_TO, from: e.ALERT_EMAIL_FROM, smtpUrl: e.SMTP_URL } : undefined,
    },
  };
}
