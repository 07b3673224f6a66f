import { Type, type Static } from '@sinclair/typebox';
import { YieldConfig } from './yield/config.ts';
import { modesSchema } from './modes/config.ts';
import { zonePatchSchema } from './zone-patch.ts';
import { MusicConfig } from './music/config.ts';

const Celsius = (opts: object = {}) => Type.Number({ minimum: -40, maximum: 150, ...opts });
const Ratio = (opts: object = {}) => Type.Number({ minimum: 0, maximum: 1, ...opts });

/**
 * Bounds on every list and string: a 60,000-point curve was accepted and saved, and every scrape
 * and control step then walked it. These are far above any real rig and far below harm.
 */
/** lowest zone slewUpPerSecond: stopped fans reach full duty within 50 s (see ZoneConfig) */
export const SLEW_UP_MIN = 0.02;

/**
 * Longest a zone may go without a fresh sample before its fans go to full. A 150 W GPU on the K80
 * heatsink (400 J/K) with its fans stopped warms 0.375 C/s: 10 s blind is under 4 C, well inside
 * the 12 C between the default setpoint and criticalCelsius; at the old 60 s it was 22 C.
 */
export const STALE_AFTER_MAX_MS = 10_000;

export const LIMITS = { id: 64, zones: 16, gpusPerZone: 16, fansPerZone: 16, gpuIndex: 1023, curvePoints: 32, path: 4096 } as const;
export const Id = (opts: object = {}) => Type.String({ minLength: 1, maxLength: LIMITS.id, pattern: '^[A-Za-z0-9_.-]+$', ...opts });
const GpuIndex = (opts: object = {}) => Type.Integer({ minimum: 0, maximum: LIMITS.gpuIndex, ...opts });

/**
 * PID gains are in physical units (duty per C, per C*s, per C/s) so they do not change meaning
 * when the loop period changes. Error is (temperature - setpoint): hotter means more duty.
 */
export const PidConfig = Type.Object(
  {
    setpoint: Celsius({ default: 78, description: 'target temperature, C' }),
    kp: Type.Number({ minimum: 0, maximum: 10, default: 0.018, description: 'duty per C of error' }),
    ki: Type.Number({ minimum: 0, maximum: 10, default: 0.0001, description: 'duty per C*s of integrated error (with feed-forward working: it carries the load, the integral only trims)' }),
    kiWithoutFeedForward: Type.Number({
      minimum: 0,
      maximum: 10,
      default: 0.004,
      description: 'the integral gain used instead while feed-forward has nothing to go on (disabled, or no power reading from the zone GPUs and no load hint): the integral must then carry the whole load',
    }),
    kd: Type.Number({ minimum: 0, maximum: 100, default: 0, description: 'duty per C/s of temperature rise (derivative on measurement, never on setpoint); off by default: with whole-degree sensors and render bursts it only adds ripple, feed-forward leads load steps instead' }),
    derivativeFilterSeconds: Type.Number({ minimum: 0, maximum: 120, default: 10, description: 'time constant of the derivative low-pass (sensors report whole degrees)' }),
    integralLimit: Ratio({ default: 1, description: 'the integral term is clamped to +-this duty' }),
    measurementFilterSeconds: Type.Number({ minimum: 0, maximum: 300, default: 15, description: 'low-pass of the temperature the P and I terms see while it rises (whole-degree sensors)' }),
    measurementFallSeconds: Type.Number({ minimum: 0, maximum: 1800, default: 600, description: 'low-pass while the temperature falls: a dip after a load drop does not pull the duty below what the lower load needs (feed-forward carries the load change)' }),
    sensorResolutionCelsius: Type.Number({ exclusiveMinimum: 0, maximum: 5, default: 1, description: 'reading step of the temperature sensor (nvidia-smi: whole degrees)' }),
    peakHoldSeconds: Type.Number({ minimum: 0, maximum: 600, default: 45, description: 'P and I see the higher of the temperature and its highest reading of this many seconds (less half a sensor step), so a bursty load is held by its peaks, not its mean (0: off)' }),
    closingSeconds: Type.Number({ minimum: 0, maximum: 600, default: 120, description: 'no integration while the temperature trend closes the error within this many seconds (no overshoot after load steps); 0: off' }),
    integralBandCelsius: Type.Number({
      minimum: 0,
      maximum: 20,
      default: 1,
      description: 'the integral rises only on what the die itself (the reading low-passed by measurementFilterSeconds) shows over the setpoint, times (1 + this / sensorResolutionCelsius): nothing while it reads at or under the setpoint, so the slow fall filter cannot wind it up after an overshoot or after one whole-degree step over the setpoint; 0: off',
    }),
  },
  { additionalProperties: false, default: {} },
);
export type PidConfig = Static<typeof PidConfig>;

