/**
 * Shapes shared by the control core. The core is plain synchronous functions over numbers: no
 * timers, no I/O. The thermal service feeds it samples and applies what it returns.
 */
import type { ZoneConfig } from '../config.ts';

export type ZoneMode = ZoneConfig['mode'];

/** One control step's input. Times in seconds on any monotonic clock (only differences matter). */
export interface ZoneStepInput {
  now: number;
  /** one per zone GPU, in zone.gpus order; NaN/undefined/null = missing (-> duty 1 + alarm) */
  temps: ReadonlyArray<number | null | undefined>;
  /** power draw per zone GPU, W, same order; missing entries count as 0 for feed-forward */
  powerW?: ReadonlyArray<number | null | undefined>;
  /**
   * expected power per GPU of a load that is starting (the render pipeline's 'load-hint' event),
   * W. Pass it while the hint is live (the service expires it after hint.seconds); the
   * feed-forward uses max(measured power, hint), so a late hint is harmless.
   */
  loadHintW?: number;
  /**
   * intake air temperature, C, if the service has one (the zone's feedForward.ambientThermistor);
   * feed-forward scaling. Used this step only, and only if plausible (rules.ts); else the
   * configured feedForward.ambientCelsius.
   */
  ambientC?: number | null;
  /**
   * duty bounds from the noise budget (src/thermal/music) for this step: the zone duty stays
   * within [floor, cap] (floor wins); cap below minDuty stops the fans, floor above 0 starts them.
   * Failsafes ignore it. While it moves the duty, the PID integral holds still.
   */
  budget?: ZoneBudget | null;
  /** tach per fan id; null = no tach (stall detection off for that fan); absent = unknown */
  fanRpm?: Readonly<Record<string, number | null | undefined>>;
}

export interface ZoneBudget {
  cap: number;
  floor: number;
}

export interface PidTerms {
  p: number;
  i: number;
  d: number;
  ff: number;
}

export interface FanCommand {
  /** duty sent to the fan now (includes kicks) */
  duty: number;
  /** effective minimum duty of the fan (config minDuty, raised after stalls) */
  minDuty: number;
  /** the fan is being kick-started this step */
  kicking: boolean;
  /** stalls seen since the fan last turned */
  stalls: number;
}

export interface ZoneStepOutput {
  /** zone duty after limits and slew: share of the zone fans' full airflow, 0..1 */
  duty: number;
  /** per-fan duty to send to the cooler (0..1) */
  fanDuties: Record<string, number>;
  fans: Record<string, FanCommand>;
  /** PID terms in duty (zeros outside pid mode); p+i+d+ff is the demand before limits */
  terms: PidTerms;
  /** demand before stop/limits/slew */
  demand: number;
  /** aggregated zone temperature used this step (NaN when a sensor is missing) */
  temperature: number;
  /** e.g. 'sensor-missing:gpu1', 'critical:91.0C', 'fan-stalled:gpu0-a'; empty when fine */
  alarms: string[];
  /** true when this step overrode control (missing sensor, critical temperature) */
  failsafe: boolean;
  mode: ZoneMode;
  /** pid setpoint (also reported in curve/fixed modes, for display) */
  setpoint: number;
  /** the zone fans are stopped on purpose (demand below stopBelowDuty) */
  stopped: boolean;
  /** intake air temperature the feed-forward used, C, and where it came from */
  ambientC: number;
  ambientSource: 'thermistor' | 'config';
  /** the noise budget this step, and whether it moved the duty; null without one */
  budget?: (ZoneBudget & { bound: boolean }) | null;
}

/** What the zone has learned about its rig (feedForward.learnSeconds). */
export interface ZoneLearned {
  /** learned dutyPerWatt / configured dutyPerWatt (1: nothing learned yet) */
  dutyPerWattFactor: number;
  /** seconds of settled operation it has learned from */
  learnedSeconds: number;
}

export interface ZoneState {
  learned: ZoneLearned;
  config: ZoneConfig;
  last: ZoneStepOutput | null;
  /** per-fan minimum duty after stall escalation */
  fanMinDuty: Record<string, number>;
}
