/**
 * SerialLink.open when the OS is slow to open the port: the link gives up after openTimeoutMs, and
 * a port that opens after that must not stay held (serialport locks it: every reconnect would then
 * fail on "port is locked" until the daemon restarts). On serialport's mock binding, whose lock
 * behaves like the OS's exclusive open.
 */
import { Registry } from 'prom-client';
import { SerialPortMock } from 'serialport';
import { afterEach, describe, expect, it } from 'vitest';
import { CoolerLinkMetrics, SerialLink } from '../../../src/cooler/serial/index.ts';
import type { LinkOptions } from '../../../src/cooler/serial/link.ts';
import { eventually } from './setup.ts';

const PATH = '/dev/gance-slow-cooler';
const binding = SerialPortMock.binding;

type OpenCallback = Parameters<SerialPortMock['open']>[0];

/** A port whose open() takes `delayMs` before it really opens (a USB adapter that hangs on open). */
class SlowOpenPort extends SerialPortMock {
  opened = false;
  constructor(
    path: string,
    private readonly delayMs: number,
  ) {
    super({ path, baudRate: 115200, autoOpen: false });
    this.once('open', () => (this.opened = true));
  }
  override open(cb?: OpenCallback): void {
    setTimeout(() => super.open(cb), this.delayMs);
  }
}

function linkOptions(over: Partial<LinkOptions>): LinkOptions {
  return { path: PATH, baudRate: 115200, metrics: new CoolerLinkMetrics(new Registry()), requestTimeoutMs: 100, retries: 0, ...over };
}

afterEach(() => binding.reset());

describe('SerialLink.open and a slow OS open', () => {
  it('closes a port that opens after the open timeout, so that the next open gets it', async () => {
    binding.createPort(PATH);
    const slow: SlowOpenPort[] = [];
    const createPort = (): SlowOpenPort => {
      const p = new SlowOpenPort(PATH, 200);
      slow.push(p);
      return p;
    };
    await expect(SerialLink.open(linkOptions({ openTimeoutMs: 50, createPort }))).rejects.toThrow(
      `opening ${PATH}: no answer from the OS within 50 ms`,
    );
    const late = slow[0]!;
    await eventually(() => late.opened, 2000, 'the late open');
    await eventually(() => !late.isOpen, 2000, 'the late port closed');

    // the reconnect that follows finds the port free
    const link = await SerialLink.open(linkOptions({ createPort: ({ path, baudRate }) => new SerialPortMock({ path, baudRate, autoOpen: false }) }));
    expect(link.isOpen).toBe(true);
    await link.close();
  });

  it('ignores an open that fails after the timeout (nothing to close, nothing thrown later)', async () => {
    // no createPort(PATH): the mock binding's open fails, 200 ms late
    const slow: SlowOpenPort[] = [];
    await expect(
      SerialLink.open(
        linkOptions({
          openTimeoutMs: 50,
          createPort: () => {
            const p = new SlowOpenPort(PATH, 200);
            slow.push(p);
            return p;
          },
        }),
      ),
    ).rejects.toThrow('no answer from the OS within 50 ms');
    const errors: Error[] = [];
    slow[0]!.on('error', (e: Error) => errors.push(e));
    await new Promise((r) => setTimeout(r, 400));
    expect(slow[0]!.opened).toBe(false);
    expect(slow[0]!.isOpen).toBe(false);
    expect(errors).toEqual([]);
  });

  it('an open within the timeout works as before', async () => {
    binding.createPort(PATH);
    const link = await SerialLink.open(linkOptions({ openTimeoutMs: 500, createPort: () => new SlowOpenPort(PATH, 20) }));
    expect(link.isOpen).toBe(true);
    await link.close();
  });
});
