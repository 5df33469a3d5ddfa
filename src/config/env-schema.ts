// The one schema over Lookout's environment variables. Every variable is
// named here with its default and what it expects; nothing else reads
// process.env. docs: the configuration table in README.md mirrors this file.

import { isIP } from 'node:net';
import { z } from 'zod';

const booleanFlag = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'expected true or false' })
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const int = (min: number, max: number) =>
  z.coerce
    .number({ error: `expected an integer from ${min} to ${max}` })
    .int({ error: `expected an integer from ${min} to ${max}` })
    .min(min, { error: `expected an integer from ${min} to ${max}` })
    .max(max, { error: `expected an integer from ${min} to ${max}` });

// 32 bytes, base64: an AES-256 key. Error messages never repeat the value (shownValue in config.ts).
const base64Key = z.string().refine((v) => /^[A-Za-z0-9+/_-]+={0,2}$/.test(v) && Buffer.from(v, 'base64').length === 32, {
  error: 'expected 32 random bytes, base64-encoded (openssl rand -base64 32)',
});

// Which peers may tell the API the client's address and protocol
// (X-Forwarded-For, X-Forwarded-Proto): express's 'trust proxy' values, less
// `true`, which would let any client claim to be anyone over TLS.
const TRUST_PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);
const trustProxyError = 'expected none, a hop count from 1 to 10, or a comma-separated list of loopback, linklocal, uniquelocal, IP addresses and CIDR subnets';
const isSubnet = (entry: string): boolean => {
  const [address = '', prefix, ...rest] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
};
const trustProxy = z.string().transform((value, ctx): number | string[] => {
  const v = value.trim().toLowerCase();
  if (v === 'none' || v === 'false') return [];
  if (/^\d+$/.test(v) && Number(v) >= 1 && Number(v) <= 10) return Number(v);
  const entries = v
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);
  if (entries.length === 0 || !entries.every((e) => TRUST_PROXY_NAMES.has(e) || isSubnet(e))) {
    ctx.addIssue({ code: 'custom', message: trustProxyError });
    return z.NEVER;
  }
  return entries;
});

/**
 * A retention age in days: a non-negative decimal number (0: every finished
 * batch), at most 100 years. RETENTION_DAYS and `lookout prune --older-than`
 * both parse with it, so they accept the same values.
 */
export const retentionDays = z
  .string()
  .trim()
  .regex(/^\d+(\.\d+)?$/, { error: 'expected a number of days, 0 or more (such as 30 or 0.5)' })
  .transform(Number)
  .pipe(z.number().max(36_500, { error: 'expected at most 36500 days' }));

// OTLP over HTTP: the collector's base URL (the exporter adds /v1/traces) or, for the _TRACES_ variable, the full URL.
const otlpEndpoint = z.url({ protocol: /^https?$/, error: 'expected an http(s) URL such as http://127.0.0.1:4318' });
// The two exporters Lookout ships (package.json); gRPC would need @opentelemetry/exporter-trace-otlp-grpc.
const otlpProtocol = z.enum(['http/protobuf', 'http/json'], { error: 'expected http/protobuf or http/json' });

const cron = z.string().regex(/^(\S+\s+){4,5}\S+$/, { error: 'expected a cron expression of 5 or 6 fields' });

