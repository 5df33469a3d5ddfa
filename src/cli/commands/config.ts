// `lookout config check`: the effective configuration, secrets masked.
import type { Command } from 'commander';
import { configWarnings } from '../../config/config-warnings.js';
import { maskSecrets } from '../../config/mask-secrets.js';
import type { CommandDeps } from '../command-deps.js';

export function register(program: Command, deps: CommandDeps): void {
  const configCommand = program.command('config').description('configuration');
  configCommand
    .command('check')
    .description('validate the environment and print the effective configuration, secrets masked; warnings on stderr')
    .action(() => {
      const config = deps.config();
      process.stdout.write(`${JSON.stringify(maskSecrets(config), null, 2)}\n`);
      for (const warning of configWarnings(config)) process.stderr.write(`lookout config check: warning: ${warning}\n`);
    });
}
