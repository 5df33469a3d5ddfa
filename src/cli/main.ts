// The `lookout` command line: thin doors onto the library. Each command lives
// in src/cli/commands/ and registers itself; this file only wires them, in
// the order `lookout --help` lists them, and turns an expected failure
// (CliError) into one line and an exit code.

import { Command } from 'commander';
import { CliError } from './cli-error.js';
import { configOrExit, type CommandDeps, type CommandModule } from './command-deps.js';
import * as backup from './commands/backup.js';
import * as config from './commands/config.js';
import * as detect from './commands/detect.js';
import * as fleet from './commands/fleet.js';
import * as keys from './commands/keys.js';
import * as migrate from './commands/migrate.js';
import * as models from './commands/models.js';
import * as pitr from './commands/pitr.js';
import * as prune from './commands/prune.js';
import * as queues from './commands/queues.js';
import * as reconcile from './commands/reconcile.js';
import * as services from './commands/services.js';
import * as submit from './commands/submit.js';
import * as workers from './commands/workers.js';

/** In help order: services holds all, api and worker. */
const COMMANDS: readonly CommandModule[] = [detect, submit, services, fleet, migrate, keys, config, workers, queues, models, reconcile, prune, backup, pitr];

export function buildProgram(deps: CommandDeps = { config: configOrExit }): Command {
  const program = new Command('lookout')
    .description('Lookout: image detection on a job-queue worker fleet')
    .showHelpAfterError()
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));
  for (const command of COMMANDS) command.register(program, deps);
  return program;
}

/** Runs the command line; an expected failure (CliError) prints its message and sets the exit code, with no stack trace. */
export async function main(argv: string[] = process.argv): Promise<void> {
  // `lookout backup list | head`: the reader went away; nothing more to say.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    if (!(err instanceof CliError)) throw err;
    process.stderr.write(`lookout: ${err.message}\n`);
    // A server process that failed to start may still hold connections open.
    process.exit(err.exitCode);
  }
}
