/** `autosolve config check`: validate and print the effective configuration. */
import { Command } from 'commander';
import { stringify } from 'yaml';
import { redactedConfig } from '../config/redact.js';
import { loadFor, withConfigOption, type ConfigOption } from './shared.js';

export function configCommand(): Command {
  const config = new Command('config').description('inspect the configuration');
  withConfigOption(config.command('check'))
    .description('validate the configuration and print it as autosolve sees it (secrets masked); exit 0 if valid, 2 if not')
    .action((options: ConfigOption) => {
      const { config: loaded, file } = loadFor(options, true);
      process.stdout.write(`# configuration is valid (${file ?? 'no file: defaults and environment'})\n`);
      process.stdout.write(stringify(redactedConfig(loaded)));
    });
  return config;
}
