/**
 * Tuning commands (definitions only; each action loads src/cli/tuning-run.ts):
 *
 *   gance thermal step --zone Z --from D1 --to D2 [--url URL | --config FILE --watts W] [--out PREFIX]
 *   gance thermal autotune --zone Z [--apply RULE] [--url URL | --config FILE --watts W] [--out PREFIX]
 *   gance fans measure [--fan ID ...] [--url URL | --config FILE] [--out PREFIX]
 *   gance fans show [--url URL | --state-dir DIR] [--out PREFIX]
 *
 * Without --url the experiment runs on the plant simulator built from the config, in simulated
 * time (seconds, not minutes); with --url it goes through the running daemon that holds the cooler.
 */
import type { Command } from 'commander';
import { DEFAULT_CONFIG_PATH } from '../config/paths.ts';
import { daemonAddress } from './daemon-api.ts';
import { number, refuseUnwritableOut } from './thermal.ts';


const collect = (v: string, prev: string[] = []) => [...prev, v];

export interface Where {
  url?: string;
  config: string;
  watts: number;
  out?: string;
}

export function register(program: Command): void {
  const thermal = program.commands.find((c) => c.name() === 'thermal') ?? program.command('thermal').description('thermal control');
  const where = (c: Command) =>
    c
      .option('--url <url>', 'a running daemon (it holds the cooler); without it: the plant simulator, offline', daemonAddress('--url'))
      .option('-c, --config <file>', 'offline: the config whose fans and zones are simulated', DEFAULT_CONFIG_PATH)
      .option('--watts <n>', 'offline: constant GPU power during the experiment', number('--watts', 0, 1000), 150)
      .option('--out <prefix>', 'write PREFIX.csv and PREFIX.svg (default gance-<what>-<zone>-<time>)');

  where(
    thermal
      .command('step')
      .description("hold a duty until steady, step to another, record until settled, fit a first-order-plus-dead-time model (gain, time constant, dead time) with its fit quality")
      .requiredOption('--zone <id>', 'zone id')
      .requiredOption('--from <duty>', 'duty held first, 0..1', number('--from', 0, 1))
      .requiredOption('--to <duty>', 'duty stepped to, 0..1', number('--to', 0, 1))
      .option('--abort-above <celsius>', 'fans to full and stop above this (default setpoint + 5)', number('--abort-above', 0, 105)),
  ).action(async (o: Where & { zone: string; from: number; to: number; abortAbove?: number }) => {
    await refuseUnwritableOut(o.out);
    const { stepCommand } = await import('./tuning-run.ts');
    await stepCommand(o);
  });

  where(
    thermal
      .command('autotune')
      .description('step fit, then a relay experiment (bounded excursion, abort above a safety limit); proposes gains by SIMC (quiet fans), Tyreus-Luyben and Ziegler-Nichols with the response each gives on the identified plant')
      .requiredOption('--zone <id>', 'zone id')
      .option('--apply <rule>', 'apply this proposal to the daemon (--url): simc, tyreus-luyben, ziegler-nichols, ziegler-nichols-pi')
      .option('--amplitude <duty>', 'relay amplitude', number('--amplitude', 0.02, 0.4), 0.15)
      .option('--max-excursion <celsius>', 'relay oscillation bound around the setpoint', number('--max-excursion', 1, 20), 4)
      .option('--abort-above <celsius>', 'safety limit (default setpoint + 5)', number('--abort-above', 0, 105)),
  ).action(async (o: Where & { zone: string; apply?: string; amplitude: number; maxExcursion: number; abortAbove?: number }) => {
    await refuseUnwritableOut(o.out);
    const { autotuneCommand } = await import('./tuning-run.ts');
    await autotuneCommand(o);
  });

  const fans = program.command('fans').description('fan characterisation and the cooler end-of-line test');
  fans
    .command('measure')
    .description('ramp each fan: start duty, minimum running duty, max rpm, rpm-over-duty curve; pass/fail for every PWM, tach and thermistor; stored in the state directory')
    .option('--fan <id>', 'only this fan (repeatable)', collect)
    .option('--url <url>', 'a running daemon (it holds the cooler); without it: the simulated cooler of the config, offline', daemonAddress('--url'))
    .option('-c, --config <file>', 'offline: the config whose cooler is measured', DEFAULT_CONFIG_PATH)
    .option('--out <prefix>', 'write PREFIX.csv and PREFIX.svg (default gance-fans-<time>)')
    .action(async (o: { fan?: string[]; url?: string; config: string; out?: string }) => {
      await refuseUnwritableOut(o.out);
      const { fansMeasureCommand } = await import('./tuning-run.ts');
      await fansMeasureCommand(o);
    });
  fans
    .command('show')
    .description('print the stored fan characterisation with a chart of rpm over duty')
    .option('--url <url>', "a running daemon's", daemonAddress('--url'))
    .option('-c, --config <file>', 'without --url: read the state directory of this config', DEFAULT_CONFIG_PATH)
    .option('--out <prefix>', 'also write PREFIX.svg')
    .option('--json', 'print the raw report')
    .action(async (o: { url?: string; config: string; out?: string; json?: boolean }) => {
      await refuseUnwritableOut(o.out);
      const { fansShowCommand } = await import('./tuning-run.ts');
      await fansShowCommand(o);
    });
}
