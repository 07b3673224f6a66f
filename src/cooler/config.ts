import { Type, type Static } from '@sinclair/typebox';

export const FanConfig = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.-]+$', description: 'fan id used in zones, API and metric labels' }),
    channel: Type.Integer({ minimum: 0, maximum: 15, description: 'output channel on the cooler (serial) or PWM pin (firmata)' }),
    // The allocation splits a zone's duty by these (airflow ~ duty * maxRpm, noise ~ 10^(maxDba/10)):
    // unbounded, maxRpm 1e308 overflowed its sums and a zone duty of 0.5 went out as 0.2, 0.2 and 0.
    maxRpm: Type.Number({ exclusiveMinimum: 0, maximum: 100_000, default: 9000, description: 'speed at 100% duty (40 mm fans: up to about 30,000)' }),
    minDuty: Type.Number({ minimum: 0, maximum: 1, default: 0.2, description: 'lowest duty at which the fan keeps turning' }),
    startDuty: Type.Number({ minimum: 0, maximum: 1, default: 0.5, description: 'duty needed to start a stopped fan (kick-start)' }),
    maxDba: Type.Number({ minimum: 0, maximum: 150, default: 40, description: 'noise at full speed, dBA (allocation cost)' }),
  },
  { additionalProperties: false },
);
export type FanConfig = Static<typeof FanConfig>;

export const ThermistorConfig = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.-]+$' }),
    channel: Type.Integer({ minimum: 0, maximum: 7 }),
  },
  { additionalProperties: false },
);

/**
 * Line rate of each driver when cooler.baudRate is not given: the rate its firmware speaks. A
 * schema default cannot depend on cooler.driver, so the schema leaves baudRate out and
 * coolerBaudRate() fills it; both drivers and the CLI read it from here.
 */
export const DEFAULT_BAUD_RATE = {
  simulated: 115_200,
  /** firmware/PROTOCOL.md */
  serial: 115_200,
  /** StandardFirmata (the Firmata library's default since 2.x) */
  firmata: 57_600,
} as const;

export const CoolerConfig = Type.Object(
  {
    driver: Type.Union([Type.Literal('simulated'), Type.Literal('serial'), Type.Literal('firmata')], {
      default: 'simulated',
      description: 'simulated (plant model), serial (gance firmware), firmata (stock StandardFirmata)',
    }),
    path: Type.Optional(Type.String({ minLength: 1, description: 'serial device, e.g. /dev/serial/by-id/usb-...' })),
    usbSerialNumber: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 64,
        pattern: '^[A-Za-z0-9._-]+$',
        description: "the USB serial number of the cooler's USB-serial bridge (udevadm info -a -n /dev/ttyUSB0 | grep '{serial}'); gance install pins the udev rule to it, so no other adapter becomes /dev/gance-cooler (CH340 clones have none)",
      }),
    ),
    baudRate: Type.Optional(
      Type.Integer({
        minimum: 1200,
        maximum: 2_000_000,
        description: `serial line rate; default by driver: ${DEFAULT_BAUD_RATE.serial} for serial (the gance firmware), ${DEFAULT_BAUD_RATE.firmata} for firmata (StandardFirmata)`,
      }),
    ),
    // The device's own failsafe is the last one left when the host is gone (daemon hung, USB
    // unplugged); at 60 s a loaded GPU with its fans stopped could warm 22 C before it acted. The
    // bound is thermal.sensors.staleAfterMs's (see there).
    watchdogSeconds: Type.Number({ minimum: 0.5, maximum: 10, default: 3, description: 'device goes to failsafe duty after this much host silence; at most 10 s' }),
    failsafeDuty: Type.Number({ minimum: 0.5, maximum: 1, default: 1, description: 'duty the device applies on its own when the host goes quiet' }),
    fans: Type.Array(FanConfig, { minItems: 1 }),
    thermistors: Type.Array(ThermistorConfig, { default: [] }),
  },
  { additionalProperties: false },
);
export type CoolerConfig = Static<typeof CoolerConfig>;

/** cooler.baudRate, or the rate of the configured driver's firmware when it is not given. */
export function coolerBaudRate(config: { driver?: CoolerConfig['driver']; baudRate?: number }): number {
  return config.baudRate ?? DEFAULT_BAUD_RATE[config.driver ?? 'simulated'];
}
