/**
 * Cooler on a stock StandardFirmata board (Arduino Uno/Nano), through johnny-five.
 *
 * StandardFirmata has no watchdog: the board keeps the last PWM value for ever once the host is gone,
 * and after a reset it drives every PWM pin LOW (fans at their slowest). So this driver writes full
 * duty whenever it loses confidence (on connect, before declaring the link lost, on failsafe), pings
 * the board to notice a silent link, and reconnects with backoff. See hardware/README.md
 * ("Firmata: limitations") for what it cannot do and why our firmware is the one for unattended use.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Cooler, CoolerInfo, CoolerState, DeviceFailsafe, FailsafeResult } from '../cooler.ts';
import { DEFAULT_BAUD_RATE, type CoolerConfig } from '../config.ts';
import { firmataMetrics, type FirmataMetrics } from './metrics.ts';
import { MODE, planPins, type PinPlan } from './pins.ts';
import { B3950_10K, adcToCelsius, adcToOhms, type ThermistorModel } from './thermistor.ts';
import { forgetBoard, serialTransport, wrapBoard, type FirmataTransport, type J5Board, type OpenTransport } from './link.ts';

export const FIRMATA_DRIVER_VERSION = 'firmata-1';
/** StandardFirmata's baud rate (the Firmata library's default, 57600 since 2.x): cooler.baudRate's default for this driver. */
export const STANDARD_FIRMATA_BAUD = DEFAULT_BAUD_RATE.firmata;
const PWM_FULL = 255;

export interface FirmataCoolerOptions {
  log: Logger;
  registry?: Registry;
  /** opens the board; default: config.path at config.baudRate through serialport */
  openTransport?: OpenTransport;
  /** fan id -> digital pin counting the fan's tach (falling edges, 2 per revolution); also read from cooler.fans[].tachPin */
  tachPins?: Readonly<Record<string, number>>;
  thermistor?: ThermistorModel;
  /** time from open to johnny-five 'ready' (reset + bootloader + handshake), ms */
  readyTimeoutMs?: number;
  /** ping period, ms (default: a third of cooler.watchdogSeconds, at most 1000) */
  pingIntervalMs?: number;
  /** the link counts as lost when no ping was answered for this long, ms (default cooler.watchdogSeconds) */
  linkTimeoutMs?: number;
  /** reconnect backoff, ms */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** rpm is counted over windows this long, ms */
  tachWindowMs?: number;
  /** a thermistor with no ADC sample for this long reads null, ms */
  sampleStaleMs?: number;
  /** ADC samples averaged per thermistor reading (StandardFirmata reports every 19 ms) */
  adcAverage?: number;
}

export class FirmataConfigError extends Error {
  constructor(readonly issues: string[]) {
    super(`cooler (firmata): ${issues.join('; ')}`);
    this.name = 'FirmataConfigError';
  }
}

interface Tach {
  edges: number;
  /** an edge came since connect: until then 0 edges may mean no tach wire, not a stopped fan */
  seen: boolean;
  last: number | null;
  windowStart: number;
  rpm: number | null;
}

interface Adc {
  samples: number[];
  at: number;
}

interface Connection {
  transport: FirmataTransport;
  board: J5Board;
  plan: PinPlan;
  lastPong: number;
  pingTimer?: NodeJS.Timeout;
  tachTimer?: NodeJS.Timeout;
  pingOutstanding: boolean;
  version: string;
}

export class FirmataCooler extends EventEmitter implements Cooler {
  readonly info: CoolerInfo;
  /** failsafe reasons, newest last (observability and tests) */
  readonly failsafeLog: string[] = [];
  private readonly metrics: FirmataMetrics;
  private readonly openTransport: OpenTransport;
  private readonly tachPins: Record<string, number>;
  private readonly model: ThermistorModel;
  private readonly readyTimeoutMs: number;
  private readonly pingIntervalMs: number;
  private readonly linkTimeoutMs: number;
  private readonly reconnectMinMs: number;
  private readonly reconnectMaxMs: number;
  private readonly tachWindowMs: number;
  private readonly sampleStaleMs: number;
  private readonly adcAverage: number;
  private readonly log: Logger;

