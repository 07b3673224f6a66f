/**
 * The Cooler for our own firmware over serial (firmware/PROTOCOL.md): handshake and version
 * check, settings sync (watchdog, failsafe duty), keep-alive so the device watchdog never trips
 * while we are healthy, and reconnect with backoff when the device goes away and comes back.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { DEFAULT_BAUD_RATE, type CoolerConfig } from '../config.ts';
import type { Cooler, CoolerInfo, CoolerState, DeviceFailsafe, FailsafeResult } from '../cooler.ts';
import {
  Command,
  PROTOCOL_VERSION,
  FIRMWARE_VERSION,
  firmwareOlder,
  decodeCounters,
  decodeHello,
  decodeSettings,
  decodeState,
  dutyToWire,
  encodeGetCounters,
  encodeHello,
  encodeSetDuty,
  encodeSetSettings,
  type DeviceCounters,
  type DeviceSettings,
  type DeviceState,
  type Hello,
} from '../protocol/messages.ts';
import { DeviceErrorReply, SerialLink } from './link.ts';
import { CoolerLinkMetrics } from './metrics.ts';

export interface SerialCoolerOptions {
  log: Logger;
  registry: Registry;
  /** one answer, ms (default 300) */
  requestTimeoutMs?: number;
  /** extra attempts per request (default 2) */
  retries?: number;
  /** how long to keep saying HELLO after opening: a Nano resets on open and its bootloader waits ~1-2 s (default 4000) */
  handshakeMs?: number;
  /** open() gives up after this long without a first handshake (default 10000) */
  openTimeoutMs?: number;
  /** poll the device this often when nobody else talks to it (default min(1000, watchdog/3)) */
  keepAliveMs?: number;
  /** read the firmware's counters this often (default 5000) */
  countersEveryMs?: number;
  /** reconnect backoff, ms (default 250 doubling up to 5000) */
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** consecutive unanswered requests (timeouts) before the link is declared dead and reopened (default 3); error replies from the device do not count */
  maxFailures?: number;
}

/** Wrong firmware or wrong wiring for this config: reconnecting will not fix it. */
export class CoolerMismatchError extends Error {
  override name = 'CoolerMismatchError';
}

/** a frame's time on the wire and in the USB adapter, past our write: 70 bytes at 115200 baud is 6 ms */
const WIRE_SLACK_MS = 50;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref());

export class SerialCooler extends EventEmitter implements Cooler {
  readonly info: CoolerInfo;
  readonly metrics: CoolerLinkMetrics;
  /** what the firmware said at the last handshake */
  hello: Hello | null = null;
  /** the device's answer to the last state-bearing command */
  lastState: DeviceState | null = null;
  lastCounters: DeviceCounters | null = null;
  settings: (DeviceSettings & { fromEeprom: boolean }) | null = null;

  private link: SerialLink | null = null;
  private up = false;
  private closed = true;
  private loop: Promise<void> | null = null;
  private keepAlive: NodeJS.Timeout | undefined;
  private failures = 0;
  /**
   * The last request got its reply. An error reply proves the link (failures stays 0) but not the
   * mode: a refused or damaged command does not feed the device's watchdog.
   */
  private answered = false;
  /** the last write of links that have closed (performance.now ms): the device watchdog runs from it */
  private closedLinksWroteAt = 0;
  private lastUptimeMs: number | null = null;
  /** when lastUptimeMs was read (performance.now ms) */
  private lastStateAt = 0;
  private lastBoots: number | null = null;
  private lastCountersAt = 0;
  /** when our owner last commanded duties: the keep-alive speaks for it only that long */
  private lastDutiesAt = -Infinity;
  private connects = 0;
  private readonly channelOf = new Map<string, number>();
  private readonly o: Required<Omit<SerialCoolerOptions, 'log' | 'registry'>>;
  private readonly log: Logger;
  private wake: () => void = () => {};

