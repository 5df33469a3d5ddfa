// Before a server process (`lookout all`, the tests' environment) uses the
// bundle: the database made ready.

import { setUpDatabase } from '../db/set-up-database.js';
import type { Services } from './services.js';

/**
 * Creates the database if needed, applies pending migrations and grants the
 * application role its rights, as the owner role when DATABASE_OWNER_URL is
 * set (setUpDatabase).
 */
export async function prepareDatabase(services: Services): Promise<void> {
  const { created } = await setUpDatabase(services.config, services.logger);
  if (created) services.logger.info('created the database');
}
