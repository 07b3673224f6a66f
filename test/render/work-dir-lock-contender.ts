/**
 * Another process taking a work folder's lock (work-dir-lock-race.test.ts). Arg: DIR. Says "in"
 * once it holds the lock, then holds it until its stdin ends and releases it; or says
 * "refused MESSAGE".
 */
import { createInterface } from 'node:readline';
import { lockWorkDir } from '../../src/render/segments.ts';

const say = (line: string) => process.stdout.write(`${line}\n`);
try {
  const release = await lockWorkDir(process.argv[2]!);
  say('in');
  for await (const _ of createInterface({ input: process.stdin }));
  await release();
} catch (err) {
  say(`refused ${(err as Error).message}`);
}