  constructor(
    private readonly config: CoolerConfig,
    opts: SerialCoolerOptions,
  ) {
    super();
    if (!config.path) throw new CoolerMismatchError('cooler.path: the serial driver needs the device path, e.g. /dev/serial/by-id/usb-...');
    this.log = opts.log.child({ component: 'cooler', driver: 'serial', path: config.path });
    this.metrics = new CoolerLinkMetrics(opts.registry, () => this.deviceFailsafe());
    const watchdogMs = config.watchdogSeconds * 1000;
    this.o = {
      requestTimeoutMs: opts.requestTimeoutMs ?? 300,
      retries: opts.retries ?? 2,
      handshakeMs: opts.handshakeMs ?? 4000,
      openTimeoutMs: opts.openTimeoutMs ?? 10_000,
      keepAliveMs: opts.keepAliveMs ?? Math.min(1000, watchdogMs / 3),
      countersEveryMs: opts.countersEveryMs ?? 5000,
      backoffInitialMs: opts.backoffInitialMs ?? 250,
      backoffMaxMs: opts.backoffMaxMs ?? 5000,
      maxFailures: opts.maxFailures ?? 3,
    };
    for (const f of config.fans) this.channelOf.set(f.id, f.channel);
    this.info = { kind: 'serial', version: 'unknown (not connected yet)', fans: config.fans.map((f) => f.id), thermistors: config.thermistors.map((t) => t.id) };
  }

  get linkUp(): boolean {
    return this.up;
  }

