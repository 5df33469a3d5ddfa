// The statements of a replace-live restore's carry (src/backups/carry-live-state.ts
// says what is carried, in what order, and what is refused): staging the live
// audit trail in the restored database, reading the live state out as JSON,
// and writing it into the restored database.
import type pg from 'pg';

const STAGE = 'lookout_restore_staged_audit';
const AUDIT_COLUMNS = 'id, at, actor, action, target, outcome, details';
/** The install's own state, replaced wholesale by live's (api_keys is counted on its own). */
export const INSTALL_STATE_TABLES = ['alerts', 'milestones', 'workers'] as const;
export type InstallStateTable = (typeof INSTALL_STATE_TABLES)[number];
/** Audit rows per round trip while staging. */
const PAGE = 5000;

/** Creates the (unlogged) table the live audit rows are staged in, in the restored database. */
export async function createAuditStage(restored: pg.ClientBase): Promise<void> {
  await restored.query(`CREATE UNLOGGED TABLE ${STAGE} (LIKE audit_log); ALTER TABLE ${STAGE} ADD PRIMARY KEY (id)`);
}

/** The largest audit id of the database `db` is connected to, "0" for none (a bigint as a decimal string). */
export async function lastAuditId(db: pg.ClientBase): Promise<string> {
  const { rows } = await db.query<{ last: string }>(`SELECT coalesce(max(id), 0)::text AS last FROM audit_log`);
  return rows[0]!.last;
}

/** Copies live audit rows with id > `after` into the stage, page by page; rows already staged are skipped. Returns the last id seen. */
export async function stageAuditRows(live: pg.ClientBase, restored: pg.ClientBase, after: string): Promise<string> {
  let last = after;
  for (;;) {
    const { rows } = await live.query<{ page: string | null; last: string | null }>(
      `SELECT json_agg(a ORDER BY a.id)::text AS page, max(a.id)::text AS last
         FROM (SELECT ${AUDIT_COLUMNS} FROM audit_log WHERE id > $1::bigint ORDER BY id LIMIT ${PAGE}) a`,
      [last],
    );
    const page = rows[0];
    if (!page?.last) return last;
    await restored.query(
      `INSERT INTO ${STAGE} (${AUDIT_COLUMNS}) SELECT ${AUDIT_COLUMNS} FROM json_populate_recordset(NULL::${STAGE}, $1::json)
       ON CONFLICT (id) DO NOTHING`,
      [page.page],
    );
    last = page.last;
  }
}

/** The first (at most 5) ids of the restored database's audit rows that the stage lacks or holds differently. */
export async function auditIdsMissingFromStage(restored: pg.ClientBase): Promise<string[]> {
  const foreign = await restored.query<{ id: string }>(
    `SELECT r.id::text AS id FROM audit_log r LEFT JOIN ${STAGE} l ON l.id = r.id
      WHERE l.id IS NULL OR (r.at, r.actor, r.action, r.target, r.outcome, r.details) IS DISTINCT FROM (l.at, l.actor, l.action, l.target, l.outcome, l.details)
      ORDER BY r.id LIMIT 5`,
  );
  return foreign.rows.map((r) => r.id);
}

const COUNT_UP_TO = `SELECT count(*)::text AS n FROM %s WHERE id <= $1::bigint`;

/** How many live audit rows have an id up to `id` (a decimal string). */
export async function countAuditRowsUpTo(live: pg.ClientBase, id: string): Promise<string> {
  const { rows } = await live.query<{ n: string }>(COUNT_UP_TO.replace('%s', 'audit_log'), [id]);
  return rows[0]!.n;
}

/** How many staged audit rows have an id up to `id` (a decimal string). */
export async function countStagedRowsUpTo(restored: pg.ClientBase, id: string): Promise<string> {
  const { rows } = await restored.query<{ n: string }>(COUNT_UP_TO.replace('%s', STAGE), [id]);
  return rows[0]!.n;
}

/** The live audit trail's largest id ("0" for none) and its sequence's last value (null when never used). */
export async function auditTrailEnd(live: pg.ClientBase): Promise<{ last: string; seq: string | null }> {
  const { rows } = await live.query<{ last: string; seq: string | null }>(
    `SELECT coalesce(max(id), 0)::text AS last, pg_sequence_last_value(pg_get_serial_sequence('audit_log', 'id')::regclass)::text AS seq FROM audit_log`,
  );
  return rows[0]!;
}

/** Every api_keys row, as a JSON array. */
export async function apiKeysAsJson(live: pg.ClientBase): Promise<string> {
  const { rows } = await live.query<{ rows: string }>(`SELECT coalesce(json_agg(k), '[]')::text AS rows FROM api_keys k`);
  return rows[0]!.rows;
}

