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
// window is short. The statements are src/db/live-state.ts.
import type pg from 'pg';
import {
  addStagedAuditRows,
  apiKeysAsJson,
  appendOkAuditRow,
  auditIdsMissingFromStage,
  auditTrailEnd,
  backupCatalogueAsJson,
  carryBackupCatalogue,
  continueAuditSequence,
  countAuditRowsUpTo,
  countStagedRowsUpTo,
  createAuditStage,
  inTransaction,
  INSTALL_STATE_TABLES,
  installStateAsJson,
  lastAuditId,
  replaceApiKeys,
  replaceInstallState,
  stageAuditRows,
  type InstallStateTable,
} from '../db/live-state.js';
import { RestoreRefusedError } from './restore-refused.js';

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
  installStateCarried: Record<InstallStateTable, number>;
}

/**
 * First pass, while the live database still serves: stages the live audit
 * trail in the restored database and checks that the backup's trail is part
 * of it.
 * @throws RestoreRefusedError when the backup holds an audit row that live lacks or holds differently
 */
export async function stageLiveTrail(live: pg.ClientBase, restored: pg.ClientBase): Promise<StagedTrail> {
  await createAuditStage(restored);
  const backupLastId = await lastAuditId(restored);
  const stagedLastId = await stageAuditRows(live, restored, '0');
  const foreign = await auditIdsMissingFromStage(restored);
  if (foreign.length > 0) {
    throw new RestoreRefusedError(
      `the backup's audit trail is not part of the live one (audit ids ${foreign.join(', ')} are missing from it or differ): ` +
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
  const [liveCount, stagedCount] = await Promise.all([countAuditRowsUpTo(live, staged.stagedLastId), countStagedRowsUpTo(restored, staged.stagedLastId)]);
  await stageAuditRows(live, restored, liveCount === stagedCount ? staged.stagedLastId : staged.backupLastId);
  const { last: lastIdBeforeRestore, seq } = await auditTrailEnd(live);
  const keys = await apiKeysAsJson(live);
  const catalogue = await backupCatalogueAsJson(live);
  const installState: Array<[InstallStateTable, string]> = [];
  for (const table of INSTALL_STATE_TABLES) {
    installState.push([table, await installStateAsJson(live, table)]);
  }

  return inTransaction(restored, async () => {
    const auditRowsCarried = await addStagedAuditRows(restored);
    // Past the live sequence, not only its largest row: an id handed to a
    // transaction that rolled back is never handed out again either.
    await continueAuditSequence(restored, seq ?? '0');
    const apiKeysCarried = await replaceApiKeys(restored, keys);
    // The restored database holds the backup catalogue as it was when the
    // backup was taken; the backups made since (the safety backup among them)
    // and the final status of the restored one are in the live database.
    await carryBackupCatalogue(restored, catalogue);
    const installStateCarried = { alerts: 0, milestones: 0, workers: 0 };
    for (const [table, rows] of installState) {
      installStateCarried[table] = await replaceInstallState(restored, table, rows);
    }
    const carried = {
      lastIdBeforeRestore,
      backupLastId: staged.backupLastId,
      auditRowsCarried,
      apiKeysCarried,
      installStateCarried,
    };
    const auditId = await appendOkAuditRow(restored, {
      actor: restoreRow.actor,
      action: restoreRow.action,
      target: restoreRow.target,
      details: { ...restoreRow.details, carried },
    });
    return { auditId, ...carried };
  });
}
