/**
 * The wiring docs must name the pins the firmware drives: hardware/pinout.md against
 * firmware/src/pins.h, and the Firmata example config against the same table.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const read = (rel: string) => readFileSync(fileURLToPath(new URL(`../../${rel}`, import.meta.url)), 'utf8');
const pinsH = read('firmware/src/pins.h');
const pinout = read('hardware/pinout.md');

function define(name: string): string {
  const m = new RegExp(`^#define ${name}\\s+(\\S+)`, 'm').exec(pinsH);
  if (!m) throw new Error(`pins.h has no #define ${name}`);
  return m[1]!;
}

/** MCU pin (PB1, PC2, PD3) -> Arduino name on a Nano/Uno. */
function arduino(mcu: string): string {
  const port = mcu[1];
  const bit = Number(mcu.slice(2));
  if (port === 'D') return `D${bit}`;
  if (port === 'B') return `D${8 + bit}`;
  if (port === 'C') return `A${bit}`;
  throw new Error(`unexpected pin ${mcu}`);
}

/** The pin map table's rows: function -> [Arduino pin, MCU pin]. */
function table(): Map<string, [string, string]> {
  const rows = new Map<string, [string, string]>();
  for (const line of pinout.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    if (cells.length > 4 && /^(Fan \d|Thermistor|Status LED)/.test(cells[1]!)) rows.set(cells[1]!, [cells[2]!, cells[3]!]);
  }
  return rows;
}

describe('hardware/pinout.md agrees with firmware/src/pins.h', () => {
  const rows = table();
  const fanCount = Number(define('FAN_COUNT'));

  it('fan PWM pins', () => {
    expect(fanCount).toBe(4);
    for (let i = 0; i < fanCount; i++) {
      const port = define(`FAN${i}_PWM_PORT`).replace('PORT', 'P');
      const mcu = `${port}${define(`FAN${i}_PWM_BIT`).slice(2)}`;
      expect(define(`FAN${i}_PWM_BIT`).slice(0, 2)).toBe(port);
      expect(rows.get(`Fan ${i} PWM`), `Fan ${i} PWM`).toEqual([arduino(mcu), mcu]);
    }
  });

  it('tach inputs (port C, bit = fan index + first bit)', () => {
    const first = Number(define('TACH_FIRST_BIT').slice(2));
    expect(define('TACH_PIN')).toBe('PINC');
    for (let i = 0; i < fanCount; i++) expect(rows.get(`Fan ${i} tach`)).toEqual([`A${first + i}`, `PC${first + i}`]);
  });

  it('thermistors and the LED', () => {
    for (const t of [0, 1]) {
      const adc = Number(define(`THERM${t}_ADC`));
      expect(rows.get(`Thermistor ${t}`)).toEqual([`A${adc}`, `PC${adc} (ADC${adc})`]);
    }
    const led = define('LED_BIT');
    expect(define('LED_PORT')).toBe(`PORT${led[1]}`);
    expect(rows.get('Status LED')).toEqual([arduino(led), led]);
  });

  it('the divider and NTC constants the docs use', () => {
    expect(Number(define('THERM_R_SERIES'))).toBe(10000);
    expect(Number(define('THERM_BETA'))).toBe(3950);
    expect(pinout).toContain('1/T   = 1/298.15 K + ln(R_ntc / 10K) / 3950');
  });

  it('the Firmata example config drives the pins the table gives for fans 0-5', () => {
    const config = parse(read('config/rig.firmata.example.yaml')) as { cooler: { fans: Array<{ channel: number }> } };
    const documented = [0, 1, 2, 3, 4, 5].map((i) => Number(rows.get(`Fan ${i} PWM`)![0].slice(1)));
    expect(config.cooler.fans.map((f) => f.channel)).toEqual(documented);
  });
});
