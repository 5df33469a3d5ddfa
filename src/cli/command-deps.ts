// What every command module gets from main(): how to load the configuration.
// A command loads it when it runs, not when the program is built, so `--help`
// and a usage error never need a valid environment.
import type { Command } from 'commander';
import { ConfigError, loadConfig, type Config } from '../config/config.js';

export interface CommandDeps {
  /** The configuration, parsed once per call; a bad variable exits 2 naming it. */
  config: () => Config;
}

/** One command (or a group of them) under src/cli/commands/: adds itself to the program. */
export interface CommandModule {
  register(program: Command, deps: CommandDeps): void;
}

/** Loads the config or exits 2 naming each bad variable. */
export function configOrExit(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`lookout: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}
