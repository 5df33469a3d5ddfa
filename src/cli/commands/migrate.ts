// `lookout migrate up|down`: the one command that creates and migrates the
// database (besides the server processes), and the one that reverts.
import type { Command } from 'commander';
import { migrateDown, pendingMigrations } from '../../db/migrate.js';
import { MIGRATIONS } from '../../db/migrations/index.js';
import { databaseNameOf } from '../../db/server-admin.js';
import { setUpDatabase } from '../../db/set-up-database.js';
import type { CommandDeps } from '../command-deps.js';
import { commandLogger } from '../command-logger.js';
import { parsePositiveInt } from '../options.js';
import { databaseCliError, ownerConnection, withDatabase } from '../with-database.js';

export function register(program: Command, deps: CommandDeps): void {
  const migrate = program.command('migrate').description('database migrations');
  migrate
    .command('up')
    .description('create the database if needed, apply every pending migration and (DATABASE_OWNER_URL set) grant the application role its rights')
    .action(async () => {
      const config = deps.config();
      const logger = commandLogger(config);
      const owner = ownerConnection(config);
      try {
        const { created, applied, grantedTo } = await setUpDatabase(config, logger);
        if (created) process.stderr.write(`created database ${databaseNameOf(config.databaseUrl)}\n`);
        process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'up to date\n');
        if (grantedTo) process.stdout.write(`granted ${grantedTo} its rights (audit_log: SELECT and INSERT only)\n`);
      } catch (err) {
        throw databaseCliError(err, owner.url, owner.variable);
      }
    });
  migrate
    .command('down')
    .description('revert the last migration (or --steps N)')
    .option('--steps <n>', 'how many migrations to revert', parsePositiveInt, 1)
    .action(async (opts: { steps: number }) => {
      await withDatabase(
        deps.config(),
        async (pool, logger) => {
          // Nothing applied: nothing to revert, and nothing written (umzug would create its table).
          if ((await pendingMigrations(pool)).length === MIGRATIONS.length) return void process.stdout.write('nothing to revert\n');
          const reverted = await migrateDown(pool, opts.steps, logger);
          process.stdout.write(reverted.length ? `reverted: ${reverted.join(', ')}\n` : 'nothing to revert\n');
        },
        { requireMigrated: false, asOwner: true },
      );
    });
}
