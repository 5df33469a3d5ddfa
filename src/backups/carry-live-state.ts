// Replacing the live database with a restored backup brings the data back,
// never the access and never the history. Carried from the live database
// into the restored one before it is swapped in:
// - the audit trail: every live row, same id and content (the trail only
//   grows), then the sequence set past every id live ever handed out, then
//   the restore's own row, so no id is reused. A backup whose trail is not
//   part of the live one (a row live lacks or holds differently) is refused:
//   it is not this database's history.
// - api_keys, wholesale: keys are credentials, not data. A key revoked after
//   the backup stays revoked; one created after it keeps working; one that
//   only the backup knows (deleted from live by hand) stays gone.
// - the backup catalogue: the backups made since, the safety backup among them.
// - the install's own state, wholesale: alerts (a silence set since stays; a
//   silence that ended is not brought back onto a firing alert), milestones
//   (when backups were turned on) and the fleet (workers). They describe the
//   install as it is now, not the backup's day.
// Staging runs twice: once while the live database still serves (the bulk),
// and once in the window where nothing else is connected (the tail), so the
// window is short.
import type pg from 'pg';
import { RestoreRefusedError } from './restore-refused.js';

const STAGE = 'lookout_restore_staged_audit';
const AUDIT_COLUMNS = 'id, at, actor, action, target, outcome, details';
/** The install's own state, replaced wholesale by live's (api_keys is counted on its own). */
const INSTALL_STATE_TABLES = ['alerts', 'milestones', 'workers'] as const;
/** Audit rows per round trip while staging. */
const PAGE = 5000;

/** Where staging stands: the backup's last audit id and the last live id staged so far (bigints as decimal strings). */
export interface StagedTrail {
  backupLastId: string;
  stagedLastId: string;
}

/** What the window carried, recorded in the restore's own audit row. */
export interface CarriedState {
  /** The restore's own audit row (a bigint as a decimal string): greater than every id before it. */
  auditId: string;
  /** The live database's last audit id when it stopped serving ("0" for none). */
  lastIdBeforeRestore: string;
  /** The backup's last audit id ("0" for none). */
  backupLastId: string;
  /** Live rows added to the backup's trail. */
  auditRowsCarried: number;
  apiKeysCarried: number;
  /** Rows of the install's own state carried, per table (alerts, milestones, workers). */
  installStateCarried: Record<(typeof INSTALL_STATE_TABLES)[number], number>;
}

