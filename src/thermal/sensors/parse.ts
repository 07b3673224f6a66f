/**
 * Parser for `nvidia-smi --query-gpu=... --format=csv,noheader,nounits` lines. Pure functions:
 * the process handling lives in nvidia-smi.ts.
 */
import type { GpuSample } from './types.ts';

export const EVENT_REASONS_FIELD = 'clocks_event_reasons.active';
/** name used by drivers before 535 */
export const THROTTLE_REASONS_FIELD = 'clocks_throttle_reasons.active';

export const BASE_FIELDS = ['index', 'uuid', 'temperature.gpu', 'power.draw', 'utilization.gpu'] as const;

/** Query fields for a reasons field name (null: the driver accepts neither name). */
export function queryFields(reasonsField: string | null): string[] {
  return reasonsField ? [...BASE_FIELDS, reasonsField] : [...BASE_FIELDS];
}

/** NVML clock event reason bits (nvml.h nvmlClocksEventReason*), named like nvidia-smi's sub-fields. */
export const THROTTLE_BITS: ReadonlyArray<readonly [number, string]> = [
  [0x1, 'gpu_idle'],
  [0x2, 'applications_clocks_setting'],
  [0x4, 'sw_power_cap'],
  [0x8, 'hw_slowdown'],
  [0x10, 'sync_boost'],
  [0x20, 'sw_thermal_slowdown'],
  [0x40, 'hw_thermal_slowdown'],
  [0x80, 'hw_power_brake_slowdown'],
  [0x100, 'display_clock_setting'],
];

export function throttleNames(mask: number | null): string[] {
  if (mask === null) return [];
  return THROTTLE_BITS.filter(([bit]) => (mask & bit) !== 0).map(([, name]) => name);
}

export type ParseResult = { ok: true; sample: Omit<GpuSample, 'receivedAt' | 'source'> } | { ok: false; reason: string };

/**
 * A value nvidia-smi prints in brackets instead of a number: [N/A], [Not Supported],
 * [Unknown Error], [GPU is lost], [Insufficient Permissions]... all mean "no reading".
 */
function isUnavailable(v: string): boolean {
  return v.startsWith('[') && v.endsWith(']');
}

/**
 * What each numeric column may read. A value outside (or a digit string so long it overflows to
 * Infinity) is a garbled line, not a measurement: the sample is refused, so the GPU's last good
 * sample ages into the stale-sample failsafe instead of a bogus number reaching a controller.
 */
export const RANGES: Readonly<Record<string, readonly [number, number]>> = {
  'temperature.gpu': [-50, 200],
  'power.draw': [0, 5000],
  'utilization.gpu': [0, 100],
};

/** A reading from another source (systeminformation) held to the same ranges: outside, or not a finite number, is no reading. */
export function saneReading(field: keyof typeof RANGES & string, v: unknown): number | null {
  const [lo, hi] = RANGES[field] ?? [-Infinity, Infinity];
  return typeof v === 'number' && Number.isFinite(v) && v >= lo && v <= hi ? v : null;
}

/** GPU UUIDs are 40 characters; anything much longer is not one */
export const MAX_UUID_LENGTH = 100;
/** nvidia-smi enumerates far fewer GPUs than this */
export const MAX_GPU_INDEX = 1023;

function num(v: string, field: string): number | null | Error {
  if (isUnavailable(v) || v === 'N/A') return null;
  // nounits should have removed units; tolerate them anyway ("71.23 W", "45 %")
  const m = /^(-?\d+(?:\.\d+)?)(?:\s*(?:W|%|C))?$/.exec(v);
  if (!m) return new Error(`${field}: expected a number, got "${v}"`);
  const x = Number(m[1]);
  const [lo, hi] = RANGES[field] ?? [-Infinity, Infinity];
  if (!Number.isFinite(x) || x < lo || x > hi) return new Error(`${field}: expected a finite number in ${lo}..${hi}, got "${v.length > 40 ? `${v.slice(0, 37)}...` : v}"`);
  return x;
}

function hexMask(v: string, field: string): number | null | Error {
  if (isUnavailable(v) || v === 'N/A') return null;
  if (!/^0x[0-9a-fA-F]{1,16}$/.test(v)) return new Error(`${field}: expected a hex bitmask like 0x0000000000000001, got "${v}"`);
  // Known bits are all low; keep the value exact within 53 bits and drop the rest.
  return Number(BigInt(v) & BigInt(Number.MAX_SAFE_INTEGER));
}

/** Parses one CSV line whose columns follow `fields` (as returned by queryFields). */
export function parseLine(line: string, fields: readonly string[]): ParseResult {
  const cols = line.split(',').map((c) => c.trim());
  if (cols.length !== fields.length) {
    return { ok: false, reason: `expected ${fields.length} columns (${fields.join(', ')}), got ${cols.length}` };
  }
  const get = (f: string) => cols[fields.indexOf(f)]!;
  const index = Number(get('index'));
  if (!Number.isInteger(index) || index < 0 || index > MAX_GPU_INDEX || get('index') === '') return { ok: false, reason: `index: expected a GPU index 0..${MAX_GPU_INDEX}, got "${get('index').slice(0, 40)}"` };
  const uuid = get('uuid');
  if (!uuid || isUnavailable(uuid) || uuid.length > MAX_UUID_LENGTH) return { ok: false, reason: `uuid: expected a GPU UUID of at most ${MAX_UUID_LENGTH} characters, got "${uuid.slice(0, 40)}"` };

  const temperatureC = num(get('temperature.gpu'), 'temperature.gpu');
  const powerW = num(get('power.draw'), 'power.draw');
  const util = num(get('utilization.gpu'), 'utilization.gpu');
  const reasonsField = fields.find((f) => f === EVENT_REASONS_FIELD || f === THROTTLE_REASONS_FIELD);
  const throttleMask = reasonsField ? hexMask(get(reasonsField), reasonsField) : null;
  for (const v of [temperatureC, powerW, util, throttleMask]) if (v instanceof Error) return { ok: false, reason: v.message };

  return {
    ok: true,
    sample: {
      index,
      uuid,
      temperatureC: temperatureC as number | null,
      powerW: powerW as number | null,
      utilization: util === null ? null : (util as number) / 100,
      throttleMask: throttleMask as number | null,
      throttleReasons: throttleNames(throttleMask as number | null),
    },
  };
}

/** True when nvidia-smi's output says it does not know a query field (older/newer driver). */
export function rejectedField(output: string): string | null {
  const m = /Field "([^"]+)" is not a valid field to query/i.exec(output);
  return m ? m[1]! : null;
}
