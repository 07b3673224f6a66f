/**
 * What the zone controllers have learned about the rig (the duty per watt it really needs; see
 * feedForward.learnSeconds), kept in the state directory so a restart does not start over:
 * `thermal-learned.json`, `{ version: 1, zones: { [id]: { dutyPerWattFactor, learnedSeconds, rigs? } } }`
 * (rigs: per zone GPU, the identified heatsink as the identifier keeps it, src/thermal/control/identify.ts).
 *
 * Loaded at start: an entry the controller refuses (out of bounds, not finite) or a file that is
 * not what it should be is ignored with a warning (the zone starts from its config). Saved by the
 * service at most once a minute while something changed, and at stop; writes are atomic (temp
 * file, fsync, rename) and serialised; a failed write is logged, never thrown at the loop.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { ZoneLearned } from '../control/index.ts';
import { writeFileAtomic } from './atomic-file.ts';

export const LEARNED_FILE = 'thermal-learned.json';
const MAX_BYTES = 1 << 20;

export class LearnedStore {
  readonly path: string;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly dir: string,
    private readonly log: Logger,
  ) {
    this.path = join(dir, LEARNED_FILE);
  }

  /** zone id -> what it learned; {} when there is no file or it cannot be used (warned) */
  async load(): Promise<Record<string, ZoneLearned>> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.log.warn({ err, path: this.path }, `cannot read ${this.path}: zones start from their configured feed-forward`);
      return {};
    }
    try {
      if (text.length > MAX_BYTES) throw new Error(`larger than ${MAX_BYTES} bytes`);
      const file = JSON.parse(text) as { version?: unknown; zones?: unknown };
      if (file.version !== 1 || typeof file.zones !== 'object' || file.zones === null || Array.isArray(file.zones)) throw new Error('expected { version: 1, zones: { ... } }');
      const out: Record<string, ZoneLearned> = {};
      for (const [id, v] of Object.entries(file.zones as Record<string, unknown>)) {
        const e = v as Partial<ZoneLearned> | null;
        if (e && typeof e.dutyPerWattFactor === 'number' && typeof e.learnedSeconds === 'number') {
          // the rigs' contents are checked by the controller (restoreLearned refuses what it cannot use)
          out[id] = { dutyPerWattFactor: e.dutyPerWattFactor, learnedSeconds: e.learnedSeconds, ...(e.rigs === undefined ? {} : { rigs: e.rigs }) };
        } else this.log.warn({ zone: id, path: this.path }, `${this.path}: entry of zone "${id}" is not { dutyPerWattFactor, learnedSeconds }: ignored`);
      }
      return out;
    } catch (err) {
      this.log.warn({ path: this.path, err: (err as Error).message }, `${this.path} is not usable (${(err as Error).message}): zones start from their configured feed-forward`);
      return {};
    }
  }

  save(zones: Record<string, ZoneLearned>): Promise<void> {
    const body = `${JSON.stringify({ version: 1, zones }, null, 2)}\n`;
    const next = this.writing.then(() => writeFileAtomic(this.path, body));
    this.writing = next.catch(() => {});
    return next;
  }
}
