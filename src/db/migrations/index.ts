// Every migration, in order. Adding one: a new file and one line here.
import { initial } from './0001-initial.js';
import { backups } from './0002-backups.js';
import { fleetHealthAlerts } from './0003-fleet-health-alerts.js';
import { security } from './0004-security.js';
import { milestones } from './0005-milestones.js';
import { workerHeartbeat } from './0006-worker-heartbeat.js';
import { batchLane } from './0007-batch-lane.js';
import { unfinishedBatchesByKey } from './0008-unfinished-batches-by-key.js';
import { retentionIndexes } from './0009-retention-indexes.js';
import { imagesByReference } from './0010-images-by-reference.js';
import { imageStatsRollup } from './0011-image-stats-rollup.js';
import { imageListIndexes } from './0012-image-list-indexes.js';
import { blobRemovals } from './0013-blob-removals.js';
import { pitr } from './0014-pitr.js';
import type { Migration } from './migration.js';

export const MIGRATIONS: readonly Migration[] = [
  initial,
  backups,
  fleetHealthAlerts,
  security,
  milestones,
  workerHeartbeat,
  batchLane,
  unfinishedBatchesByKey,
  retentionIndexes,
  imagesByReference,
  imageStatsRollup,
  imageListIndexes,
  blobRemovals,
  pitr,
];