export const envSchema = z.object({
  LOOKOUT_PROFILE: z.enum(['development', 'test', 'production'], { error: 'expected development, test or production' }).optional(),
  NODE_ENV: z.string().optional(),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
      error: 'expected fatal, error, warn, info, debug, trace or silent',
    })
    .default('info'),
  LOG_FORMAT: z.enum(['json', 'pretty'], { error: 'expected json or pretty' }).optional(),
  // A file instead of stdout, rotated by pino-roll (src/logging/logger.ts); the rotation variables need it (config.ts).
  LOG_FILE: z.string().trim().min(1).optional(),
  // pino-roll's sizes: a number with k, m or g (no unit: megabytes).
  LOG_ROTATE_SIZE: z
    .string()
    .trim()
    // Not zero: a digit other than 0 somewhere.
    .regex(/^(?=[\d.]*[1-9])\d+(\.\d+)?[kmg]?$/i, { error: 'expected a size above 0 such as 500k, 10m or 1g (no unit: megabytes)' })
    .optional(),
  LOG_ROTATE_FREQUENCY: z
    .string()
    .trim()
    .regex(/^(daily|hourly|\d+)$/i, { error: 'expected daily, hourly or a number of milliseconds' })
    .transform((v): 'daily' | 'hourly' | number => (/^\d+$/.test(v) ? Number(v) : (v.toLowerCase() as 'daily' | 'hourly')))
    .refine((v) => typeof v === 'string' || v >= 1000, { error: 'expected at least 1000 milliseconds' })
    .optional(),
  // The files kept, the one being written included: at least 2 (src/logging/logger.ts).
  LOG_ROTATE_KEEP: int(2, 10_000).default(7),
  DETECT_MODEL: z.string().min(1, { error: 'expected a model name' }).default('blazeface-back'),
  DETECT_DEVICE: z
    .string()
    .regex(/^(cpu|cuda:\d{1,2})$/i, { error: 'expected cpu or cuda:N' })
    .default('cpu'),
  DETECT_ALLOW_CPU_FALLBACK: booleanFlag.default(false),
  DETECT_MAX_BATCH: int(1, 256).default(8),
  DETECT_MAX_DELAY_MS: int(0, 10_000).default(2),
  DETECT_INTRA_OP_THREADS: int(0, 256).default(1),
  // ultralytics' max_det default (src/detection/keep-best.ts).
  MAX_DETECTIONS_PER_IMAGE: int(1, 100_000).default(300),
  IMAGE_MAX_BYTES: int(1, 2 ** 31 - 1).default(50 * 1024 * 1024),
  IMAGE_MAX_PIXELS: int(1, 2 ** 31 - 1).default(50_000_000),
  PORT: int(0, 65_535).default(3000),
  REDIS_URL: z.url({ protocol: /^rediss?$/, error: 'expected a redis:// or rediss:// URL' }).default('redis://127.0.0.1:6379'),
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/, error: 'expected a postgres:// URL' }).default('postgres://postgres@127.0.0.1:5432/lookout'),
  // The role that owns the tables, for migrations, verify and restore; unset:
  // DATABASE_URL's role does everything (one-role installs). Cross-checked
  // with DATABASE_URL in config.ts.
  DATABASE_OWNER_URL: z.url({ protocol: /^postgres(ql)?$/, error: 'expected a postgres:// URL' }).optional(),
  LOOKOUT_QUEUE_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, { error: 'expected 1-64 letters, digits, _ or -' })
    .default('lookout'),
  BLOB_STORE: z.enum(['fs', 's3'], { error: 'expected fs or s3' }).default('fs'),
  BLOB_DIR: z.string().min(1).default('./data/blobs'),
  // S3's bucket naming rules (what AWS and MinIO enforce): 3-63 characters.
  S3_BUCKET: z
    .string()
    .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, {
      error: 'expected a bucket name: 3 to 63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit',
    })
    .optional(),
  S3_PREFIX: z
    .string()
    .max(512, { error: 'expected at most 512 characters' })
    .refine((p) => !p.startsWith('/'), { error: 'expected a key prefix without a leading / (e.g. lookout/)' })
    .refine((p) => !p.split('/').some((part) => part === '.' || part === '..'), { error: 'expected a key prefix without . or .. segments' })
    .optional(),
  S3_ENDPOINT: z
    .url({ protocol: /^https?$/, error: 'expected an http(s) URL such as http://minio:9000' })
    .refine((u) => !/^[a-z]+:\/\/[^/?#]*@/i.test(u), {
      error:
        "must not carry credentials (user:password@): they come from the AWS SDK's default chain (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, profiles, roles)",
    })
    .optional(),
  S3_REGION: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{0,62}$/i, { error: 'expected a region name such as us-east-1' })
    .default('us-east-1'),
  S3_FORCE_PATH_STYLE: booleanFlag.default(false),
  // Buckets whose objects POST /v1/batches accepts by reference (s3://BUCKET/KEY), comma-separated; none: by upload only.
  SUBMIT_S3_BUCKETS: z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((b) => b.trim())
        .filter(Boolean),
    )
    .pipe(
      z.array(
        z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, {
          error: 'expected comma-separated bucket names: 3 to 63 lowercase letters, digits, dots and hyphens each',
        }),
      ),
    ),
  LOOKOUT_MODELS_DIR: z.string().min(1).optional(),
  XDG_CACHE_HOME: z.string().optional(),
  HOME: z.string().optional(),
  DETECT_CONCURRENCY: int(1, 256).default(4),
  UPLOAD_MAX_FILES: int(1, 10_000).default(500),
  INTERACTIVE_MAX_IMAGES: int(0, 10_000).default(8),
  UPLOAD_MAX_REQUEST_BYTES: int(1, 2 ** 40).default(1024 * 1024 * 1024),
  UPLOAD_IDLE_TIMEOUT_MS: int(1000, 3_600_000).default(60_000),
  UPLOADS_IN_FLIGHT_MAX: int(1, 10_000).default(16),
  SHUTDOWN_GRACE_MS: int(0, 600_000).default(30_000),
  JOB_LOCK_MS: int(1000, 3_600_000).default(30_000),
  WORKER_MAX_RSS_MB: int(64, 1_048_576).optional(),
  BACKUP_DIR: z.string().min(1).default('./data/backups'),
  BACKUP_ENCRYPTION_KEY: base64Key.optional(),
  BACKUP_OLD_KEYS: z
    .string()
    .transform((v) =>
      v
        .split(',')
        .map((k) => k.trim())
        .filter(Boolean),
    )
    .pipe(z.array(base64Key))
    .default([]),
  BACKUP_SCHEDULES: booleanFlag.default(true),
  BACKUP_CRON: cron.default('0 3 * * *'),
  BACKUP_PRUNE_CRON: cron.default('30 4 * * 0'),
  BACKUP_VERIFY_AFTER: booleanFlag.default(true),
  BACKUP_KEEP_DAILY: int(0, 3650).default(7),
  BACKUP_KEEP_WEEKLY: int(0, 520).default(4),
  BACKUP_KEEP_MONTHLY: int(0, 1200).default(12),
  BACKUP_TIMEZONE: z.string().min(1).default('UTC'),
  // pgBackRest's own variables (its --config and --stanza), read by Lookout too and passed through to
  // every pgbackrest it runs. Set: point-in-time recovery is on (README, "Point-in-time recovery").
  PGBACKREST_CONFIG: z
    .string()
    .refine((p) => p.startsWith('/'), { error: 'expected the absolute path of pgbackrest.conf (such as /etc/pgbackrest/pgbackrest.conf)' })
    .optional(),
  PGBACKREST_STANZA: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, { error: 'expected a stanza name: letters, digits, ., _ and -' })
    .default('lookout'),
  PITR_FULL_CRON: cron.default('0 1 * * 0'),
  PITR_DIFF_CRON: cron.default('0 1 * * 1-6'),
  PITR_DRILL_CRON: cron.default('0 6 * * 0'),
  METRICS_PORT: int(0, 65_535).optional(),
  HEARTBEAT_MS: int(200, 600_000).default(5000),
  WORKER_HISTORY_HOURS: int(1, 8760).default(6),
  HEALTH_INTERVAL: int(1, 86_400).default(30),
  RECONCILE_INTERVAL: int(1, 86_400).default(300),
  HEALTH_RETENTION_DAYS: int(1, 3650).default(7),
  // Unset: finished batches and their blobs are kept forever (src/retention).
  RETENTION_DAYS: retentionDays.optional(),
  ALERT_BACKLOG_THRESHOLD: int(1, 10_000_000).default(1000),
  ALERT_BACKLOG_MINUTES: int(0, 10_000).default(10),
  ALERT_FAILURE_RATE: z.coerce.number({ error: 'expected a number from 0 to 1' }).min(0).max(1).default(0.2),
  ALERT_BACKUP_MAX_AGE_HOURS: int(1, 10_000).default(26),
  ALERT_DISK_MIN_FREE_PERCENT: int(0, 100).default(10),
  ALERT_ARCHIVE_LAG_MINUTES: int(1, 10_000).default(15),
  ALERT_GPU_MAX_CELSIUS: int(0, 150).default(85),
  ALERT_REPEAT_MINUTES: int(0, 100_000).default(240),
  // The same rules as batch webhooks' targets (src/security/webhook-target.ts), as far as syntax goes:
  // said at start, not when the first alert fails to go out.
  ALERT_WEBHOOK_URL: z
    .url({ protocol: /^https?$/, error: 'expected an http(s) URL' })
    .refine((u) => !/^[a-z]+:\/\/[^/?#]*@/i.test(u), { error: 'must not carry credentials (user:password@): sign with ALERT_WEBHOOK_SECRET instead' })
    .optional(),
  ALERT_WEBHOOK_SECRET: z.string().min(16, { error: 'expected at least 16 characters' }).optional(),
  ALERT_EMAIL_TO: z.string().min(3).optional(),
  ALERT_EMAIL_FROM: z.string().min(3).default('lookout@localhost'),
  CORS_ORIGINS: z
    .string()
    .transform((v) =>
      v
        .split(',')
        .map((o) => o.trim())
        .filter(Boolean),
    )
    .default([]),
  TRUST_PROXY: trustProxy.default(['loopback']),
  RATE_LIMIT_PER_MINUTE: int(1, 1_000_000).default(600),
  RATE_LIMIT_UPLOADS_PER_MINUTE: int(1, 1_000_000).default(60),
  RATE_LIMIT_ANONYMOUS_PER_MINUTE: int(1, 1_000_000).default(30),
  REQUEST_BODY_TIMEOUT_MS: int(1000, 600_000).default(30_000),
  WEBHOOK_ALLOWED_HOSTS: z
    .string()
    .transform((v) =>
      v
        .split(',')
        .map((h) => h.trim().toLowerCase())
        .filter(Boolean),
    )
    .default([]),
  BATCH_WEBHOOK_SECRET: z.string().min(16, { error: 'expected at least 16 characters' }).optional(),
  SMTP_URL: z.url({ protocol: /^smtps?$/, error: 'expected smtp:// or smtps:// URL' }).optional(),
  // Tracing (src/tracing): the OpenTelemetry SDK's own variables, checked here so that a bad value stops the
  // process naming it; the SDK and its exporter read them from the environment themselves. No endpoint: off.
  OTEL_SDK_DISABLED: z
    .string()
    .trim()
    .regex(/^(true|false)$/i, { error: 'expected true or false' })
    .transform((v) => v.toLowerCase() === 'true')
    .optional(),
  // otlp (the default) or none (off); the SDK's other exporters (console, zipkin) are not Lookout's.
  OTEL_TRACES_EXPORTER: z.enum(['otlp', 'none'], { error: 'expected otlp or none (Lookout exports OTLP over HTTP only)' }).optional(),
  OTEL_EXPORTER_OTLP_ENDPOINT: otlpEndpoint.optional(),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: otlpEndpoint.optional(),
  OTEL_EXPORTER_OTLP_PROTOCOL: otlpProtocol.optional(),
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: otlpProtocol.optional(),
  OTEL_SERVICE_NAME: z.string().trim().min(1).max(256).optional(),
  // Read for its service.name only (the SDK reads the rest itself).
  OTEL_RESOURCE_ATTRIBUTES: z.string().optional(),
  OTEL_TRACES_SAMPLER: z
    .enum(['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'], {
      error: 'expected always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio',
    })
    .optional(),
  OTEL_TRACES_SAMPLER_ARG: z.coerce
    .number({ error: 'expected a ratio from 0 to 1' })
    .min(0, { error: 'expected a ratio from 0 to 1' })
    .max(1, { error: 'expected a ratio from 0 to 1' })
    .optional(),
});

export type RawEnv = z.infer<typeof envSchema>;
