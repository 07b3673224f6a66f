import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { createRequire } from 'node:module';
import { DEFAULT_CONFIG_PATH } from './config/paths.ts';
// Only command definitions load up front (`--help` lists them all); each action imports what it runs.

const { version } = createRequire(import.meta.url)('../package.json') as { version: string };

/** Subcommand groups of other subsystems; each adds its commands to the program. */
type Register = (program: Command) => void;
const extensions: Array<() => Promise<{ register: Register }>> = [
  () => import('./cli/thermal.ts'),
  // step, autotune and fans: joins the `thermal` group, so after it
  () => import('./cli/tuning.ts'),
  () => import('./cli/network.ts'),
  () => import('./cli/latents.ts'),
  () => import('./cli/renders.ts'),
  () => import('./cli/render.ts'),
  () => import('./cli/live.ts'),
  () => import('./cli/firmware.ts'),
  // flash joins the `firmware` group, so it comes after the module that creates it
  () => import('./cli/firmware-flash.ts'),
];

export async function buildProgram(): Promise<Command> {
  const program = new Command('gance')
    .description('Rig daemon: audio-reactive StyleGAN2 video and GPU cooling')
    .version(version, '-V, --version')
    .showSuggestionAfterError(true)
    .exitOverride();

  program
    .command('daemon')
    .description('run the daemon (API, thermal control, synthesis) until SIGTERM/SIGINT')
    .option('-c, --config <file>', 'YAML config file', DEFAULT_CONFIG_PATH)
    .action(async (opts: { config: string }) => {
      const { loadConfigFile } = await import('./config/load.ts');
      const config = loadConfigFile(opts.config);
      const { runDaemon } = await import('./lifecycle/run.ts');
      await runDaemon({ config });
    });

  const config = program.command('config').description('config files');
  config
    .command('check')
    .description('validate a config file and print it resolved (defaults filled in)')
    .argument('<file>', 'YAML config file')
    .option('--quiet', 'print nothing when valid')
    .action(async (file: string, opts: { quiet?: boolean }) => {
      const [{ loadConfigFile }, { stringify }] = await Promise.all([import('./config/load.ts'), import('yaml')]);
      const resolved = loadConfigFile(file);
      // the resolved config goes to terminals and bug reports: never with the API token in it
      if (resolved.server.auth.token !== undefined) resolved.server.auth.token = '<redacted>';
      if (!opts.quiet) process.stdout.write(stringify(resolved));
    });

  program
    .command('install')
    .description('put the systemd service in place: user and groups, unit, udev rule, config (kept if present), API token, state directory')
    .option('--dry-run', 'print what would change and change nothing')
    .option('--root <dir>', 'install under this directory instead of / (a staging tree, an image)', '/')
    .option('-c, --config <file>', 'config to install when none is there yet (default: config/rig.example.yaml)')
    .action(async (opts: { dryRun?: boolean; root: string; config?: string }) => {
      const { install } = await import('./install/install.ts');
      install({ root: opts.root, config: opts.config, dryRun: opts.dryRun === true, activate: true });
    });

  for (const load of extensions) (await load()).register(program);
  return program;
}

/** Runs the CLI; bad input ends with the reason on stderr and a non-zero exit, never a stack trace. */
export async function main(argv: string[] = process.argv): Promise<void> {
  const program = await buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    // commander prints the errors of its own parsing; one thrown by a command's action reaches here unprinted
    if (err instanceof CommanderError && !(err instanceof InvalidArgumentError)) {
      process.exitCode = err.exitCode;
      return;
    }
    const { ConfigError } = await import('./config/errors.ts');
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`gance: ${(err as Error).message}\n`);
    process.exitCode = err instanceof InvalidArgumentError ? err.exitCode : 1;
  }
}
