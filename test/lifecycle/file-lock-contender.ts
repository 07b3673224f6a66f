/**
 * One of many processes taking one lock file in turn through withFileLock (file-lock.test.ts).
 * Args: LOCK LOG ROUNDS. Says "ready" once loaded; on "go AT" starts at the wall-clock moment AT
 * (all contenders at once), takes the lock ROUNDS times (giving up on one holder after 2 s) writing "enter PID" and "exit PID" to LOG
 * around its turn, and every other turn leaves a stale lock behind (as a crash would) for the
 * others to race over. Says "done" when through, or "failed MESSAGE".
 */
import { appendFileSync, renameSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { setImmediate as tick } from 'node:timers/promises';
import { withFileLock } from '../../src/lifecycle/file-lock.ts';

const [path, log, rounds] = process.argv.slice(2) as [string, string, string];
const say = (line: string) => process.stdout.write(`${line}\n`);
say('ready');
for await (const line of createInterface({ input: process.stdin })) {
  const [cmd, at] = line.split(' ');
  if (cmd !== 'go') continue;
  while (Date.now() < Number(at));
  try {
    for (let round = 0; round < Number(rounds); round++) await turn(round);
    say('done');
  } catch (err) {
    say(`failed ${(err as Error).message}`);
  }
  process.exit(0);
}

async function turn(round: number) {
  // a lock lost or left by a live process held the others until the default 30 s
  await withFileLock(
    path,
    async () => {
      appendFileSync(log, `enter ${process.pid}\n`);
      await tick();
      appendFileSync(log, `exit ${process.pid}\n`);
      if (round % 2 === 0) {
        // this very pid with another start time: a lock a reused pid left, swapped in whole
        const stale = `${path}.${randomUUID()}.left`;
        writeFileSync(stale, JSON.stringify({ pid: process.pid, start: 'reused', id: randomUUID() }));
        renameSync(stale, path);
      }
    },
    { waitMs: 2000 },
  );
}