  private conn: Connection | null = null;
  private opened = false;
  private closing = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private reconnectDelay: number;
  private inFailsafe = true;
  private readonly duties = new Map<string, number>();
  private readonly tach = new Map<string, Tach>();
  private readonly adc = new Map<string, Adc>();

  constructor(
    private readonly config: Pick<CoolerConfig, 'fans' | 'thermistors'> & Partial<Pick<CoolerConfig, 'path' | 'baudRate' | 'watchdogSeconds'>>,
    options: FirmataCoolerOptions,
  ) {
    super();
    this.log = options.log.child({ cooler: 'firmata' });
    this.metrics = firmataMetrics(options.registry);
    const watchdogMs = (config.watchdogSeconds ?? 3) * 1000;
    this.linkTimeoutMs = options.linkTimeoutMs ?? watchdogMs;
    this.pingIntervalMs = options.pingIntervalMs ?? Math.min(1000, this.linkTimeoutMs / 3);
    this.readyTimeoutMs = options.readyTimeoutMs ?? 10_000;
    this.reconnectMinMs = options.reconnectMinMs ?? 500;
    this.reconnectMaxMs = options.reconnectMaxMs ?? 10_000;
    this.reconnectDelay = this.reconnectMinMs;
    this.tachWindowMs = options.tachWindowMs ?? 1000;
    this.sampleStaleMs = options.sampleStaleMs ?? 2000;
    this.adcAverage = Math.max(1, options.adcAverage ?? 8);
    this.model = options.thermistor ?? B3950_10K;

    // cooler.fans[].tachPin is not (yet) in the shared schema; read it if a config carries it.
    this.tachPins = { ...options.tachPins };
    for (const fan of config.fans) {
      const pin = (fan as { tachPin?: unknown }).tachPin;
      if (typeof pin === 'number' && this.tachPins[fan.id] === undefined) this.tachPins[fan.id] = pin;
    }

    if (options.openTransport) {
      this.openTransport = options.openTransport;
    } else {
      if (!config.path) throw new FirmataConfigError(['cooler.path: is required for the firmata driver (e.g. /dev/gance-cooler)']);
      this.openTransport = serialTransport(config.path, config.baudRate ?? STANDARD_FIRMATA_BAUD);
    }

    for (const fan of config.fans) this.duties.set(fan.id, 1);
    this.info = { kind: 'firmata', version: FIRMATA_DRIVER_VERSION, fans: config.fans.map((f) => f.id), thermistors: config.thermistors.map((t) => t.id) };
  }

  get linkUp(): boolean {
    return this.conn !== null;
  }

  /** Opens the board; rejects with the reason when the first connection fails (no retry: bad path or config). */
  async open(): Promise<void> {
    if (this.opened) return;
    this.closing = false;
    this.conn = await this.connect();
    this.opened = true;
    this.onUp(false);
  }

  async setDuties(duties: Readonly<Record<string, number>>): Promise<void> {
    for (const [id, duty] of Object.entries(duties)) {
      if (!this.duties.has(id)) throw new Error(`cooler (firmata): unknown fan "${id}" (fans: ${this.info.fans.join(', ')})`);
      if (!(typeof duty === 'number' && duty >= 0 && duty <= 1)) throw new Error(`cooler (firmata): fan "${id}": duty must be within 0..1, got ${duty}`);
    }
    const conn = this.conn;
    if (!conn) throw new Error('cooler (firmata): link down, reconnecting; fans keep their last duty (full after a reset of the link)');
    for (const [id, duty] of Object.entries(duties)) {
      const fan = conn.plan.fans.find((f) => f.id === id)!;
      conn.board.analogWrite(fan.pin, Math.round(duty * PWM_FULL));
      this.duties.set(id, duty);
    }
    this.inFailsafe = false;
  }

  async read(): Promise<CoolerState> {
    const conn = this.conn;
    if (!conn) throw new Error('cooler (firmata): link down, reconnecting');
    const now = Date.now();
    return {
      fans: conn.plan.fans.map((f) => ({ id: f.id, duty: this.duties.get(f.id) ?? 1, rpm: this.tach.get(f.id)?.rpm ?? null })),
      thermistors: conn.plan.thermistors.map((t) => ({ id: t.id, celsius: this.celsius(t.id, now) })),
      failsafe: this.inFailsafe,
      at: now,
    };
  }

