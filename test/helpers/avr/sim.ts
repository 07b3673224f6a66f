/**
 * The cooler firmware image running in avr8js: an ATmega328P at 16 MHz with the peripherals the
 * firmware uses (timers 0/1/2, ports B/C/D, USART0, ADC, EEPROM, watchdog), plus the world around
 * it: fans whose tach follows the PWM the firmware drives, NTC dividers on the ADC pins, and a
 * UART line to the host. Pins come from firmware/src/pins.h, so the harness and firmware agree.
 *
 * Simulated time is CPU cycles / 16 MHz. `run*()` advance it as fast as the host CPU allows;
 * `startRealtime()` paces it against the wall clock (see RealtimeStats for how close it gets).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  AVRADC,
  AVRClock,
  AVREEPROM,
  AVRIOPort,
  AVRTimer,
  AVRUSART,
  AVRWatchdog,
  CPU,
  EEPROMMemoryBackend,
  adcConfig,
  avrInstruction,
  portBConfig,
  portCConfig,
  portDConfig,
  timer0Config,
  timer1Config,
  timer2Config,
  usart0Config,
  watchdogConfig,
} from 'avr8js';
import { loadHexFile } from './hex.ts';

export const F_CPU = 16_000_000;
export const FIRMWARE_HEX = fileURLToPath(new URL('../../../firmware/dist/cooler.hex', import.meta.url));
export const PINS_H = fileURLToPath(new URL('../../../firmware/src/pins.h', import.meta.url));

/** MCUSR reset-cause bits, as the firmware reports them in HELLO. */
export const RESET = { powerOn: 0x01, external: 0x02, brownOut: 0x04, watchdog: 0x08 } as const;

export interface SimFan {
  /** speed at 100% duty */
  maxRpm: number;
  /** below this duty a running fan stops */
  minDuty: number;
  /** a stopped fan needs at least this duty to start (why the firmware kicks) */
  startDuty: number;
  /** time constant of speed changes, seconds */
  spinUpSeconds: number;
  /** false: tach wire not connected */
  tach: boolean;
}

export const DEFAULT_FAN: SimFan = { maxRpm: 9000, minDuty: 0.2, startDuty: 0.35, spinUpSeconds: 0.3, tach: true };

export interface CoolerSimOptions {
  hexPath?: string;
  /** fans connected to channels 0..n-1 (at most 4); channels without a fan read no tach */
  fans?: Partial<SimFan>[];
  /** initial thermistor temperatures, C; null = open input */
  thermistorsCelsius?: (number | null)[];
  /** EEPROM contents to start from (1 KiB), e.g. from a previous sim's `eeprom` */
  eeprom?: Uint8Array;
}

export interface PwmState {
  /** the pin is an output (false: high impedance, the fan sees 100%) */
  output: boolean;
  /** the timer's compare unit drives the pin */
  connected: boolean;
  /** compare register (OCR1A/OCR1B/OCR2B/OCR0B) */
  ocr: number;
  /** the timer's TOP (ICR1 or OCRxA) */
  top: number;
  /** duty the fan sees, 0..1, from the registers */
  duty: number;
}

interface PinRef {
  port: 'B' | 'C' | 'D';
  bit: number;
}
interface FanPins {
  pwm: PinRef;
  timer: 0 | 1 | 2;
  unit: 'A' | 'B';
  tach: PinRef;
}
export interface PinMap {
  fans: FanPins[];
  thermistorAdc: number[];
  led: PinRef;
  thermistor: { seriesOhms: number; nominalOhms: number; nominalKelvin: number; beta: number };
}

/** Compare outputs of the ATmega328P: pin -> timer and unit. */
const COMPARE_PINS: Record<string, { timer: 0 | 1 | 2; unit: 'A' | 'B' }> = {
  PD6: { timer: 0, unit: 'A' },
  PD5: { timer: 0, unit: 'B' },
  PB1: { timer: 1, unit: 'A' },
  PB2: { timer: 1, unit: 'B' },
  PB3: { timer: 2, unit: 'A' },
  PD3: { timer: 2, unit: 'B' },
};

