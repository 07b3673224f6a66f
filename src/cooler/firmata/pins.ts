/**
 * Which Arduino pins the Firmata driver uses, checked against what the board itself reports in
 * Firmata's capability query, so a wrong pin is refused before any fan is driven.
 */
import type { CoolerConfig } from '../config.ts';

/** PWM pins of an ATmega328P board (Uno, Nano, Pro Mini) under the Arduino core. */
export const ATMEGA328P_PWM_PINS = [3, 5, 6, 9, 10, 11] as const;

/** Firmata pin modes used here (numbers from the Firmata protocol). */
export const MODE = { INPUT: 0x00, OUTPUT: 0x01, ANALOG: 0x02, PWM: 0x03, PULLUP: 0x0b } as const;

export interface PinCapability {
  supportedModes: number[];
  analogChannel: number;
}

export interface BoardCapabilities {
  /** indexed by Arduino pin number */
  pins: readonly PinCapability[];
  /** pin number of each analog channel (A0 = analogPins[0]) */
  analogPins: readonly number[];
}

export interface FanPins {
  id: string;
  /** PWM pin */
  pin: number;
  /** digital pin counting tach pulses, or null: rpm is then reported as null */
  tachPin: number | null;
}

export interface ThermistorPins {
  id: string;
  /** analog channel (A0 = 0) */
  channel: number;
  /** its pin number */
  pin: number;
}

export interface PinPlan {
  fans: FanPins[];
  thermistors: ThermistorPins[];
}

/** Serial RX/TX of the Arduino: Firmata itself runs over them. */
const SERIAL_PINS = new Set([0, 1]);

function supports(caps: BoardCapabilities, pin: number, mode: number): boolean {
  return caps.pins[pin]?.supportedModes.includes(mode) ?? false;
}

function list(pins: readonly number[]): string {
  return pins.length > 0 ? pins.join(', ') : 'none';
}

/**
 * Maps config to pins and lists every problem (one line each, naming the config field).
 * tachPins: fan id -> digital pin; a fan absent there has no tach.
 */
export function planPins(
  config: Pick<CoolerConfig, 'fans' | 'thermistors'>,
  tachPins: Readonly<Record<string, number>>,
  caps: BoardCapabilities,
): { plan: PinPlan; issues: string[] } {
  const issues: string[] = [];
  const pwmPins = caps.pins.map((_, pin) => pin).filter((pin) => supports(caps, pin, MODE.PWM) && !SERIAL_PINS.has(pin));
  const used = new Map<number, string>();
  const claim = (pin: number, what: string, field: string): void => {
    const other = used.get(pin);
    if (other !== undefined) issues.push(`${field}: pin ${pin} is already used by ${other}`);
    else used.set(pin, what);
  };

  const fanIds = new Set(config.fans.map((f) => f.id));
  for (const id of Object.keys(tachPins)) {
    if (!fanIds.has(id)) issues.push(`tachPins.${id}: no fan with id "${id}" in cooler.fans`);
  }

  const fans: FanPins[] = config.fans.map((fan, i) => {
    const field = `cooler.fans[${i}].channel`;
    if (caps.pins[fan.channel] === undefined) {
      issues.push(`${field}: pin ${fan.channel} does not exist on this board (it reports ${caps.pins.length} pins; PWM pins: ${list(pwmPins)})`);
    } else if (!pwmPins.includes(fan.channel)) {
      issues.push(`${field}: pin ${fan.channel} is not PWM-capable on this board (PWM pins: ${list(pwmPins)})`);
    }
    claim(fan.channel, `fan "${fan.id}" (PWM)`, field);
    const tach = tachPins[fan.id];
    if (tach !== undefined) {
      const tfield = `cooler.fans[${i}].tachPin`;
      if (!Number.isInteger(tach) || caps.pins[tach] === undefined) {
        issues.push(`${tfield}: pin ${tach} does not exist on this board (it reports ${caps.pins.length} pins)`);
      } else if (SERIAL_PINS.has(tach)) {
        issues.push(`${tfield}: pin ${tach} is the serial link Firmata runs over`);
      } else if (!supports(caps, tach, MODE.INPUT)) {
        issues.push(`${tfield}: pin ${tach} cannot be a digital input on this board (A6/A7 of a Nano are analog-only)`);
      }
      claim(tach, `fan "${fan.id}" (tach)`, tfield);
    }
    return { id: fan.id, pin: fan.channel, tachPin: tach ?? null };
  });

  const thermistors: ThermistorPins[] = config.thermistors.map((t, i) => {
    const field = `cooler.thermistors[${i}].channel`;
    const pin = caps.analogPins[t.channel];
    if (pin === undefined || !supports(caps, pin, MODE.ANALOG)) {
      issues.push(`${field}: analog input A${t.channel} does not exist on this board (it has ${caps.analogPins.map((_, c) => `A${c}`).join(', ') || 'none'})`);
      return { id: t.id, channel: t.channel, pin: -1 };
    }
    claim(pin, `thermistor "${t.id}" (A${t.channel})`, field);
    return { id: t.id, channel: t.channel, pin };
  });

  return { plan: { fans, thermistors }, issues };
}