  /** Full duty on every fan pin; never throws, settles within ~300 ms even with a dead link. */
  async failsafe(reason: string): Promise<FailsafeResult> {
    this.inFailsafe = true;
    this.failsafeLog.push(reason);
    for (const id of this.duties.keys()) this.duties.set(id, 1);
    const conn = this.conn;
    // the board keeps its last duty until it is reconnected (connecting writes full first)
    if (!conn) return { sent: false, why: 'could not be sent: the Firmata link is down' };
    this.writeAllFull(conn, reason);
    await this.drain(conn, 300);
    return { sent: true };
  }

  /** StandardFirmata has no host watchdog: a board that lost the host keeps its last duty. */
  readonly deviceWatchdogMs = null;

  deviceFailsafe(): DeviceFailsafe {
    // Firmata never answers a duty: "failsafe" is what we last wrote, true only while we can write
    return this.conn ? { failsafe: this.inFailsafe, assumed: false } : { failsafe: null, assumed: false };
  }

  async close(): Promise<void> {
    this.closing = true;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    const conn = this.conn;
    this.conn = null;
    const wasOpen = this.opened;
    this.opened = false;
    if (conn) {
      // Without a watchdog on the board, whatever is written last stays: leave the fans at full.
      this.writeAllFull(conn, 'close');
      await this.drain(conn, 300);
      await this.teardown(conn);
      this.metrics.linkUp.set(0);
    }
    if (wasOpen && conn) this.emit('link', false);
  }

  /** Opens a transport, waits for johnny-five's ready, checks the pins and sets them up at full duty. */
  private async connect(): Promise<Connection> {
    const transport = await this.openTransport();
    const { io } = transport;
    const board = wrapBoard(io, this.readyTimeoutMs);
    // johnny-five's Board re-emits io errors and logs through 'error'/'fail' events: an unheard
    // 'error' would throw, so every one is heard and logged.
    board.on('error', (e: unknown) => this.log.warn({ err: e }, 'johnny-five board error'));
    board.on('fail', (e: unknown) => this.log.warn({ event: e }, 'johnny-five board failure'));
    let conn: Connection | undefined;
    const lost = (reason: string) => (err?: unknown) => {
      if (conn) this.onLinkLost(conn, reason, err);
    };
    io.on('error', lost('serial error'));
    io.on('close', lost('port closed'));
    io.on('disconnect', lost('device disconnected'));
    // johnny-five emits 'exit' on its own shutdown paths: leave the fans at full whatever happens next.
    board.on('exit', () => conn && this.writeAllFull(conn, 'johnny-five exit'));

    try {
      const ready = this.waitReady(board, io);
      try {
        await transport.start?.();
      } catch (err) {
        ready.cancel();
        throw err;
      }
      await ready.promise;
      const { plan, issues } = planPins(this.config, this.tachPins, { pins: io.pins, analogPins: io.analogPins });
      if (issues.length > 0) throw new FirmataConfigError(issues);
      const fw = io.firmware?.name ? `${io.firmware.name} ${io.firmware.version?.major ?? '?'}.${io.firmware.version?.minor ?? '?'}` : 'Firmata';
      conn = { transport, board, plan, lastPong: Date.now(), pingOutstanding: false, version: `${FIRMATA_DRIVER_VERSION} (${fw})` };
      this.setupPins(conn, io.MODES);
      return conn;
    } catch (err) {
      conn = undefined;
      forgetBoard(board);
      io.removeAllListeners();
      await transport.close();
      throw err;
    }
  }