/** Reads the pin map out of firmware/src/pins.h. */
export function readPinMap(path = PINS_H): PinMap {
  const text = readFileSync(path, 'utf8');
  const defs = new Map<string, string>();
  for (const m of text.matchAll(/^#define\s+(\w+)\s+(.+?)\s*(?:\/\*.*)?$/gm)) defs.set(m[1]!, m[2]!.trim());
  const need = (name: string): string => {
    const v = defs.get(name);
    if (v === undefined) throw new Error(`${path}: missing #define ${name}`);
    return v;
  };
  const pin = (name: string): PinRef => {
    const m = /^P([BCD])(\d)$/.exec(need(name));
    if (!m) throw new Error(`${path}: ${name} should be a pin like PB1, got ${need(name)}`);
    return { port: m[1] as PinRef['port'], bit: Number(m[2]) };
  };
  const count = Number(need('FAN_COUNT'));
  const tachPort = /^PORT([BCD])$/.exec(need('TACH_PORT'))?.[1] as PinRef['port'] | undefined;
  const tachFirst = pin('TACH_FIRST_BIT');
  if (!tachPort || tachPort !== tachFirst.port) throw new Error(`${path}: TACH_PORT and TACH_FIRST_BIT disagree`);
  const fans: FanPins[] = [];
  for (let i = 0; i < count; i++) {
    const pwm = pin(`FAN${i}_PWM_BIT`);
    const cmp = COMPARE_PINS[`P${pwm.port}${pwm.bit}`];
    if (!cmp) throw new Error(`${path}: FAN${i}_PWM_BIT P${pwm.port}${pwm.bit} is not a timer compare output`);
    fans.push({ pwm, ...cmp, tach: { port: tachPort, bit: tachFirst.bit + i } });
  }
  const thermCount = Number(need('THERM_COUNT'));
  const thermistorAdc = Array.from({ length: thermCount }, (_, i) => Number(need(`THERM${i}_ADC`)));
  const ledBit = /^P([BCD])(\d)$/.exec(need('LED_BIT'));
  if (!ledBit) throw new Error(`${path}: LED_BIT`);
  return {
    fans,
    thermistorAdc,
    led: { port: ledBit[1] as PinRef['port'], bit: Number(ledBit[2]) },
    thermistor: {
      seriesOhms: parseFloat(need('THERM_R_SERIES')),
      nominalOhms: parseFloat(need('THERM_R_NOMINAL')),
      nominalKelvin: parseFloat(need('THERM_T_NOMINAL_K')),
      beta: parseFloat(need('THERM_BETA')),
    },
  };
}

// Register addresses (data space) of the ATmega328P.
const REG = {
  MCUSR: 0x54,
  TCCR0A: 0x44,
  OCR0A: 0x47,
  OCR0B: 0x48,
  TCCR1A: 0x80,
  TCCR1B: 0x81,
  ICR1: 0x86,
  OCR1A: 0x88,
  OCR1B: 0x8a,
  TCCR2A: 0xb0,
  TCCR2B: 0xb1,
  OCR2A: 0xb3,
  OCR2B: 0xb4,
} as const;
const PORT_REGS = { B: { DDR: 0x24, PORT: 0x25 }, C: { DDR: 0x27, PORT: 0x28 }, D: { DDR: 0x2a, PORT: 0x2b } } as const;

class WatchdogResetSignal extends Error {}

function sharedWatchdogReset(this: { wdr: () => void }): void {
  this.wdr();
}

const OP_SLEEP = 0x9588;
const PCICR = 0x68;
const SMCR = 0x53;
const SREG = 0x5f;
interface RawCpu {
  nextClockEvent: { cycles: number } | null;
}
interface RawTimer {
  count: (reschedule?: boolean, external?: boolean) => void;
  divider: number;
  lastCycle: number;
  updateDivider: boolean;
  tcnt: number;
  TOP: number;
  timerMode: number;
  TIMSK: number;
}
const TIMER_FAST_PWM = 3;
const BATCH_CYCLES = 4096;
const TIMER_NORMAL = 0;

/**
 * avr8js wakes a timer every prescaler tick (every cycle for Timer1 at /1), which costs most of
 * the simulation time. In 'fast' timing a timer with no interrupt enabled catches up in batches
 * (its registers, flags and TCNT reads stay exact: avr8js brings it up to date on every access),
 * and one with only the overflow interrupt wakes exactly at each overflow. Only the waveform on
 * the compare pins is coarse then; measurePwm() switches to 'exact' while it watches a pin.
 */
function batchTimer(cpu: CPU, timer: AVRTimer, exact: () => boolean, maxBatch: number): void {
  const t = timer as unknown as RawTimer;
  const original = t.count;
  const wrapped = (reschedule = true, external = false): void => {
    // A divider change makes avr8js schedule the timer itself; keep that one event only.
    const dividerChange = t.updateDivider;
    original(false, external);
    if (!reschedule || dividerChange || !t.divider) return;
    // (never clearClockEvent here: this runs from CPU.tick(), which still holds this event)
    let delay = t.lastCycle + t.divider - cpu.cycles;
    if (!exact()) {
      const timsk = t.TIMSK;
      if (timsk === 0) delay = maxBatch;
      else if (timsk === 1 && (t.timerMode === TIMER_FAST_PWM || t.timerMode === TIMER_NORMAL) && t.tcnt <= t.TOP) {
        delay = (t.TOP - t.tcnt + 1) * t.divider - (cpu.cycles - t.lastCycle);
      }
    }
    cpu.addClockEvent(wrapped, Math.max(1, delay));
  };
  t.count = wrapped;

  // avr8js steps phase-correct PWM one count at a time; whole up-down periods change nothing a
  // firmware without timer interrupts can see but the OCR reload at TOP, so skip them.
  const raw = timer as unknown as RawTimer & { phasePwmCount(value: number, delta: number): number; ocrA: number; nextOcrA: number; ocrB: number; nextOcrB: number };
  const step = raw.phasePwmCount.bind(timer);
  raw.phasePwmCount = (value: number, delta: number): number => {
    const period = 2 * raw.TOP;
    if (!exact() && raw.TIMSK === 0 && period > 0 && delta > period) {
      delta %= period;
      raw.ocrA = raw.nextOcrA;
      raw.ocrB = raw.nextOcrB;
    }
    return step(value, delta);
  };
}

/** Divider voltage for a thermistor at `celsius` (AVCC 5 V), per the constants in pins.h. */
export function thermistorVolts(celsius: number | null, pins: PinMap, avcc = 5): number {
  if (celsius === null) return avcc; // open input: the series resistor pulls the pin to AVCC
  const { seriesOhms, nominalOhms, nominalKelvin, beta } = pins.thermistor;
  const r = nominalOhms * Math.exp(beta * (1 / (celsius + 273.15) - 1 / nominalKelvin));
  return (avcc * r) / (r + seriesOhms);
}

export class CoolerSim {
  readonly pins: PinMap;
  readonly eeprom: EEPROMMemoryBackend;
  /** resets seen, newest last: 'power-on' | 'watchdog' */
  readonly resets: string[] = [];
  /** bytes the host sent while the USART receiver was off (lost, as on real hardware) */
  rxDropped = 0;
  /** cycles skipped while the firmware slept */
  sleptCycles = 0;
  /**
   * 'fast' (default): timers without interrupts catch up in batches (see batchTimer);
   * 'exact': every prescaler tick is simulated, as avr8js does on its own.
   */
  timing: 'fast' | 'exact' = 'fast';
  skipSleep = true;
  private asleep = false;
  private wakePc = 0;

  private readonly program: Uint16Array;
  private cpu!: CPU;
  private timers!: AVRTimer[];
  private ports!: Record<'B' | 'C' | 'D', AVRIOPort>;
  private usart!: AVRUSART;
  private adc!: AVRADC;
  private readonly fans: (SimFan | null)[];
  private readonly rpm: number[];
  private readonly rpmOverride: (number | null)[];
  private readonly tachLevel: boolean[];
  private readonly tachPhase: number[];
  private readonly tachLast: number[];
  private readonly tachEvents: (() => void)[] = [];
  private readonly voltages: number[];
  private readonly rxQueue: number[] = [];
  private readonly txListeners = new Set<(byte: number) => void>();
  /** cycles of all CPUs before the current one (the CPU's own counter restarts at a reset) */
  private cyclesBefore = 0;

  constructor(opts: CoolerSimOptions = {}) {
    this.pins = readPinMap();
    this.program = loadHexFile(opts.hexPath ?? FIRMWARE_HEX);
    const n = this.pins.fans.length;
    const fans = opts.fans ?? Array.from({ length: n }, () => ({}));
    if (fans.length > n) throw new Error(`fans: the firmware has ${n} channels, got ${fans.length}`);
    this.fans = Array.from({ length: n }, (_, i) => (fans[i] ? { ...DEFAULT_FAN, ...fans[i] } : null));
    this.rpm = new Array(n).fill(0);
    this.rpmOverride = new Array(n).fill(null);
    this.tachLevel = new Array(n).fill(true);
    this.tachPhase = new Array(n).fill(0);
    this.tachLast = new Array(n).fill(0);
    this.eeprom = new EEPROMMemoryBackend(1024);
    if (opts.eeprom) this.eeprom.memory.set(opts.eeprom);
    const temps = opts.thermistorsCelsius ?? this.pins.thermistorAdc.map(() => 25);
    this.voltages = this.pins.thermistorAdc.map((_, i) => thermistorVolts(temps[i] ?? null, this.pins));
    this.boot(RESET.powerOn);
  }

  /** Simulated time since the first power-on, seconds. */
  get seconds(): number {
    return this.cycles / F_CPU;
  }

  get cycles(): number {
    return this.cyclesBefore + this.cpu.cycles;
  }

  /** Raw data-space byte (registers and SRAM), for assertions on hardware registers. */
  reg(addr: number): number {
    return this.cpu.data[addr]!;
  }

  /** SRAM (0x100..0x8FF): the firmware's variables, stack included. */
  ramSnapshot(): Uint8Array {
    return this.cpu.data.slice(0x100, 0x900);
  }

  reg16(addr: number): number {
    return this.cpu.data[addr]! | (this.cpu.data[addr + 1]! << 8);
  }

  // ---- time ----

  /**
   * Runs the CPU for `cycles` clock cycles. While the firmware sleeps (SLEEP with SMCR.SE, which
   * avr8js treats as a no-op) time jumps to the next peripheral event instead of spinning.
   */
  runCycles(cycles: number): void {
    const end = this.cycles + cycles;
    while (this.cycles < end) {
      const cpu = this.cpu;
      const raw = cpu as unknown as RawCpu;
      const prog = cpu.progMem;
      const data = cpu.data;
      const stop = end - this.cyclesBefore;
      try {
        while (cpu.cycles < stop) {
          if (this.asleep) {
            // idle: jump to the next peripheral event; an interrupt it raises wakes the CPU
            const ev = raw.nextClockEvent;
            if (!ev || ev.cycles > stop) {
              this.sleptCycles += stop - cpu.cycles;
              cpu.cycles = stop;
              break;
            }
            if (ev.cycles > cpu.cycles) {
              this.sleptCycles += ev.cycles - cpu.cycles;
              cpu.cycles = ev.cycles;
            }
            cpu.tick();
            if (cpu.pc !== this.wakePc) this.asleep = false;
            continue;
          }
          const sleeping = this.skipSleep && prog[cpu.pc] === OP_SLEEP && data[SMCR]! & 1 && data[SREG]! & 0x80;
          avrInstruction(cpu);
          if (sleeping) this.wakePc = cpu.pc; // an interrupt returns past the SLEEP
          cpu.tick();
          if (sleeping && cpu.pc === this.wakePc) this.asleep = true;
        }
      } catch (e) {
        if (!(e instanceof WatchdogResetSignal)) throw e;
        this.cyclesBefore += cpu.cycles;
        this.boot(RESET.watchdog);
      }
    }
  }

  runMs(ms: number): void {
    this.runCycles(Math.round((ms * F_CPU) / 1000));
  }

  /** Runs until `pred` holds (checked every `stepMs` of simulated time) or `timeoutMs` pass; returns whether it held. */
  runUntil(pred: () => boolean, timeoutMs: number, stepMs = 1): boolean {
    const end = this.cycles + (timeoutMs * F_CPU) / 1000;
    while (this.cycles < end) {
      if (pred()) return true;
      this.runMs(stepMs);
    }
    return pred();
  }

  // ---- UART ----

  /** Bytes from the host to the firmware, delivered at the line rate the firmware set up. */
  write(bytes: Uint8Array | number[]): void {
    for (const b of bytes) this.rxQueue.push(b & 0xff);
    this.pump();
  }

  /** Bytes from the firmware to the host. */
  onTx(listener: (byte: number) => void): () => void {
    this.txListeners.add(listener);
    return () => this.txListeners.delete(listener);
  }

  get rxPending(): number {
    return this.rxQueue.length;
  }

  private pump = (): void => {
    const u = this.usart;
    while (this.rxQueue.length > 0 && !u.rxEnable) {
      this.rxQueue.shift();
      this.rxDropped++;
    }
    if (this.rxQueue.length > 0 && !u.rxBusy) u.writeByte(this.rxQueue.shift()!);
  };

  // ---- fans ----

  /** What the firmware drives on a fan channel, read from the timer and port registers. */
  pwm(channel: number): PwmState {
    const f = this.pins.fans[channel];
    if (!f) throw new Error(`pwm: no fan channel ${channel}`);
    const { DDR, PORT } = PORT_REGS[f.pwm.port];
    const mask = 1 << f.pwm.bit;
    const output = (this.reg(DDR) & mask) !== 0;
    const level = (this.reg(PORT) & mask) !== 0 ? 1 : 0;
    // high impedance (reset, bootloader): pulled up inside the fan (or by the MOSFET gate pull-up)
    if (!output) return { output, connected: false, ocr: 0, top: 0, duty: 1 };
    let ocr: number, top: number, connected: boolean, duty: number;
    if (f.timer === 1) {
      const tccra = this.reg(REG.TCCR1A);
      const wgm = ((this.reg(REG.TCCR1B) & 0x18) >> 1) | (tccra & 0x3);
      if (wgm !== 10) throw new Error(`pwm: Timer1 in WGM mode ${wgm}, the harness knows mode 10`);
      connected = (tccra & (f.unit === 'A' ? 0x80 : 0x20)) !== 0;
      ocr = this.reg16(f.unit === 'A' ? REG.OCR1A : REG.OCR1B);
      top = this.reg16(REG.ICR1);
      duty = Math.min(1, ocr / top); // phase correct, non-inverting
    } else {
      const [tccraAddr, ocraAddr, ocrbAddr] = f.timer === 2 ? [REG.TCCR2A, REG.OCR2A, REG.OCR2B] : [REG.TCCR0A, REG.OCR0A, REG.OCR0B];
      const tccra = this.reg(tccraAddr);
      const wgm = ((this.reg(tccraAddr + 1) & 0x08) >> 1) | (tccra & 0x3);
      if (wgm !== 7) throw new Error(`pwm: Timer${f.timer} in WGM mode ${wgm}, the harness knows mode 7`);
      if (f.unit !== 'B') throw new Error('pwm: OCxA is TOP in mode 7');
      connected = (tccra & 0x20) !== 0;
      ocr = this.reg(ocrbAddr);
      top = this.reg(ocraAddr);
      duty = Math.min(1, (ocr + 1) / (top + 1)); // fast PWM, non-inverting
    }
    if (!connected) duty = level;
    return { output, connected, ocr, top, duty };
  }

  /** Duty each channel's fan sees, 0..1. */
  duties(): number[] {
    return this.pins.fans.map((_, i) => this.pwm(i).duty);
  }

  /**
   * Measures the waveform on a fan pin by watching its transitions for `ms` of simulated time:
   * frequency from rising edges, duty from time high.
   */
  measurePwm(channel: number, ms = 2): { frequencyHz: number; duty: number; edges: number } {
    const f = this.pins.fans[channel]!;
    const port = this.ports[f.pwm.port];
    const mask = 1 << f.pwm.bit;
    let high = (port.pinState(f.pwm.bit) as number) === 1;
    let since = this.cycles;
    let highCycles = 0;
    const rises: number[] = [];
    const listener = (value: number): void => {
      const now = (value & mask) !== 0;
      if (now === high) return;
      const t = this.cycles;
      if (high) highCycles += t - since;
      else rises.push(t);
      high = now;
      since = t;
    };
    const before = this.timing;
    this.timing = 'exact';
    this.runCycles(BATCH_CYCLES + 16); // let the timers leave batch mode before watching
    high = (port.pinState(f.pwm.bit) as number) === 1;
    since = this.cycles;
    const start = this.cycles;
    port.addListener(listener);
    try {
      this.runMs(ms);
    } finally {
      port.removeListener(listener);
      this.timing = before;
    }
    if (high) highCycles += this.cycles - since;
    const total = this.cycles - start;
    const frequencyHz = rises.length >= 2 ? ((rises.length - 1) * F_CPU) / (rises.at(-1)! - rises[0]!) : 0;
    return { frequencyHz, duty: highCycles / total, edges: rises.length };
  }

  /** Fixes a fan's tach to `rpm` (null: back to the fan model). */
  setRpm(channel: number, rpm: number | null): void {
    this.rpmOverride[channel] = rpm;
  }

  /** Current simulated fan speed (what the tach signals), rpm. */
  fanRpm(channel: number): number {
    return this.rpmOverride[channel] ?? this.rpm[channel]!;
  }

  // ---- thermistors ----

  setThermistorCelsius(input: number, celsius: number | null): void {
    this.setThermistorVolts(input, thermistorVolts(celsius, this.pins));
  }

  setThermistorVolts(input: number, volts: number): void {
    if (input < 0 || input >= this.voltages.length) throw new Error(`thermistor input ${input} does not exist`);
    this.voltages[input] = volts;
    this.adc.channelValues[this.pins.thermistorAdc[input]!] = volts;
  }

  // ---- faults ----

  /** Makes the firmware hang (interrupts off, endless loop), as a firmware bug would. */
  hang(): void {
    const p = this.program;
    for (let i = 0; i + 1 < p.length; i++) {
      if (p[i] === 0x94f8 && p[i + 1] === 0xcfff) {
        this.cpu.pc = i; // cli; rjmp .  (avr-libc's _exit)
        return;
      }
    }
    throw new Error('hang: no "cli; rjmp ." in the image');
  }

  /** Power cycle: all state but the EEPROM is lost. */
  powerCycle(): void {
    this.cyclesBefore += this.cpu.cycles;
    this.boot(RESET.powerOn);
  }

  /** Status LED level. */
  get led(): boolean {
    const { PORT } = PORT_REGS[this.pins.led.port];
    return (this.reg(PORT) & (1 << this.pins.led.bit)) !== 0;
  }

  // ---- internals ----

  /** A fresh chip (registers at reset values) running the same flash and EEPROM. */
  private boot(cause: number): void {
    this.resets.push(cause === RESET.watchdog ? 'watchdog' : 'power-on');
    const cpu = new CPU(this.program, 2048);
    this.asleep = false;
    // avr8js resets only PC/SP; a real reset also resets every peripheral, so we rebuild them.
    cpu.reset = () => {
      throw new WatchdogResetSignal('watchdog reset');
    };
    const clock = new AVRClock(cpu, F_CPU);
    this.timers = [new AVRTimer(cpu, timer0Config), new AVRTimer(cpu, timer1Config), new AVRTimer(cpu, timer2Config)];
    for (const timer of this.timers) batchTimer(cpu, timer, () => this.timing === 'exact', BATCH_CYCLES);
    this.ports = { B: new AVRIOPort(cpu, portBConfig), C: new AVRIOPort(cpu, portCConfig), D: new AVRIOPort(cpu, portDConfig) };
    // avr8js 0.21 has no write hook on PCICR: masking a pin-change vector there neither holds its
    // pending request back nor, once unmasked, raises the flag latched meanwhile (the datasheet
    // says both). The firmware masks PCIE1 while it does tach bookkeeping, so model it properly.
    const pcints = Object.values(this.ports).map((p) => (p as unknown as { PCINT: Parameters<CPU['updateInterruptEnable']>[0] | null }).PCINT);
    cpu.writeHooks[PCICR] = (value: number) => {
      cpu.data[PCICR] = value;
      for (const pcint of pcints) if (pcint) cpu.updateInterruptEnable(pcint, value);
      return true;
    };
    this.usart = new AVRUSART(cpu, usart0Config, F_CPU);
    this.usart.onByteTransmit = (b: number) => {
      for (const l of this.txListeners) l(b);
    };
    this.usart.onRxComplete = this.pump;
    this.adc = new AVRADC(cpu, adcConfig);
    new AVREEPROM(cpu, this.eeprom);
    new AVRWatchdog(cpu, watchdogConfig, clock);
    // avrInstruction calls cpu.onWatchdogReset() for WDR; one shared function there (not a
    // closure per chip) keeps V8 from throwing away its optimized code for every new sim.
    const raw = cpu as unknown as { onWatchdogReset: () => void; wdr: () => void };
    raw.wdr = raw.onWatchdogReset;
    raw.onWatchdogReset = sharedWatchdogReset;
    cpu.data[REG.MCUSR] = cause;
    this.cpu = cpu;
    this.pins.thermistorAdc.forEach((ch, i) => (this.adc.channelValues[ch] = this.voltages[i]!));
    this.pins.fans.forEach((f, i) => {
      this.tachLevel[i] = true;
      this.tachLast[i] = 0;
      this.ports[f.tach.port].setPin(f.tach.bit, true); // pulled up; the fan pulls it low
      this.tachEvents[i] = () => this.tachEdge(i);
    });
    this.scheduleModel();
  }

  private readonly modelStepCycles = F_CPU / 1000;

  /** Every simulated ms: fan speeds follow the duty the firmware drives. */
  private scheduleModel(): void {
    const step = (): void => {
      const dt = this.modelStepCycles / F_CPU;
      this.fans.forEach((fan, i) => {
        if (!fan) return;
        const duty = this.pwm(i).duty;
        const running = this.rpm[i]! > 0.05 * fan.maxRpm;
        const target = duty >= (running ? fan.minDuty : fan.startDuty) ? fan.maxRpm * duty : 0;
        this.rpm[i] = this.rpm[i]! + (target - this.rpm[i]!) * (1 - Math.exp(-dt / fan.spinUpSeconds));
        if (this.rpm[i]! < 1) this.rpm[i] = 0;
      });
      this.cpu.addClockEvent(step, this.modelStepCycles);
    };
    this.cpu.addClockEvent(step, this.modelStepCycles);
    this.fans.forEach((_, i) => this.cpu.addClockEvent(this.tachEvents[i]!, this.modelStepCycles));
  }

  /**
   * Tach of one fan: an open-collector square wave, 2 pulses per revolution, whose phase advances
   * with the current speed (so speed changes show up at once, and a fixed speed gives edges exact
   * to the cycle). Wakes at each edge, or every ms to pick up a new speed.
   */
  private tachEdge(i: number): void {
    const fan = this.fans[i];
    const rpm = this.rpmOverride[i] ?? (fan?.tach ? this.rpm[i]! : 0);
    const pin = this.pins.fans[i]!.tach;
    const now = this.cpu.cycles;
    const rate = rpm > 0 ? (rpm * 4) / 60 / F_CPU : 0; // edges per cycle
    let phase = this.tachPhase[i]! + (now - this.tachLast[i]!) * rate;
    this.tachLast[i] = now;
    if (rate === 0) {
      phase = 0;
      if (!this.tachLevel[i]) {
        this.tachLevel[i] = true;
        this.ports[pin.port].setPin(pin.bit, true);
      }
    } else if (phase >= 1 - 1e-9) {
      phase = Math.max(0, phase - 1) % 1;
      this.tachLevel[i] = !this.tachLevel[i];
      this.ports[pin.port].setPin(pin.bit, this.tachLevel[i]!);
    }
    this.tachPhase[i] = phase;
    const next = rate > 0 ? Math.round((1 - phase) / rate) : this.modelStepCycles;
    this.cpu.addClockEvent(this.tachEvents[i]!, Math.max(1, Math.min(this.modelStepCycles, next)));
  }
}
