// `lookout keys create|list|revoke`: API keys, straight in the database. Never
// creates or migrates it: a wrong DATABASE_URL is an error, not a new empty database.
import type { Command } from 'commander';
import { createApiKey, revokeKey } from '../../auth/api-keys.js';
import { listApiKeys, ROLES, type Role } from '../../db/repositories/api-keys.js';
import type { CommandDeps } from '../command-deps.js';
import { parsePositiveInt, parseRole } from '../options.js';
import { withDatabase } from '../with-database.js';

export function register(program: Command, deps: CommandDeps): void {
  const keys = program.command('keys').description('API keys');
  keys
    .command('create')
    .description('create an API key; prints only the key (shown once, stored hashed)')
    .requiredOption('--name <name>', 'who or what the key is for')
    .option('--role <role>', `one of ${ROLES.join(', ')}`, parseRole, 'viewer' as Role)
    .option('--expires-in-days <n>', 'the key stops working after this many days', parsePositiveInt)
    .action((opts: { name: string; role: Role; expiresInDays?: number }) =>
      withDatabase(deps.config(), async (pool) => {
        const expiresAt = opts.expiresInDays ? new Date(Date.now() + opts.expiresInDays * 86_400_000) : null;
        const key = await createApiKey(pool, { name: opts.name, role: opts.role, actor: 'cli', expiresAt });
        process.stdout.write(`${key.token}\n`);
      }),
    );
  keys
    .command('list')
    .description('every key: id, name, role, created, expiry, revocation, last use (never the secret)')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }) =>
      withDatabase(deps.config(), async (pool) => {
        const list = await listApiKeys(pool);
        if (opts.json) return void process.stdout.write(`${JSON.stringify({ keys: list })}\n`);
        for (const k of list) {
          const state = k.revokedAt ? 'revoked' : k.expiresAt && k.expiresAt < new Date() ? 'expired' : 'active';
          process.stdout.write(`${k.id}  ${k.role.padEnd(9)}  ${state.padEnd(7)}  ${k.name}  last used ${k.lastUsedAt?.toISOString() ?? 'never'}\n`);
        }
      }),
    );
  keys
    .command('revoke')
    .description('revoke a key by its id (the 8 hex characters after lk_)')
    .argument('<id>', 'key id')
    .action((id: string) =>
      withDatabase(deps.config(), async (pool) => {
        if (!(await revokeKey(pool, id, 'cli'))) {
          process.stderr.write(`lookout keys revoke: no active key ${id}\n`);
          process.exitCode = 1;
          return;
        }
        process.stdout.write(`revoked ${id}\n`);
      }),
    );
}