/** Copies live audit rows with id > `after` into the stage, page by page; rows already staged are skipped. Returns the last id seen. */
async function stageAuditRows(live: pg.ClientBase, restored: pg.ClientBase, after: string): Promise<string> {
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

/**
 * First pass, while the live database still serves: stages the live audit
 * trail in the restored database and checks that the backup's trail is part
 * of it.
 * @throws RestoreRefusedError when the backup holds an audit row that live lacks or holds differently
 */
export async function stageLiveTrail(live: pg.ClientBase, restored: pg.ClientBase): Promise<StagedTrail> {
  await restored.query(`CREATE UNLOGGED TABLE ${STAGE} (LIKE audit_log); ALTER TABLE ${STAGE} ADD PRIMARY KEY (id)`);
  const { rows } = await restored.query<{ last: string }>(`SELECT coalesce(max(id), 0)::text AS last FROM audit_log`);
  const backupLastId = rows[0]!.last;
  const stagedLastId = await stageAuditRows(live, restored, '0');
  const foreign = await restored.query<{ id: string }>(
    `SELECT r.id::text AS id FROM audit_log r LEFT JOIN ${STAGE} l ON l.id = r.id
      WHERE l.id IS NULL OR (r.at, r.actor, r.action, r.target, r.outcome, r.details) IS DISTINCT FROM (l.at, l.actor, l.action, l.target, l.outcome, l.details)
      ORDER BY r.id LIMIT 5`,
  );
  if (foreign.rows.length > 0) {
    throw new RestoreRefusedError(
      `the backup's audit trail is not part of the live one (audit ids ${foreign.rows.map((r) => r.id).join(', ')} are missing from it or differ): ` +
        `it is not this database's history, and replacing the live database would rewrite its trail. Restore it into a new database instead`,
    );
  }
  return { backupLastId, stagedLastId };
}

/**
 * Second pass, in the window (the live database renamed, nothing else
 * connected to it): stages the tail, then in one transaction on the restored
 * database adds every live audit row it lacks, continues the audit sequence
 * past every id live handed out, replaces api_keys, the backup catalogue and
 * the install's own state (alerts, milestones, workers) with live's, and appends the restore's own audit row with what was carried.
 */
export async function carryLiveState(
  live: pg.ClientBase,
  restored: pg.ClientBase,
  staged: StagedTrail,
  restoreRow: { actor: string; action: string; target: string; details: Record<string, unknown> },
): Promise<CarriedState> {
  // An id handed out before the first pass but committed after it lies below
  // stagedLastId: when the counts disagree, go over the whole range again.
  const count = `SELECT count(*)::text AS n FROM %s WHERE id <= $1::bigint`;
  const [liveCount, stagedCount] = await Promise.all([
    live.query<{ n: string }>(count.replace('%s', 'audit_log'), [staged.stagedLastId]),
    restored.query<{ n: string }>(count.replace('%s', STAGE), [staged.stagedLastId]),
  ]);
  await stageAuditRows(live, restored, liveCount.rows[0]!.n === stagedCount.rows[0]!.n ? staged.stagedLastId : staged.backupLastId);
  const liveState = await live.query<{ last: string; seq: string | null }>(
    `SELECT coalesce(max(id), 0)::text AS last, pg_sequence_last_value(pg_get_serial_sequence('audit_log', 'id')::regclass)::text AS seq FROM audit_log`,
  );
  const { last: lastIdBeforeRestore, seq } = liveState.rows[0]!;
  const keys = await live.query<{ rows: string }>(`SELECT coalesce(json_agg(k), '[]')::text AS rows FROM api_keys k`);
  const catalogue = await live.query<{ rows: string }>(`SELECT coalesce(json_agg(b), '[]')::text AS rows FROM backups b`);
  const installState: Array<[(typeof INSTALL_STATE_TABLES)[number], string]> = [];
  for (const table of INSTALL_STATE_TABLES) {
    const { rows } = await live.query<{ rows: string }>(`SELECT coalesce(json_agg(t), '[]')::text AS rows FROM ${table} t`);
    installState.push([table, rows[0]!.rows]);
  }

  await restored.query('BEGIN');
  try {
    const added = await restored.query(
      `INSERT INTO audit_log (${AUDIT_COLUMNS}) SELECT ${AUDIT_COLUMNS} FROM ${STAGE} s
        WHERE NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.id = s.id) ORDER BY s.id`,
    );
    await restored.query(`DROP TABLE ${STAGE}`);
    // Past the live sequence, not only its largest row: an id handed to a
    // transaction that rolled back is never handed out again either.
    await restored.query(
      `SELECT setval(pg_get_serial_sequence('audit_log', 'id'), greatest($1::bigint, (SELECT coalesce(max(id), 0) FROM audit_log), 1),
                     greatest($1::bigint, (SELECT coalesce(max(id), 0) FROM audit_log)) > 0)`,
      [seq ?? '0'],
    );
    await restored.query('DELETE FROM api_keys');
    const carriedKeys = await restored.query(`INSERT INTO api_keys SELECT * FROM json_populate_recordset(NULL::api_keys, $1::json)`, [keys.rows[0]!.rows]);
    await carryBackupCatalogue(restored, catalogue.rows[0]!.rows);
    const installStateCarried = { alerts: 0, milestones: 0, workers: 0 };
    for (const [table, rows] of installState) {
      await restored.query(`DELETE FROM ${table}`);
      const inserted = await restored.query(`INSERT INTO ${table} SELECT * FROM json_populate_recordset(NULL::${table}, $1::json)`, [rows]);
      installStateCarried[table] = inserted.rowCount ?? 0;
    }
    const carried = {
      lastIdBeforeRestore,
      backupLastId: staged.backupLastId,
      auditRowsCarried: added.rowCount ?? 0,
      apiKeysCarried: carriedKeys.rowCount ?? 0,
      installStateCarried,
    };
    const row = await restored.query<{ id: string }>(
      `INSERT INTO audit_log (actor, action, target, outcome, details) VALUES ($1, $2, $3, 'ok', $4) RETURNING id::text AS id`,
      [restoreRow.actor, restoreRow.action, restoreRow.target, JSON.stringify({ ...restoreRow.details, carried })],
    );
    await restored.query('COMMIT');
    return { auditId: row.rows[0]!.id, ...carried };
  } catch (err) {
    await restored.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/**
 * The restored database holds the backup catalogue as it was when the backup
 * was taken; the backups made since (the safety backup among them) and the
 * final status of the restored one are in the live database (`rows`: its
 * backups table as a JSON array).
 */
async function carryBackupCatalogue(target: pg.ClientBase, rows: string): Promise<void> {
  await target.query(
    `INSERT INTO backups SELECT * FROM json_populate_recordset(NULL::backups, $1::json)
     ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, file = EXCLUDED.file, raw_bytes = EXCLUDED.raw_bytes,
       stored_bytes = EXCLUDED.stored_bytes, sha256 = EXCLUDED.sha256, key_id = EXCLUDED.key_id, pg_version = EXCLUDED.pg_version,
       migration = EXCLUDED.migration, row_counts = EXCLUDED.row_counts, error = EXCLUDED.error, attempts = EXCLUDED.attempts,
       started_at = EXCLUDED.started_at, finished_at = EXCLUDED.finished_at, verified_at = EXCLUDED.verified_at, pruned_at = EXCLUDED.pruned_at`,
    [rows],
  );
}