/** The backup catalogue (every backups row), as a JSON array. */
export async function backupCatalogueAsJson(live: pg.ClientBase): Promise<string> {
  const { rows } = await live.query<{ rows: string }>(`SELECT coalesce(json_agg(b), '[]')::text AS rows FROM backups b`);
  return rows[0]!.rows;
}

/** Every row of one of the install's own tables, as a JSON array. */
export async function installStateAsJson(live: pg.ClientBase, table: InstallStateTable): Promise<string> {
  const { rows } = await live.query<{ rows: string }>(`SELECT coalesce(json_agg(t), '[]')::text AS rows FROM ${table} t`);
  return rows[0]!.rows;
}

/** Runs `work` in a transaction on `client` (BEGIN, COMMIT; ROLLBACK on any failure, COMMIT's included). */
export async function inTransaction<T>(client: pg.ClientBase, work: () => Promise<T>): Promise<T> {
  await client.query('BEGIN');
  try {
    const result = await work();
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** Adds every staged audit row the restored database lacks, in id order, then drops the stage. Returns how many were added. */
export async function addStagedAuditRows(restored: pg.ClientBase): Promise<number> {
  const added = await restored.query(
    `INSERT INTO audit_log (${AUDIT_COLUMNS}) SELECT ${AUDIT_COLUMNS} FROM ${STAGE} s
        WHERE NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.id = s.id) ORDER BY s.id`,
  );
  await restored.query(`DROP TABLE ${STAGE}`);
  return added.rowCount ?? 0;
}

/**
 * Sets the audit sequence past `liveSeq` (live's sequence, "0" for never
 * used) and past every id the table holds: an id handed to a transaction that
 * rolled back is never handed out again either.
 */
export async function continueAuditSequence(restored: pg.ClientBase, liveSeq: string): Promise<void> {
  await restored.query(
    `SELECT setval(pg_get_serial_sequence('audit_log', 'id'), greatest($1::bigint, (SELECT coalesce(max(id), 0) FROM audit_log), 1),
                     greatest($1::bigint, (SELECT coalesce(max(id), 0) FROM audit_log)) > 0)`,
    [liveSeq],
  );
}

/** Replaces every api_keys row with `rows` (a JSON array). Returns how many were written. */
export async function replaceApiKeys(restored: pg.ClientBase, rows: string): Promise<number> {
  await restored.query('DELETE FROM api_keys');
  const carried = await restored.query(`INSERT INTO api_keys SELECT * FROM json_populate_recordset(NULL::api_keys, $1::json)`, [rows]);
  return carried.rowCount ?? 0;
}

/**
 * Brings the backup catalogue up to `rows` (live's backups table as a JSON
 * array): the backups made since the restored copy was taken are added, the
 * ones it knows take live's final state.
 */
export async function carryBackupCatalogue(target: pg.ClientBase, rows: string): Promise<void> {
  await target.query(
    `INSERT INTO backups SELECT * FROM json_populate_recordset(NULL::backups, $1::json)
     ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, file = EXCLUDED.file, raw_bytes = EXCLUDED.raw_bytes,
       stored_bytes = EXCLUDED.stored_bytes, sha256 = EXCLUDED.sha256, key_id = EXCLUDED.key_id, pg_version = EXCLUDED.pg_version,
       migration = EXCLUDED.migration, row_counts = EXCLUDED.row_counts, error = EXCLUDED.error, attempts = EXCLUDED.attempts,
       started_at = EXCLUDED.started_at, finished_at = EXCLUDED.finished_at, verified_at = EXCLUDED.verified_at, pruned_at = EXCLUDED.pruned_at`,
    [rows],
  );
}

/** Replaces every row of one of the install's own tables with `rows` (a JSON array). Returns how many were written. */
export async function replaceInstallState(restored: pg.ClientBase, table: InstallStateTable, rows: string): Promise<number> {
  await restored.query(`DELETE FROM ${table}`);
  const inserted = await restored.query(`INSERT INTO ${table} SELECT * FROM json_populate_recordset(NULL::${table}, $1::json)`, [rows]);
  return inserted.rowCount ?? 0;
}

/** Appends an 'ok' audit row on `client` (the restore's own, in the restored database). Returns its id (a decimal string). */
export async function appendOkAuditRow(
  client: pg.ClientBase,
  row: { actor: string; action: string; target: string; details: Record<string, unknown> },
): Promise<string> {
  const { rows } = await client.query<{ id: string }>(
    `INSERT INTO audit_log (actor, action, target, outcome, details) VALUES ($1, $2, $3, 'ok', $4) RETURNING id::text AS id`,
    [row.actor, row.action, row.target, JSON.stringify(row.details)],
  );
  return rows[0]!.id;
}
