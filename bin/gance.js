#!/usr/bin/env node
// TypeScript runs directly through tsx: no build step between a git pull and a restart on the rig.
// `gance --version` alone answers before tsx loads (tsx's start-up is most of a bare version call).
const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  const { readFileSync } = await import('node:fs');
  process.stdout.write(`${JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version}\n`);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  const { main } = await import('../src/cli.ts');
  await main();
}
