/**
 * Run by file-lock.test.ts inside a private mount namespace, DIR a tmpfs with room for one more
 * inode only: the claim is written, and linking it into place (a hard link takes an inode's room
 * on tmpfs) fails with ENOSPC. Prints one JSON line: the error's message and code, and what is left in DIR.
 *   node --import tsx file-lock-full.ts DIR
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { withFileLock } from '../../src/lifecycle/file-lock.ts';

const [dir] = process.argv.slice(2) as [string];
let result: Record<string, unknown>;
try {
  await withFileLock(join(dir, 'x.lock'), async () => 'in');
  result = { done: true };
} catch (err) {
  result = { message: (err as Error).message, code: (err as NodeJS.ErrnoException).code };
}
process.stdout.write(`${JSON.stringify({ ...result, files: readdirSync(dir) })}\n`);
