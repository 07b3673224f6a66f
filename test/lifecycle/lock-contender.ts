/**
 * One of many processes contending for a state directory's daemon.lock (state-dir.test.ts).
 * Says "ready" once loaded. Lines on stdin: "go AT" takes it at the wall-clock moment AT (all contenders at once) and
 * answers "won" or "lost MESSAGE"; "release" lets it go and answers "released".
 */
import { createInterface } from 'node:readline';
import { lockStateDir, type StateDirLock } from '../../src/lifecycle/state-dir.ts';

const dir = process.argv[2]!;
let lock: StateDirLock | undefined;
const say = (line: string) => process.stdout.write(`${line}\n`);
say('ready');
for await (const line of createInterface({ input: process.stdin })) {
  const [cmd, at] = line.split(' ');
  if (cmd === 'go') {
    // spin rather than sleep: a timer fires late by a scheduler's whim, and the point is the same instant
    while (Date.now() < Number(at));
    try {
      lock = await lockStateDir(dir);
      say('won');
    } catch (err) {
      say(`lost ${(err as Error).message}`);
    }
  } else if (cmd === 'release') {
    lock?.release();
    lock = undefined;
    say('released');
  }
}
