/** The CLI's error reporting: every failure ends with a one-line reason on stderr and a non-zero exit. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli.ts';

async function run(args: string[]): Promise<{ err: string; exitCode: number | undefined }> {
  let err = '';
  const spyErr = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    err += String(chunk);
    return true;
  });
  const spyOut = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  const before = process.exitCode;
  process.exitCode = undefined;
  try {
    await main(['node', 'gance', ...args]);
    return { err, exitCode: process.exitCode as number | undefined };
  } finally {
    spyErr.mockRestore();
    spyOut.mockRestore();
    process.exitCode = before;
  }
}

afterEach(() => vi.restoreAllMocks());

describe('gance CLI errors', () => {
  it("prints a bad argument found by a command's action (not by commander's parsing)", async () => {
    const r = await run(['thermal', 'set', 'gpu0']);
    expect(r.exitCode).toBe(1);
    expect(r.err).toMatch(/^gance: nothing to change: give --setpoint/);
  });

  it("leaves commander's own parse errors to commander (printed once)", async () => {
    const r = await run(['thermal', 'set', 'gpu0', '--setpoint', 'hot']);
    expect(r.exitCode).toBe(1);
    expect(r.err).toMatch(/--setpoint/);
    expect(r.err.split('\n').filter((l) => l.includes('--setpoint must be'))).toHaveLength(1);
    const unknown = await run(['no-such-command']);
    expect(unknown.exitCode).toBe(1);
    expect(unknown.err).toMatch(/unknown command/);
  });

  it('an option naming the daemon that is not an http(s) address is refused when parsed, naming the option', async () => {
    const cases: Array<[string[], string]> = [
      [['renders', 'list', '--url', 'rig:9840'], '--url'],
      [['thermal', 'status', '--url', 'rig:9840'], '--url'],
      [['thermal', 'mode', '--url', 'rig:9840'], '--url'],
      [['live', '--audio', 'x.wav', '--daemon', 'rig:9840'], '--daemon'],
      [['render', 'x.wav', '--out', 'x.mp4', '--network', 'demo-64', '--remote', 'rig:9840'], '--remote'],
    ];
    for (const [args, flag] of cases) {
      const r = await run(args);
      expect(r.exitCode, args.join(' ')).toBe(1);
      expect(r.err, args.join(' ')).toContain(`${flag} must be the daemon's http:// or https:// address, e.g. http://127.0.0.1:9840, got "rig:9840"`);
    }
  });
});
