#!/usr/bin/env node
/** The `autosolve` command: one file per subcommand, wired here. */
import { Command } from 'commander';
import { debugRequested } from '../config/load.js';
import { VERSION } from '../version.js';
import { configCommand } from './config.js';
import { demoCommand } from './demo.js';
import { exitCodeFor, reportError } from './errors.js';
import { explainCommand } from './explain.js';
import { jobsCommand } from './jobs.js';
import { migrateCommand } from './migrate.js';
import { runCommand } from './run.js';
import { simulatorCommand } from './simulator.js';
import { statusCommand } from './status.js';

export function buildProgram(): Command {
  const program = new Command('autosolve')
    .description('Polls GitHub repositories and dispatches an AI tool for the issues that ask for it.')
    .version(VERSION)
    .showHelpAfterError()
    .exitOverride();
  for (const command of [runCommand(), configCommand(), migrateCommand(), simulatorCommand(), statusCommand(), jobsCommand(), explainCommand(), demoCommand()]) {
    program.addCommand(command);
  }
  // Subcommands inherit the override so that usage errors exit 2, not 1.
  for (const command of program.commands) applyExitOverride(command);
  return program;
}

function applyExitOverride(command: Command): void {
  command.exitOverride();
  for (const sub of command.commands) applyExitOverride(sub);
}

async function main(): Promise<void> {
  try {
    await buildProgram().parseAsync(process.argv);
  } catch (error) {
    reportError(error, debugRequested());
    process.exitCode = exitCodeFor(error);
  }
}

await main();
