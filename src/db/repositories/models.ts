// Models seen by workers, with the sha256 of the file they loaded.
import type { Queryable } from '../pool.js';

export async function upsertModel(db: Queryable, model: { name: string; version: string; sha256: string; license: string }): Promise<void> {
  await db.query(
    `INSERT INTO models (name, version, sha256, license) VALUES ($1, $2, $3, $4)
     ON CONFLICT (name) DO UPDATE SET version = EXCLUDED.version, sha256 = EXCLUDED.sha256, license = EXCLUDED.license`,
    [model.name, model.version, model.sha256, model.license],
  );
}
