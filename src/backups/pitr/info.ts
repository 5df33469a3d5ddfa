// What the pgBackRest repository holds: `pgbackrest info --output=json`
// parsed at the edge (another program's output is unknown until parsed), its
// backups as the catalogue describes them, and the recovery window: from the
// end of the oldest backup to the newest archived WAL.
import { z } from 'zod';
import type { PitrBackupFacts } from '../../db/repositories/backups.js';
import { zodIssues } from '../../text/zod-issues.js';
import { PitrToolError, pgbackrest, type PitrSettings, type ToolUser } from './pgbackrest.js';

const status = z.object({ code: z.number(), message: z.string() });
const infoSchema = z.array(
  z.object({
    name: z.string(),
    status,
    db: z.array(z.object({ id: z.number(), version: z.string() })).default([]),
    archive: z.array(z.object({ id: z.string(), database: z.object({ id: z.number() }), min: z.string().nullable(), max: z.string().nullable() })).default([]),
    backup: z
      .array(
        z.object({
          label: z.string(),
          type: z.enum(['full', 'diff', 'incr']),
          error: z.boolean().optional(),
          database: z.object({ id: z.number() }),
          timestamp: z.object({ start: z.number(), stop: z.number() }),
          info: z.object({ size: z.number(), delta: z.number(), repository: z.object({ size: z.number(), delta: z.number() }) }),
          archive: z.object({ start: z.string().nullable(), stop: z.string().nullable() }),
        }),
      )
      .default([]),
  }),
);

/** One stanza of the repository. */
export interface RepositoryInfo {
  stanza: string;
  /** The cluster's PostgreSQL major version, as pgBackRest recorded it ('15'). */
  pgVersion: string | undefined;
  /** The current database's backups, oldest first. */
  backups: PitrBackupFacts[];
  /** The current database's archive: its id (15-1) and newest WAL segment. */
  archive: { id: string; max: string | null } | undefined;
}

/**
 * Parses `pgbackrest info --output=json` for `stanza`.
 * @throws PitrToolError (permanent) when the stanza is missing or the repository answers with an error
 */
export function parseRepositoryInfo(json: string, stanza: string): RepositoryInfo {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new PitrToolError('pgbackrest info did not print JSON');
  }
  const parsed = infoSchema.safeParse(raw);
  if (!parsed.success) throw new PitrToolError(`pgbackrest info printed JSON of another shape: ${zodIssues(parsed.error)}`);
  const entry = parsed.data.find((s) => s.name === stanza);
  if (!entry || entry.status.code === 1) {
    throw new PitrToolError(
      `stanza "${stanza}" is not in the pgBackRest repository (${entry?.status.message ?? 'not listed'}): create it with pgbackrest --stanza=${stanza} stanza-create (README, "Point-in-time recovery")`,
      true,
    );
  }
  // Codes 2 (no valid backups) and 3 (missing WAL) and the rest leave something to list; 0 is ok.
  const current = entry.db.at(-1);
  const backups = entry.backup
    .filter((b) => !b.error && (!current || b.database.id === current.id))
    .map((b) => ({
      label: b.label,
      type: b.type,
      startedAt: new Date(b.timestamp.start * 1000),
      finishedAt: new Date(b.timestamp.stop * 1000),
      storedBytes: b.info.repository.delta,
      rawBytes: b.info.size,
      pgVersion: current?.version ?? '',
    }))
    .sort((a, b) => a.finishedAt.getTime() - b.finishedAt.getTime());
  const archive = entry.archive.filter((a) => !current || a.database.id === current.id).at(-1);
  return { stanza, pgVersion: current?.version, backups, archive: archive ? { id: archive.id, max: archive.max } : undefined };
}

/** Reads the repository's info for the configured stanza. @throws PitrToolError */
export async function readRepositoryInfo(settings: PitrSettings, user: ToolUser): Promise<RepositoryInfo> {
  return parseRepositoryInfo(await pgbackrest(settings, user, 'info', ['--output=json'], { timeoutMs: 120_000 }), settings.stanza);
}

/**
 * When the repository received WAL segment `wal` (seconds resolution: the
 * file's time as `pgbackrest repo-ls` lists it), or undefined when it is not
 * there.
 */
export async function archivedAt(settings: PitrSettings, user: ToolUser, archiveId: string, wal: string): Promise<Date | undefined> {
  const dir = `archive/${settings.stanza}/${archiveId}/${wal.slice(0, 16)}`;
  const out = await pgbackrest(settings, user, 'repo-ls', ['--output=json'], { timeoutMs: 120_000, parameters: [dir] });
  let raw: unknown;
  try {
    raw = JSON.parse(out);
  } catch {
    throw new PitrToolError('pgbackrest repo-ls did not print JSON');
  }
  const listing = z.record(z.string(), z.object({ type: z.string(), time: z.number().optional() })).safeParse(raw);
  if (!listing.success) throw new PitrToolError(`pgbackrest repo-ls printed JSON of another shape: ${zodIssues(listing.error)}`);
  const times = Object.entries(listing.data)
    .filter(([name, e]) => name.startsWith(`${wal}-`) && e.type === 'file' && e.time !== undefined)
    .map(([, e]) => e.time!);
  return times.length > 0 ? new Date(Math.max(...times) * 1000) : undefined;
}

/** From the end of the oldest backup to the newest archived WAL: the instants a restore can reach. */
export interface RecoveryWindow {
  from: Date;
  to: Date;
}

/**
 * The recovery window of `info`: null before the first backup. `to` is when
 * the newest WAL segment reached the repository; Postgres's own record of it
 * (pg_stat_archiver, to the microsecond) is taken when it names the same
 * segment and is later.
 */
export async function recoveryWindow(
  settings: PitrSettings,
  user: ToolUser,
  info: RepositoryInfo,
  archiver?: { lastArchivedWal: string | null; lastArchivedAt: Date | null },
): Promise<RecoveryWindow | null> {
  const oldest = info.backups[0];
  if (!oldest) return null;
  let to = oldest.finishedAt;
  const max = info.archive?.max;
  if (info.archive && max) {
    const repoTime = await archivedAt(settings, user, info.archive.id, max);
    if (repoTime && repoTime > to) to = repoTime;
    if (archiver?.lastArchivedWal === max && archiver.lastArchivedAt && archiver.lastArchivedAt > to) to = archiver.lastArchivedAt;
  }
  return { from: oldest.finishedAt, to };
}