export const CurvePoint = Type.Tuple([Celsius(), Ratio()], { description: '[temperature C, duty 0..1]' });

export const FeedForwardConfig = Type.Object(
  {
    enabled: Type.Boolean({ default: true, description: 'add a duty term from GPU power draw and load hints (pid mode)' }),
    dutyPerWatt: Type.Number({ minimum: 0, maximum: 0.1, default: 0.0048, description: 'duty per W above idleWatts at referenceWatts (power of the busiest zone GPU), at referenceSetpointCelsius' }),
    referenceWatts: Type.Number({ exclusiveMinimum: 0, maximum: 2000, default: 150, description: 'GPU power at which dutyPerWatt is exact (a K80 GPU: 150 W)' }),
    curvature: Type.Number({ minimum: 0, maximum: 3, default: 0.3, description: 'below referenceWatts the term falls off as ((W - idle) / (reference - idle))^curvature more than linearly: the airflow a heat load needs grows faster than the heat' }),
    referenceSetpointCelsius: Celsius({
      default: 78,
      description: 'setpoint at which dutyPerWatt holds (with intake air at referenceAmbientCelsius); elsewhere the term scales with ((referenceSetpoint - referenceAmbient) / (setpoint - ambient))^2 (airflow needed grows about with the square of the conductance), within 0.25..4',
    }),
    referenceAmbientCelsius: Celsius({ default: 30, description: 'intake air temperature at which dutyPerWatt holds' }),
    ambientCelsius: Celsius({ default: 30, description: 'intake air temperature for that scaling when no ambientThermistor reading is usable' }),
    ambientThermistor: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: LIMITS.id,
        pattern: '^[A-Za-z0-9_.-]+$',
        description: "the cooler thermistor (cooler.thermistors[].id) that reads this zone's intake air (role: ambient, e.g. on the shroud's inlet); its reading replaces ambientCelsius while it is plausible (-20..60 C), otherwise ambientCelsius is used and the zone shows an ambient-missing alarm (fans unaffected)",
      }),
    ),
    idleWatts: Type.Number({ minimum: 0, maximum: 2000, default: 40, description: 'GPU power that needs no feed-forward (and at or below which the zone counts as idle: fans may stop)' }),
    riseSeconds: Type.Number({ minimum: 0, maximum: 3600, default: 30, description: 'time constant of each of the two low-pass stages of the power estimate while power rises (render bursts average out; load hints lead the steps)' }),
    fallSeconds: Type.Number({ minimum: 0, maximum: 3600, default: 90, description: 'the same while power falls' }),
    learnSeconds: Type.Number({
      minimum: 0,
      maximum: 86_400,
      default: 600,
      description:
        'learns the duty per watt this rig really needs while it runs: whenever the zone has held its setpoint at a steady load for a minute, the integral is moved into the feed-forward with this time constant (within 0.5..2 x dutyPerWatt; kept in the state directory); 0: off',
    }),
    identifySeconds: Type.Number({
      minimum: 0,
      maximum: 86_400,
      default: 3600,
      description:
        "identifies each zone GPU's heatsink while it runs (heat capacity, conductance with the fans stopped and at full airflow, the intake air's offset; recursive least squares, memory of this many seconds, kept in the state directory, shown in GET /v1/thermal): the feed-forward adds what the identified rig needs over what the configured dutyPerWatt assumes, and a GPU that reports no power gets its heat estimated from how its temperature moves; 0: off",
    }),
    headroomCelsius: Type.Number({ minimum: 0, maximum: 50, default: 0, description: 'if > 0 the term waits until the temperature comes within this many degrees of the setpoint (the heatsink soaks up the start of a load step) and stays on until the load is gone; 0: always on' }),
  },
  { additionalProperties: false, default: {} },
);
export type FeedForwardConfig = Static<typeof FeedForwardConfig>;