  /** Resolves on johnny-five's 'ready'; rejects on timeout or a port that fails first. cancel() stops waiting. */
  private waitReady(board: J5Board, io: FirmataTransport['io']): { promise: Promise<void>; cancel(): void } {
    let cleanup = () => {};
    const promise = new Promise<void>((resolve, reject) => {
      if (board.isReady) return resolve();
      const onReady = () => {
        cleanup();
        resolve();
      };
      const onClose = () => {
        cleanup();
        reject(new Error('cooler (firmata): the port closed before the Firmata handshake'));
      };
      const onError = (err: Error) => {
        cleanup();
        reject(new Error(`cooler (firmata): serial error before the Firmata handshake: ${err.message}`, { cause: err }));
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new Error(
            `cooler (firmata): no Firmata handshake within ${this.readyTimeoutMs} ms; is StandardFirmata flashed, ` +
              `and does cooler.baudRate match it (StandardFirmata: ${STANDARD_FIRMATA_BAUD})? ` +
              '(a board running the gance firmware needs cooler.driver: serial)',
          ),
        );
      }, this.readyTimeoutMs);
      cleanup = () => {
        clearTimeout(timer);
        board.off('ready', onReady);
        io.off('close', onClose);
        io.off('error', onError);
      };
      board.once('ready', onReady);
      io.once('close', onClose);
      io.once('error', onError);
    });
    return { promise, cancel: () => cleanup() };
  }

  private setupPins(conn: Connection, modes: Record<string, number>): void {
    const { board, plan } = conn;
    const io = board.io;
    for (const fan of plan.fans) {
      board.pinMode(fan.pin, MODE.PWM);
      board.analogWrite(fan.pin, PWM_FULL);
    }
    this.metrics.failsafes.inc({ reason: 'connect' });
    const pullup = modes.PULLUP ?? MODE.PULLUP;
    for (const fan of plan.fans) {
      if (fan.tachPin === null) continue;
      const pin = fan.tachPin;
      // The board has its own 10K pull-up to 5 V (hardware/pinout.md); the internal one is a bonus.
      board.pinMode(pin, io.pins[pin]?.supportedModes.includes(pullup) ? pullup : MODE.INPUT);
      const t: Tach = { edges: 0, seen: false, last: null, windowStart: Date.now(), rpm: null };
      this.tach.set(fan.id, t);
      // firmata.js reports every input pin of a port whenever any pin of the port changes: count
      // falling edges ourselves.
      board.digitalRead(pin, (value: number) => {
        if (t.last === 1 && value === 0) {
          t.edges++;
          t.seen = true;
        }
        t.last = value;
      });
    }
    for (const th of plan.thermistors) {
      // firmata.js takes the analog channel (not the pin) for ANALOG mode; StandardFirmata's pins
      // with an ADC start in analog mode anyway, and reporting is what turns the samples on.
      board.pinMode(th.channel, MODE.ANALOG);
      const a: Adc = { samples: [], at: 0 };
      this.adc.set(th.id, a);
      board.analogRead(th.channel, (value: number) => {
        a.samples.push(value);
        if (a.samples.length > this.adcAverage) a.samples.shift();
        a.at = Date.now();
      });
    }
  }

  private onUp(reconnected: boolean): void {
    const conn = this.conn!;
    this.inFailsafe = true;
    for (const id of this.duties.keys()) this.duties.set(id, 1);
    this.reconnectDelay = this.reconnectMinMs;
    conn.pingTimer = setInterval(() => this.ping(conn), this.pingIntervalMs);
    conn.pingTimer.unref();
    if (this.tach.size > 0) {
      conn.tachTimer = setInterval(() => this.countTach(), this.tachWindowMs);
      conn.tachTimer.unref();
    }
    this.metrics.linkUp.set(1);
    if (reconnected) this.metrics.reconnects.inc();
    this.log.info({ version: conn.version, reconnected }, 'Firmata board ready; fans at full until the controller sets duties');
    this.emit('link', true);
  }

  private ping(conn: Connection): void {
    if (conn !== this.conn) return;
    const now = Date.now();
    if (now - conn.lastPong > this.linkTimeoutMs) {
      this.onLinkLost(conn, 'no answer to pings');
      return;
    }
    const io = conn.board.io;
    if (typeof io.reportVersion !== 'function') {
      conn.lastPong = now; // an io without a ping (some IO plugins): close/error events are all we have
      return;
    }
    if (conn.pingOutstanding) {
      this.metrics.pingTimeouts.inc();
      // Not sure the board hears us: ask for full duty now, before the link is declared lost.
      if (!this.inFailsafe) this.writeAllFull(conn, 'ping unanswered');
      this.inFailsafe = true;
      return;
    }
    conn.pingOutstanding = true;
    io.reportVersion(() => {
      conn.pingOutstanding = false;
      conn.lastPong = Date.now();
    });
  }

  private countTach(): void {
    const now = Date.now();
    for (const t of this.tach.values()) {
      const ms = now - t.windowStart;
      if (ms <= 0) continue;
      // Never an edge: unknown, not 0, or a fan without a tach signal reads as stalled and is held
      // at full (the fans run at full from connect, so a fan with a tach shows one at once).
      t.rpm = t.seen ? Math.round((t.edges / 2) * (60_000 / ms)) : null;
      t.edges = 0;
      t.windowStart = now;
    }
  }

  private celsius(id: string, now: number): number | null {
    const a = this.adc.get(id);
    if (!a || a.samples.length === 0 || now - a.at > this.sampleStaleMs) return null;
    // A rail sample anywhere in the window is a wiring fault, not something to average away
    // (an open read 1023 and a short read 0 would average to a plausible 25 C).
    if (a.samples.some((v) => adcToOhms(v, this.model) === null)) return null;
    const mean = a.samples.reduce((s, v) => s + v, 0) / a.samples.length;
    const c = adcToCelsius(mean, this.model);
    return c === null ? null : Math.round(c * 10) / 10;
  }

  private writeAllFull(conn: Connection, reason: string): void {
    // A closed port would queue the bytes for ever: nothing to say to it.
    if (conn.transport.isOpen && !conn.transport.isOpen()) return;
    for (const fan of conn.plan.fans) {
      try {
        conn.board.analogWrite(fan.pin, PWM_FULL);
      } catch (err) {
        this.log.warn({ err, pin: fan.pin }, 'could not write full duty');
      }
    }
    this.metrics.failsafes.inc({ reason: reason.replace(/[^a-z -]/gi, '').slice(0, 40) });
  }

  private async drain(conn: Connection, boundMs: number): Promise<void> {
    if (!conn.transport.drain) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      conn.transport.drain().catch(() => undefined),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, boundMs);
      }),
    ]);
    clearTimeout(timer);
  }

  private onLinkLost(conn: Connection, reason: string, err?: unknown): void {
    if (conn !== this.conn || this.closing) return;
    this.conn = null;
    // The port may still be open (a silent board): full duty is the last thing we try to say.
    this.writeAllFull(conn, 'link lost');
    this.inFailsafe = true;
    void this.teardown(conn);
    this.metrics.linkUp.set(0);
    this.metrics.linkLosses.inc({ reason });
    this.log.error({ reason, err }, 'Firmata link lost: the board keeps its last duty (StandardFirmata has no watchdog); reconnecting');
    this.emit('link', false);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closing || this.reconnectTimer) return;
    const delay = this.reconnectDelay;
    this.reconnectDelay = Math.min(this.reconnectMaxMs, this.reconnectDelay * 2);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.reconnect();
    }, delay);
    this.reconnectTimer.unref();
  }

  private async reconnect(): Promise<void> {
    if (this.closing) return;
    try {
      const conn = await this.connect();
      if (this.closing) {
        await this.teardown(conn);
        return;
      }
      this.conn = conn;
      this.onUp(true);
    } catch (err) {
      this.metrics.connectFailures.inc();
      this.log.warn({ err: (err as Error).message, retryMs: this.reconnectDelay }, 'Firmata reconnect failed');
      this.scheduleReconnect();
    }
  }

  private async teardown(conn: Connection): Promise<void> {
    clearInterval(conn.pingTimer);
    clearInterval(conn.tachTimer);
    forgetBoard(conn.board);
    const io = conn.board.io;
    io.removeAllListeners();
    // A late error from a closing port must not become an unheard 'error'.
    io.on('error', () => undefined);
    conn.board.removeAllListeners();
    conn.board.on('error', () => undefined);
    await conn.transport.close();
  }
}
