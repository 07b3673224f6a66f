/**
 * `gance firmware flash`: writes a firmware image (ours by default) to the cooler board.
 * Joins the `firmware` command group when src/cli/firmware.ts made one, else makes it.
 */
import { Command, Option } from 'commander';
import { DEFAULT_HEX, DEFAULT_PORT, FLASH_BOARDS, FLASH_BOARD_NAMES, flashFirmware, planFlash, type FlashBoard } from '../cooler/flash.ts';

interface FlashCliOptions {
  path?: string;
  config?: string;
  hex: string;
  board: FlashBoard;
  avrdude: string;
  dryRun?: boolean;
  quiet?: boolean;
}

async function portFromConfig(file: string): Promise<string> {
  const { loadConfigFile } = await import('../config/load.ts');
  const path = loadConfigFile(file).cooler.path;
  if (!path) throw new Error(`${file}: cooler.path is not set; pass --path`);
  return path;
}

export function register(program: Command): void {
  const firmware =
    program.commands.find((c) => c.name() === 'firmware') ?? program.command('firmware').description('cooler firmware: build, flash, info');
  firmware
    .command('flash')
    .description('write the firmware image to the cooler board through its bootloader with avrdude (stop the daemon first: it holds the port)')
    .option('-p, --path <port>', `serial port of the board (default: cooler.path of --config, else ${DEFAULT_PORT})`)
    .option('-c, --config <file>', 'take the port from this config file (cooler.path)')
    .option('--hex <file>', 'Intel HEX image to write', DEFAULT_HEX)
    .addOption(
      new Option('--board <kind>', `bootloader: ${FLASH_BOARD_NAMES.map((b) => `${b} (${FLASH_BOARDS[b].baud} baud)`).join(', ')}`)
        .choices(FLASH_BOARD_NAMES)
        .default('nano'),
    )
    .option('--avrdude <exe>', 'avrdude executable', 'avrdude')
    .option('--dry-run', 'check the image and print the avrdude command; write nothing')
    .option('-q, --quiet', "don't echo avrdude's progress")
    .action(async (opts: FlashCliOptions) => {
      const port = opts.path ?? (opts.config ? await portFromConfig(opts.config) : DEFAULT_PORT);
      const o = { port, hex: opts.hex, board: opts.board, avrdude: opts.avrdude };
      const out = (s: string) => process.stdout.write(s);
      if (opts.dryRun) {
        const plan = planFlash(o);
        out(`${plan.command}\n`);
        return;
      }
      process.stderr.write(`flashing ${o.hex} to ${port} (${FLASH_BOARDS[o.board].about})\n`);
      const result = await flashFirmware(o, opts.quiet ? undefined : (s) => process.stderr.write(s));
      out(`flashed ${result.image.dataBytes} bytes to ${port} and verified them in ${(result.ms / 1000).toFixed(1)} s\n`);
    });
}