export const StallConfig = Type.Object(
  {
    kickSeconds: Type.Number({ minimum: 0, maximum: 10, default: 1, description: 'a stopped fan gets max(startDuty, target) this long before its target' }),
    detectSeconds: Type.Number({ minimum: 0.5, maximum: 60, default: 3, description: 'a fan commanded to turn that reads 0 rpm this long (after its kick) is stalled' }),
    minDutyStep: Ratio({ default: 0.1, description: 'on the second stall the fan minimum duty is raised by this much' }),
  },
  { additionalProperties: false, default: {} },
);
export type StallConfig = Static<typeof StallConfig>;

export const ZoneConfig = Type.Object(
  {
    id: Id(),
    gpus: Type.Array(GpuIndex(), { minItems: 1, maxItems: LIMITS.gpusPerZone, uniqueItems: true, description: 'GPU indices whose temperatures feed this zone' }),
    aggregate: Type.Union([Type.Literal('max'), Type.Literal('mean')], { default: 'max', description: 'how the zone GPUs\' temperatures combine' }),
    fans: Type.Array(Type.String({ minLength: 1, maxLength: LIMITS.id }), { minItems: 1, maxItems: LIMITS.fansPerZone, uniqueItems: true, description: 'fan ids (cooler.fans[].id) this zone drives' }),
    mode: Type.Union([Type.Literal('pid'), Type.Literal('curve'), Type.Literal('fixed')], { default: 'pid' }),
    pid: PidConfig,
    curve: Type.Array(CurvePoint, { minItems: 2, maxItems: LIMITS.curvePoints, default: [[40, 0], [70, 1 / 3], [100, 1]], description: 'curve mode: [temperature C, duty] points, linear in between' }),
    hysteresis: Type.Number({ minimum: 0, maximum: 20, default: 2, description: 'curve mode: degrees the temperature must fall before the duty follows it down; pid mode: fans stopped at idle restart at the setpoint and stop again only this far below it' }),
    fixedDuty: Ratio({ default: 0.5, description: 'fixed mode: the duty' }),
    minDuty: Ratio({ default: 0.2, description: 'lowest zone duty (share of the zone fans\' full airflow) while the fans run; allocation runs fewer fans at low duty' }),
    maxDuty: Ratio({ default: 1, description: 'highest zone duty' }),
    stopBelowDuty: Ratio({ default: 0.1, description: 'fans stop when the demand falls below this (at idle; under a load also only if the identified heatsink holds it 6 C under the setpoint with them stopped) and start again when it reaches minDuty (stop/start hysteresis); 0: never stop' }),
    // The failsafe skips the slew, but a load step under control does not: at 1e-300 the fans could
    // never follow it and only the critical alarm would cool. 0.02 brings stopped fans to full in
    // 50 s, about half the rig's time constant at full airflow (400 J/K / 4.3 W/K = 93 s).
    slewUpPerSecond: Type.Number({ minimum: SLEW_UP_MIN, maximum: 100, default: 0.5, description: `max zone duty rise per second; at least ${SLEW_UP_MIN} (full duty from stopped within ${1 / SLEW_UP_MIN} s)` }),
    // a slow fall keeps the fans up, never down: no bound needed for safety
    slewDownPerSecond: Type.Number({ exclusiveMinimum: 0, maximum: 100, default: 0.003, description: 'max zone duty fall per second (slow: quiet, no hunting)' }),
    reverseDeadband: Ratio({ default: 0.04, description: 'after falling, the duty rises again only once the demand is this far above it: no hunting on sensor jitter and bursts (critical temperature and sensor faults bypass it)' }),
    criticalCelsius: Celsius({
      maximum: 105,
      default: 90,
      description: "at or above this, fans go to full and an alarm is raised; keep it a few degrees under the card's slowdown temperature (no GPU this rig takes runs safely above 105 C)",
    }),
    feedForward: FeedForwardConfig,
    stall: StallConfig,
  },
  { additionalProperties: false },
);
export type ZoneConfig = Static<typeof ZoneConfig>;

