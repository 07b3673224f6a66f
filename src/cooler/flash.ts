/**
 * Writing a firmware image to the cooler's ATmega328P through its serial bootloader with avrdude
 * (STK500v1, "-c arduino"), the same way the Arduino IDE does it, so no IDE is needed on the rig.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Bootloaders of the boards the cooler is built on: baud rate and how much flash they leave. */
export const FLASH_BOARDS = {
  nano: { baud: 115_200, appBytes: 32_256, about: 'Arduino Nano with the Optiboot bootloader (genuine boards since 2018)' },
  'nano-old': { baud: 57_600, appBytes: 30_720, about: 'Arduino Nano with the old ATmegaBOOT bootloader (most clones)' },
  uno: { baud: 115_200, appBytes: 32_256, about: 'Arduino Uno (Optiboot)' },
} as const;
export type FlashBoard = keyof typeof FLASH_BOARDS;
export const FLASH_BOARD_NAMES = Object.keys(FLASH_BOARDS) as FlashBoard[];

export const DEFAULT_HEX = fileURLToPath(new URL('../../firmware/dist/cooler.hex', import.meta.url));
/** the stable name systemd/99-gance-cooler.rules gives the cooler */
export const DEFAULT_PORT = '/dev/gance-cooler';

export class FlashError extends Error {
  override name = 'FlashError';
}

export interface FlashOptions {
  port: string;
  hex: string;
  board: FlashBoard;
  /** avrdude executable, a name looked up on PATH or a path */
  avrdude?: string;
}

/** The avrdude arguments, exactly. -D: Optiboot erases each page itself; avrdude verifies after writing. */
export function avrdudeArgs(o: Pick<FlashOptions, 'port' | 'hex' | 'board'>): string[] {
  const board = FLASH_BOARDS[o.board];
  if (!board) throw new FlashError(`--board: "${o.board}" is not one of ${FLASH_BOARD_NAMES.join(', ')}`);
  return ['-c', 'arduino', '-p', 'm328p', '-P', o.port, '-b', String(board.baud), '-D', '-U', `flash:w:${o.hex}:i`];
}

/** A command line a person can paste into a shell. */
export function shellLine(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

export interface HexImage {
  /** bytes of flash the image occupies (highest address + 1) */
  size: number;
  dataBytes: number;
}

/** Checks an Intel HEX file the way avrdude will read it, with errors that name the line. */
export function checkIntelHex(text: string, file: string): HexImage {
  let base = 0;
  let top = 0;
  let dataBytes = 0;
  let sawEof = false;
  const lines = text.split(/\r?\n/);
  for (const [i, raw] of lines.entries()) {
    const line = raw.trim();
    if (!line) continue;
    const at = `${file}:${i + 1}`;
    if (sawEof) throw new FlashError(`${at}: data after the end-of-file record`);
    if (!/^:([0-9A-Fa-f]{2})+$/.test(line) || line.length < 11) throw new FlashError(`${at}: not an Intel HEX record (expected ':' and hex byte pairs)`);
    const bytes = Buffer.from(line.slice(1), 'hex');
    const count = bytes[0]!;
    if (bytes.length !== count + 5) throw new FlashError(`${at}: record says ${count} data bytes but has ${bytes.length - 5}`);
    if (bytes.reduce((a, b) => (a + b) & 0xff, 0) !== 0) throw new FlashError(`${at}: checksum mismatch`);
    const type = bytes[3]!;
    const data = bytes.subarray(4, 4 + count);
    if (type === 0x00) {
      top = Math.max(top, base + bytes.readUInt16BE(1) + count);
      dataBytes += count;
    } else if (type === 0x01) sawEof = true;
    else if (type === 0x02) base = data.readUInt16BE(0) << 4;
    else if (type === 0x04) base = data.readUInt16BE(0) << 16;
    else if (type !== 0x03 && type !== 0x05) throw new FlashError(`${at}: unknown record type 0x${type.toString(16).padStart(2, '0')}`);
  }
  if (!sawEof) throw new FlashError(`${file}: no end-of-file record (truncated image?)`);
  if (dataBytes === 0) throw new FlashError(`${file}: holds no data`);
  return { size: top, dataBytes };
}

/** Reads and checks the image; the path it returns is absolute (avrdude runs with another cwd in mind). */
export function checkImage(hexPath: string, board: FlashBoard, cwd = process.cwd()): { hex: string; image: HexImage } {
  const hex = isAbsolute(hexPath) ? hexPath : resolve(cwd, hexPath);
  // avrdude's -U splits on ':'; a path with one cannot be passed through it.
  if (hex.includes(':')) throw new FlashError(`--hex: ${hex}: the path must not contain ':' (avrdude's -U memtype:op:file:format syntax)`);
  let text: string;
  try {
    text = readFileSync(hex, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new FlashError(`--hex: ${hex} not found (build it with \`gance firmware build\`, or \`make -C firmware dist\`)`);
    if (code === 'EISDIR') throw new FlashError(`--hex: ${hex} is a directory, expected an Intel HEX file`);
    throw new FlashError(`--hex: cannot read ${hex}: ${(err as Error).message}`);
  }
  const image = checkIntelHex(text, hex);
  const room = FLASH_BOARDS[board].appBytes;
  if (image.size > room) throw new FlashError(`--hex: ${hex} needs ${image.size} bytes of flash; a ${board} leaves ${room} beside its bootloader`);
  return { hex, image };
}

function checkPort(port: string): void {
  let st;
  try {
    st = statSync(port);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new FlashError(`--path: serial port ${port} not found: is the board plugged in? (ls -l /dev/serial/by-id/; the udev rule systemd/99-gance-cooler.rules names it /dev/gance-cooler)`);
    }
    throw new FlashError(`--path: cannot use ${port}: ${(err as Error).message}`);
  }
  if (!st.isCharacterDevice()) throw new FlashError(`--path: ${port} is not a serial device`);
  try {
    accessSync(port, constants.R_OK | constants.W_OK);
  } catch {
    throw new FlashError(`--path: no permission to open ${port} (add the user to group dialout, or run as the daemon's user)`);
  }
}

/** Finds an executable on PATH (or checks a given path); null when absent. */
export function findExecutable(name: string, path = process.env.PATH ?? ''): string | null {
  const candidates = name.includes('/') ? [name] : path.split(delimiter).filter(Boolean).map((d) => join(d, name));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      if (statSync(c).isFile()) return c;
    } catch {
      // not here
    }
  }
  return null;
}

