// What the pgBackRest repository holds: `pgbackrest info --output=json`
// parsed at the edge (another program's output is unknown until parsed), its
// backups as the catalogue describes them, and the recovery window: from the
// end of the oldest backup to the newest archived WAL.
import { z } from 'zod';
import type { PitrBackupFacts } from '../../db/repositories/backups.js';
import { zodIssues } from '../../text/zod-issues.js';
import { lastLines, PitrToolError, pgbackrest, pgbackrestOutput, type PitrSettings, type ToolUser } from './pgbackrest.js';

const status = z.object({ code: z.number(), message: z.string() });
const infoSchema = z.array(
  z.object({
    name: z.string(),
    status,
    repo: z.array(z.object({ key: z.number(), status })).default([]),
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
 * pgBackRest's stanza (and repository) status codes (its `info` command):
 * 0 ok, 1 missing stanza path, 2 no valid backups, 3 missing stanza data,
 * 4 different across repos (each repo's own status says which), 5 database
 * mismatch across repos, 6 requested backup not found, 99 other (such as a
 * repository it may not read). "backup/expire running" is said in the
 * message of an ok (0) status. Only 0 and 2 leave a repository to list.
 */
const STANZA_OK = 0;
const NO_VALID_BACKUPS = 2;
const MISSING_STANZA = new Set([1, 3]);
const readable = (code: number): boolean => code === STANZA_OK || code === NO_VALID_BACKUPS;

/**
 * Parses `pgbackrest info --output=json` for `stanza`; `stderr` is what
 * pgbackrest said beside it (shown, scrubbed, when stdout is not JSON: a
 * wrong cipher pass).
 * @throws PitrToolError (permanent) when the stanza is missing; PitrToolError naming pgBackRest's message when the stanza
 *   or any repository reports another status than ok or no valid backups, or the output is not JSON
 */
export function parseRepositoryInfo(json: string, stanza: string, stderr = ''): RepositoryInfo {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    const said = lastLines(stderr) || lastLines(json.slice(0, 2000)) || 'no output';
    throw new PitrToolError(`pgbackrest info did not print JSON: ${said}`);
  }
  const parsed = infoSchema.safeParse(raw);
  if (!parsed.success) throw new PitrToolError(`pgbackrest info printed JSON of another shape: ${zodIssues(parsed.error)}`);
  const entry = parsed.data.find((s) => s.name === stanza);
  if (!entry || MISSING_STANZA.has(entry.status.code)) {
    throw new PitrToolError(
      `stanza "${stanza}" is not in the pgBackRest repository (${entry?.status.message ?? 'not listed'}): create it with pgbackrest --stanza=${stanza} stanza-create (README, "Point-in-time recovery")`,
      true,
    );
  }
  const failing = entry.repo.filter((r) => !readable(r.status.code));
  if (!readable(entry.status.code) || failing.length > 0) {
    const repos = failing.map((r) => `repo${r.key}: ${r.status.message} (code ${r.status.code})`).join('; ');
    throw new PitrToolError(
      `pgbackrest info: stanza "${stanza}" is not readable: ${entry.status.message} (code ${entry.status.code})${repos ? `; ${repos}` : ''}`,
      entry.status.code === 5,
    );
  }
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
  const { stdout, stderr } = await pgbackrestOutput(settings, user, 'info', ['--output=json'], { timeoutMs: 120_000 });
  return parseRepositoryInfo(stdout, settings.stanza, stderr);
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