export const SensorsConfig = Type.Object(
  {
    source: Type.Union([Type.Literal('nvidia-smi'), Type.Literal('simulated')], { default: 'simulated' }),
    nvidiaSmiPath: Type.String({ minLength: 1, maxLength: LIMITS.path, default: 'nvidia-smi' }),
    // at most half the stale limit: a sample may be missed once before the zone counts as stale
    intervalMs: Type.Integer({ minimum: 100, maximum: STALE_AFTER_MAX_MS / 2, default: 500 }),
    staleAfterMs: Type.Integer({
      minimum: 200,
      maximum: STALE_AFTER_MAX_MS,
      default: 3000,
      description: `a sample older than this is a fault (fans to full); at most ${STALE_AFTER_MAX_MS} ms: a GPU under load with its fans stopped warms a few C in that time. Judged the moment a sample passes it, not at the next control tick: a zone goes to full fans within staleAfterMs of its GPU's last sample (plus the timer's lateness and the cooler command's time), whatever thermal.periodMs`,
    }),
    silentAfterMs: Type.Optional(Type.Integer({ minimum: 200, maximum: 120_000, description: 'nvidia-smi printing nothing this long is killed and restarted; default staleAfterMs' })),
    restartMinMs: Type.Integer({ minimum: 10, maximum: 60_000, default: 250, description: 'first wait before restarting a dead nvidia-smi; doubles per failure' }),
    restartMaxMs: Type.Integer({ minimum: 100, maximum: 600_000, default: 30_000, description: 'longest wait between nvidia-smi restarts' }),
    fallback: Type.Union([Type.Literal('systeminformation'), Type.Literal('none')], {
      default: 'systeminformation',
      description: 'readings shown while nvidia-smi is down (fans stay at full until it is back)',
    }),
    simulation: Type.Object(
      {
        profile: Type.Union([Type.Literal('standard'), Type.Literal('idle'), Type.Literal('full'), Type.Literal('synthesis')], {
          default: 'standard',
          description: 'simulated GPU load, looped: the benchmark profile (idle, sustained, bursts, idle), idle or full; synthesis: each GPU draws as the synthesis worker with its `gpu` index works (30 W idle to 150 W at its highest frame rate; each frame is a fixed amount of work, drawn as the frames are made)',
        }),
        ambientC: Celsius({ default: 30, description: 'simulated air temperature' }),
        gpu: Type.Object(
          {
            heatCapacityJPerK: Type.Optional(Type.Number({ minimum: 1, maximum: 100_000, description: 'heat capacity of die + heatsink (K80-like: 400); smaller heats and cools faster' })),
            conductanceFullWPerK: Type.Optional(Type.Number({ minimum: 0.1, maximum: 100, description: 'conductance to the air with the fans at full (K80-like: 4.3); lower: airflow too weak for the load' })),
            conductanceStillWPerK: Type.Optional(Type.Number({ minimum: 0.01, maximum: 100, description: 'conductance with the fans stopped (K80-like: 0.8)' })),
          },
          { additionalProperties: false, default: {}, description: 'the simulated GPUs\' heatsink, where it differs from the K80-like one' },
        ),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false },
);

export const ThermalConfig = Type.Object(
  {
    periodMs: Type.Integer({ minimum: 50, maximum: 10_000, default: 200, description: 'control loop period' }),
    sensors: Type.Object(SensorsConfig.properties, { additionalProperties: false, default: {} }),
    zones: Type.Array(ZoneConfig, { minItems: 1, maxItems: LIMITS.zones }),
    coolerTimeoutMs: Type.Integer({ minimum: 50, maximum: 10_000, default: 1000, description: 'a cooler command unanswered this long counts as a lost link' }),
    measuredFans: Type.Object(
      {
        use: Type.Boolean({ default: true, description: 'use the figures `gance fans measure` stored in stateDir (minimum and start duty with margins, max rpm) instead of cooler.fans minDuty/startDuty/maxRpm' }),
        pin: Type.Array(Type.String({ minLength: 1, maxLength: LIMITS.id }), { default: [], maxItems: 64, uniqueItems: true, description: 'fan ids whose configured minDuty/startDuty/maxRpm stay, whatever was measured' }),
      },
      { additionalProperties: false, default: {} },
    ),
    yield: YieldConfig,
    modes: modesSchema(zonePatchSchema(ZoneConfig), LIMITS.id),
    music: MusicConfig,
    history: Type.Object(
      {
        seconds: Type.Integer({ minimum: 10, maximum: 86_400, default: 900, description: 'how far back GET /v1/thermal/history reaches' }),
        intervalMs: Type.Integer({ minimum: 50, maximum: 60_000, default: 1000, description: 'one history sample per this interval' }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false },
);
export type ThermalConfig = Static<typeof ThermalConfig>;
