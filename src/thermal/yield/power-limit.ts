/**
 * GPU power limits, for yielding: read the default/min/max limit, set one, put the default back.
 * The real side runs `nvidia-smi -i N -pl W` (one short call per change, never in a loop: it
 * needs root, and spawning nvidia-smi often hangs some older GPUs); the simulated side caps the
 * plant's GPU power. Both behind one interface, so the yield logic runs the same on either.
 */
import { execFile } from 'node:child_process';

/** What setting a power limit needs, said in every error and alarm about it. */
export const POWER_LIMIT_PRIVILEGE =
  'root: nvidia-smi -pl "requires root" (NVML refuses other users, nvidia-smi exits 4); run the daemon as root or set thermal.yield.powerLimit.command to a sudo rule for nvidia-smi';

export interface PowerLimits {
  defaultW: number;
  minW: number;
  maxW: number;
  currentW: number;
}

export interface PowerLimiter {
  readonly kind: 'nvidia-smi' | 'simulated';
  read(gpu: number): Promise<PowerLimits>;
  set(gpu: number, watts: number): Promise<void>;
}

export class PowerLimitError extends Error {
  constructor(
    message: string,
    /** refused for lack of privilege (no point asking again until a restart) */
    readonly denied: boolean,
  ) {
    super(message);
    this.name = 'PowerLimitError';
  }
}

/** nvidia-smi's exit status for "the current user does not have permission" */
const NO_PERMISSION = 4;

function run(command: readonly string[], args: string[], timeoutMs: number, env?: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command[0]!, [...command.slice(1), ...args], { timeout: timeoutMs, env: env ?? process.env, maxBuffer: 1 << 16 }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      const code = (err as { code?: unknown }).code;
      const said = `${stdout}${stderr}`.trim().split('\n').filter(Boolean).join(' ');
      const what = `${command.join(' ')} ${args.join(' ')}`;
      if (code === NO_PERMISSION) return reject(new PowerLimitError(`${what}: not permitted (${said || 'exit 4'}); setting a power limit needs ${POWER_LIMIT_PRIVILEGE}`, true));
      if (code === 'ENOENT') return reject(new PowerLimitError(`${what}: ${command[0]} not found`, true));
      reject(new PowerLimitError(`${what}: ${said || err.message}`, false));
    });
  });
}

export function nvidiaSmiPowerLimiter(command: readonly string[], o: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): PowerLimiter {
  if (command.length === 0) throw new Error('nvidiaSmiPowerLimiter: command is empty');
  const timeoutMs = o.timeoutMs ?? 10_000;
  return {
    kind: 'nvidia-smi',
    async read(gpu) {
      const out = await run(command, ['-i', String(gpu), '--query-gpu=power.default_limit,power.min_limit,power.max_limit,power.limit', '--format=csv,noheader,nounits'], timeoutMs, o.env);
      const v = out.trim().split('\n')[0]!.split(',').map((x) => Number(x.trim()));
      if (v.length !== 4 || !v.every((x) => Number.isFinite(x) && x > 0 && x < 10_000)) {
        throw new PowerLimitError(`nvidia-smi gave no usable power limits for GPU ${gpu} ("${out.trim()}"): it cannot be limited`, true);
      }
      return { defaultW: v[0]!, minW: v[1]!, maxW: v[2]!, currentW: v[3]! };
    },
    async set(gpu, watts) {
      if (!(watts > 0 && watts < 10_000)) throw new RangeError(`power limit must be in (0, 10000) W, got ${watts}`);
      await run(command, ['-i', String(gpu), '-pl', watts.toFixed(2)], timeoutMs, o.env);
    },
  };
}

/** What the simulated rig offers: a power cap per GPU. */
export interface PowerCappable {
  setPowerCap(gpu: number, watts: number | null): void;
  powerCap(gpu: number): number | null;
  readonly limits: { defaultW: number; minW: number; maxW: number };
}

export function simulatedPowerLimiter(rig: PowerCappable): PowerLimiter {
  return {
    kind: 'simulated',
    async read(gpu) {
      return { ...rig.limits, currentW: rig.powerCap(gpu) ?? rig.limits.defaultW };
    },
    async set(gpu, watts) {
      if (!(watts >= rig.limits.minW && watts <= rig.limits.maxW)) throw new PowerLimitError(`power limit ${watts} W is outside ${rig.limits.minW}..${rig.limits.maxW} W`, false);
      rig.setPowerCap(gpu, watts >= rig.limits.defaultW ? null : watts);
    },
  };
}