  /** Connects (waiting for the first handshake) and keeps reconnecting from then on. */
  async open(): Promise<void> {
    if (!this.closed) return;
    this.closed = false;
    let settleFirst!: (err: Error | null) => void;
    const first = new Promise<void>((resolve, reject) => (settleFirst = (e) => (e ? reject(e) : resolve())));
    const timer = setTimeout(
      () => settleFirst(new Error(`cooler.path ${this.config.path}: no answer from the cooler firmware within ${this.o.openTimeoutMs} ms (${this.lastError ?? 'no error'})`)),
      this.o.openTimeoutMs,
    );
    this.loop = this.run((e) => settleFirst(e));
    try {
      await first;
    } catch (e) {
      await this.close();
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  async setDuties(duties: Readonly<Record<string, number>>): Promise<void> {
    const entries = Object.entries(duties).map(([id, duty]) => {
      const channel = this.channelOf.get(id);
      if (channel === undefined) throw new Error(`setDuties: unknown fan id "${id}" (configured: ${[...this.channelOf.keys()].join(', ')})`);
      dutyToWire(duty, `duty of fan "${id}"`);
      return { channel, duty };
    });
    if (entries.length === 0) return;
    this.lastDutiesAt = performance.now();
    this.noteState(await this.request(Command.setDuty, encodeSetDuty(entries), decodeState));
  }

  async read(): Promise<CoolerState> {
    const state = await this.readDevice();
    return this.toCoolerState(state);
  }

  /** The raw device state (mode, applied duty, kick/stall flags...), for `gance firmware info` and tests. */
  async readDevice(): Promise<DeviceState> {
    const state = await this.request(Command.getState, undefined, decodeState);
    this.noteState(state);
    return state;
  }

  async readCounters(): Promise<DeviceCounters> {
    const c = await this.request(Command.getCounters, encodeGetCounters(), decodeCounters);
    this.absorbCounters(c, false);
    return c;
  }

  async failsafe(reason: string): Promise<FailsafeResult> {
    const link = this.link;
    if (!link || !this.up) return { sent: false, why: `could not be sent: the link to ${this.config.path} is down` };
    try {
      this.noteState(await link.request(Command.failsafe, Buffer.alloc(0), { timeoutMs: 200, retries: 1, decode: decodeState }));
      this.answered = true;
      this.log.debug({ event: 'failsafe', reason }, 'cooler firmware confirmed failsafe');
      return { sent: true };
    } catch (err) {
      return { sent: false, why: `sent but not confirmed: ${(err as Error).message}` };
    }
  }

  get deviceWatchdogMs(): number {
    return this.settings?.watchdogMs ?? Math.round(this.config.watchdogSeconds * 1000);
  }

  deviceFailsafe(now = performance.now()): DeviceFailsafe {
    const st = this.lastState;
    // the last request was answered: the device's own word
    if (st && this.up && this.failures === 0 && this.answered) return { failsafe: st.mode !== 'run', assumed: false };
    // Otherwise any command we wrote since may have reached it and fed its watchdog (every valid
    // command does, HELLOs of a reconnect included): it is certain only once that much silence
    // has passed since the last one, plus the frame's time on the wire.
    if (now - this.lastWriteAt() >= this.deviceWatchdogMs + WIRE_SLACK_MS) return { failsafe: true, assumed: true };
    return { failsafe: null, assumed: false };
  }

  private lastWriteAt(): number {
    return Math.max(this.link?.lastWriteAt ?? 0, this.closedLinksWroteAt);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.keepAlive);
    this.keepAlive = undefined;
    this.wake();
    const link = this.link;
    this.link = null;
    await link?.close();
    this.setUp(false);
    await this.loop;
    this.loop = null;
  }

  // ---- connection loop ----

  private lastError: string | null = null;

  private async run(settleFirst: (e: Error | null) => void): Promise<void> {
    let backoff = this.o.backoffInitialMs;
    let wasUp = false;
    while (!this.closed) {
      let link: SerialLink | null = null;
      try {
        link = await SerialLink.open({
          path: this.config.path!,
          baudRate: this.config.baudRate ?? DEFAULT_BAUD_RATE.serial,
          metrics: this.metrics,
          requestTimeoutMs: this.o.requestTimeoutMs,
          retries: this.o.retries,
        });
        // tracked from here so that close() during the handshake closes it too
        this.link = link;
        const opened = link;
        opened.once('close', () => (this.closedLinksWroteAt = Math.max(this.closedLinksWroteAt, opened.lastWriteAt)));
        if (this.closed) break;
        const closed = new Promise<Error | null>((resolve) => link!.once('close', resolve));
        await this.handshake(link);
        if (this.closed) break;
        this.failures = 0;
        this.answered = true;
        this.connects++;
        if (wasUp) this.metrics.reconnects.inc();
        wasUp = true;
        backoff = this.o.backoffInitialMs;
        this.lastError = null;
        this.setUp(true);
        settleFirst(null);
        this.startKeepAlive();
        const err = await closed;
        clearInterval(this.keepAlive);
        this.link = null;
        this.setUp(false);
        if (!this.closed) this.log.warn({ event: 'link-lost', err: err?.message }, 'cooler link lost; reconnecting');
      } catch (err) {
        await link?.close();
        if (this.link === link) this.link = null;
        if (this.closed) break;
        const e = err as Error;
        this.metrics.connectFailures.inc();
        if (e.message !== this.lastError) this.log.warn({ event: 'connect-failed', err: e.message }, 'cooler connect failed; retrying with backoff');
        this.lastError = e.message;
        if (e instanceof CoolerMismatchError && this.connects === 0) {
          settleFirst(e);
          return;
        }
      }
      if (this.closed) break;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        sleep(backoff).then(resolve);
      });
      backoff = Math.min(this.o.backoffMaxMs, backoff * 2);
    }
    await this.link?.close();
    this.link = null;
    settleFirst(new Error(`cooler.path ${this.config.path}: closed before the cooler firmware answered`));
  }

  private async handshake(link: SerialLink): Promise<void> {
    const deadline = performance.now() + this.o.handshakeMs;
    let hello: Hello | null = null;
    let lastErr: Error | null = null;
    while (!hello && performance.now() < deadline && !this.closed) {
      try {
        hello = await link.request(Command.hello, encodeHello(), { retries: 0, decode: decodeHello });
      } catch (e) {
        lastErr = e as Error;
        if (!link.isOpen) throw e;
      }
      // Every HELLO we send is a string of commands to a Firmata board (the bytes of one wrote a
      // PWM pin of a StandardFirmata peer): once it has said what it is, stop talking to it.
      if (!hello && link.firmataSeen) {
        throw new CoolerMismatchError(
          `cooler.path ${this.config.path}: a Firmata board answers there, not the gance cooler firmware; set cooler.driver: firmata (and its pins), or flash firmware/dist/cooler.hex (gance firmware flash)`,
        );
      }
    }
    if (!hello) {
      const heard = link.junkBytes > 0 ? `; it sent ${link.junkBytes} bytes that were no gance frames: not the gance cooler firmware, or cooler.baudRate (${this.config.baudRate ?? DEFAULT_BAUD_RATE.serial}) is not its rate` : '';
      throw new Error(`no HELLO answer within ${this.o.handshakeMs} ms: ${lastErr?.message ?? 'closed'}${heard}`);
    }
    if (hello.protocolVersion !== PROTOCOL_VERSION) {
      throw new CoolerMismatchError(
        `cooler.path ${this.config.path}: firmware "${hello.name}" ${hello.firmwareVersion} speaks protocol ${hello.protocolVersion}, this daemon speaks ${PROTOCOL_VERSION}; flash firmware/dist/cooler.hex (gance firmware flash)`,
      );
    }
    this.config.fans.forEach((f, i) => {
      if (f.channel >= hello!.fanCount) {
        throw new CoolerMismatchError(`cooler.fans[${i}].channel: ${f.channel} but the firmware has fan channels 0..${hello!.fanCount - 1}`);
      }
    });
    this.config.thermistors.forEach((t, i) => {
      if (t.channel >= hello!.thermistorCount) {
        throw new CoolerMismatchError(`cooler.thermistors[${i}].channel: ${t.channel} but the firmware has thermistor inputs 0..${hello!.thermistorCount - 1}`);
      }
    });
    this.hello = hello;
    // same protocol, older behaviour: 1.1.0 stopped a command flood resetting the chip and HELLO
    // feeding the host watchdog (the fans held their duty while the host heard nothing)
    if (firmwareOlder(hello.firmwareVersion, FIRMWARE_VERSION)) {
      this.log.warn(
        { event: 'firmware-old', firmware: hello.firmwareVersion, bundled: FIRMWARE_VERSION },
        `cooler.path ${this.config.path}: firmware ${hello.firmwareVersion} is older than this daemon's ${FIRMWARE_VERSION} (what changed: firmware/PROTOCOL.md, Versioning); flash firmware/dist/cooler.hex (gance firmware flash)`,
      );
    }
    (this.info as { version: string }).version = `${hello.name} ${hello.firmwareVersion} (protocol ${hello.protocolVersion})`;

    // The watchdog and failsafe duty live in the device's EEPROM; make them what the config says.
    let settings = await link.request(Command.getSettings, undefined, { decode: decodeSettings });
    const want = { watchdogMs: Math.round(this.config.watchdogSeconds * 1000), failsafeDuty: this.config.failsafeDuty };
    if (settings.watchdogMs !== want.watchdogMs || dutyToWire(settings.failsafeDuty) !== dutyToWire(want.failsafeDuty)) {
      // EEPROM writes block the firmware ~3.4 ms per byte: give it time
      settings = await link.request(Command.setSettings, encodeSetSettings({ ...settings, ...want }), { timeoutMs: 1000, decode: decodeSettings });
      this.log.info({ event: 'settings-written', watchdogMs: settings.watchdogMs, failsafeDuty: settings.failsafeDuty }, 'cooler watchdog/failsafe settings written to EEPROM');
    }
    this.settings = settings;

    const state = await link.request(Command.getState, undefined, { decode: decodeState });
    // the boot count (EEPROM) changes at every restart, however long we were away
    const restarted = this.lastBoots !== null && hello.boots !== this.lastBoots;
    if (restarted) this.metrics.deviceResets.inc({ cause: hello.resetCause.join('+') || 'unknown' });
    this.lastBoots = hello.boots;
    this.lastUptimeMs = null;
    this.noteState(state, false);
    const counters = await link.request(Command.getCounters, encodeGetCounters(), { decode: decodeCounters });
    this.absorbCounters(counters, restarted || this.lastCounters === null);
    this.log.info(
      { event: 'link-up', firmware: this.info.version, boots: hello.boots, resetCause: hello.resetCause, mode: state.mode, restarted, watchdogMs: settings.watchdogMs },
      'cooler firmware connected',
    );
  }

  private startKeepAlive(): void {
    clearInterval(this.keepAlive);
    this.keepAlive = setInterval(() => void this.tickKeepAlive(), Math.max(50, this.o.keepAliveMs / 2));
    this.keepAlive.unref();
  }

  /**
   * Polls when the line has been quiet for keepAliveMs, so the device watchdog is fed between our
   * owner's duty commands. Only while that owner is alive: once it has commanded nothing for a whole
   * device watchdog period (a control loop that died or hung while the process lives on), the polls
   * stop too, and the firmware's watchdog takes the fans to full as it would for a dead host.
   */
  private async tickKeepAlive(): Promise<void> {
    const link = this.link;
    if (!link || !this.up) return;
    const now = performance.now();
    if (now - this.lastDutiesAt >= this.deviceWatchdogMs) return;
    try {
      if (now - this.lastCountersAt >= this.o.countersEveryMs) {
        this.lastCountersAt = now;
        await this.readCounters();
      } else if (now - link.lastWriteAt >= this.o.keepAliveMs * 0.9) {
        await this.readDevice();
      }
    } catch {
      // counted in request(); the link is torn down after maxFailures
    }
  }

  private async request<T>(type: number, payload: Buffer | undefined, decode: (payload: Buffer) => T): Promise<T> {
    const link = this.link;
    if (!link || !this.up) throw new Error(`cooler link is down (${this.config.path})`);
    try {
      const reply = await link.request(type, payload, { decode });
      this.failures = 0;
      this.answered = true;
      return reply;
    } catch (err) {
      this.answered = false;
      if (err instanceof DeviceErrorReply) {
        // The firmware understood our frame well enough to refuse it (bad argument, unknown command,
        // or a CRC error on every attempt): the link works, so this is the caller's error, not the
        // link's, and reopening the port would not change the answer.
        this.failures = 0;
        throw err;
      }
      if (++this.failures >= this.o.maxFailures && this.link === link) {
        this.log.warn({ event: 'link-dead', failures: this.failures, err: (err as Error).message }, 'cooler stopped answering; reopening the port');
        void link.close();
      }
      throw err;
    }
  }

  private noteState(state: DeviceState, checkRestart = true): void {
    const now = performance.now();
    if (checkRestart && this.lastUptimeMs !== null && state.uptimeMs < this.lastUptimeMs && !this.uptimeWrapped(state.uptimeMs, now - this.lastStateAt)) {
      // rebooted under us (hardware watchdog, brown-out): it is at full fans until the next setDuties
      this.metrics.deviceResets.inc({ cause: 'while-connected' });
      this.log.error({ event: 'device-reset', uptimeMs: state.uptimeMs }, 'cooler firmware restarted while connected');
      this.absorbCounters(null, true);
    }
    this.lastUptimeMs = state.uptimeMs;
    this.lastStateAt = now;
    this.lastState = state;
  }

  /**
   * The device's u32 ms uptime wraps after 49.7 days: a smaller value that is the last one moved on
   * by about the time that passed here is that wrap, not a restart (which was counted, logged as an
   * error and taken as a counter reset every 49.7 days). Slack: reply latency and clock drift.
   */
  private uptimeWrapped(uptimeMs: number, elapsedMs: number): boolean {
    const forward = (uptimeMs - this.lastUptimeMs!) >>> 0;
    return forward <= elapsedMs * 1.01 + 1000;
  }

  private restartPending = false;

  private absorbCounters(c: DeviceCounters | null, restarted: boolean): void {
    if (c === null) {
      this.restartPending = restarted;
      return;
    }
    this.metrics.absorbDeviceCounters(c, restarted || this.restartPending);
    this.restartPending = false;
    this.lastCounters = c;
  }

  private setUp(up: boolean): void {
    if (this.up === up) return;
    this.up = up;
    this.metrics.linkUp.set(up ? 1 : 0);
    this.emit('link', up);
  }

  private toCoolerState(s: DeviceState): CoolerState {
    return {
      fans: this.config.fans.map((f) => {
        const d = s.fans[f.channel];
        // A fan whose tach the firmware never saw reads 0 rpm on the wire; 0 would say "stalled"
        // and hold a fan without a tach wire at full, so it is unknown until a tach shows up.
        return { id: f.id, duty: d?.target ?? 1, ...(d ? { applied: d.applied } : {}), rpm: d?.tachSeen ? d.rpm : null };
      }),
      thermistors: this.config.thermistors.map((t) => ({ id: t.id, celsius: s.thermistors[t.channel]?.celsius ?? null })),
      failsafe: s.mode !== 'run',
      at: Date.now(),
    };
  }
}

/** Factory in the shape the daemon uses for every subsystem. */
export function createSerialCooler(config: CoolerConfig, deps: { log: Logger; registry: Registry } & Partial<SerialCoolerOptions>): SerialCooler {
  return new SerialCooler(config, deps);
}