/** Known avrdude failures, each with what to do about it. */
function hintFor(output: string, o: FlashOptions): string {
  if (/not in sync|not responding|protocol error|timeout/i.test(output)) {
    const other = o.board === 'nano-old' ? 'nano' : 'nano-old';
    return `the bootloader did not answer at ${FLASH_BOARDS[o.board].baud} baud: try --board ${other}, press reset just before flashing, and make sure nothing else (the gance daemon: systemctl stop gance) holds ${o.port}`;
  }
  if (/can't open device|cannot open port|Device or resource busy|ser_open/i.test(output)) {
    return `${o.port} could not be opened: is the daemon or a serial monitor using it? (systemctl stop gance)`;
  }
  if (/signature/i.test(output)) return 'the chip is not an ATmega328P (device signature mismatch)';
  if (/verification error|content mismatch/i.test(output)) return 'the image read back differs from what was written: flaky cable or failing flash; retry';
  return 'see the avrdude output above';
}

export interface FlashResult {
  argv: string[];
  command: string;
  image: HexImage;
  /** avrdude's output (it writes progress to stderr) */
  output: string;
  ms: number;
}

/** Everything a flash would do short of running avrdude: the checked image and the exact command. */
export function planFlash(o: FlashOptions, cwd = process.cwd()): { argv: string[]; command: string; image: HexImage } {
  const { hex, image } = checkImage(o.hex, o.board, cwd);
  const argv = [o.avrdude ?? 'avrdude', ...avrdudeArgs({ ...o, hex })];
  return { argv, command: shellLine(argv), image };
}

/** Runs avrdude; rejects with FlashError naming the cause. onOutput receives avrdude's output as it comes. */
export async function flashFirmware(o: FlashOptions, onOutput?: (chunk: string) => void, cwd = process.cwd()): Promise<FlashResult> {
  const plan = planFlash(o, cwd);
  const exe = findExecutable(o.avrdude ?? 'avrdude');
  if (!exe) {
    throw new FlashError(
      o.avrdude && o.avrdude.includes('/')
        ? `--avrdude: ${o.avrdude} is not an executable`
        : `avrdude not found on PATH: install it (Debian/Ubuntu: apt-get install avrdude) or pass --avrdude <path>`,
    );
  }
  checkPort(o.port);
  const started = Date.now();
  let output = '';
  const code = await new Promise<number | null>((resolveExit, reject) => {
    const child = spawn(exe, plan.argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    const take = (b: Buffer) => {
      const s = b.toString();
      output += s;
      onOutput?.(s);
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('error', (err) => reject(new FlashError(`could not run ${exe}: ${err.message}`)));
    child.on('close', (c) => resolveExit(c));
  });
  if (code !== 0) {
    const tail = output.trim().split('\n').slice(-4).join('\n');
    throw new FlashError(`avrdude failed (exit ${code}): ${hintFor(output, o)}\n${tail}`);
  }
  return { ...plan, output, ms: Date.now() - started };
}
