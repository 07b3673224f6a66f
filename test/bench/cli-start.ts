/**
 * How long `gance --version` and `gance --help` take from a cold node process (issue 10: 2.2 to
 * 2.8 s, every subcommand imported eagerly through tsx). Runs `node bin/gance.js ARGS` N times per
 * command and reports wall time (min / median / max) and the child's CPU time (user + system,
 * median), which a machine shared with other work disturbs less than wall time. tsx's transform
 * cache is warm after the first run (the first run is not counted). Target: 0.3 s idle.
 * The last line is one JSON object.
 *
 * Run: node --import tsx test/bench/cli-start.ts   (CLI_BENCH_RUNS, default 7)
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const RUNS = Number(process.env.CLI_BENCH_RUNS ?? 7);
const bin = fileURLToPath(new URL('../../bin/gance.js', import.meta.url));
const commands: Record<string, string[]> = { version: ['--version'], help: ['--help'], thermalHelp: ['thermal', 'simulate', '--help'] };

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const results: Record<string, { wallS: { min: number; median: number; max: number }; cpuS: number }> = {};
for (const [name, args] of Object.entries(commands)) {
  const walls: number[] = [];
  const cpus: number[] = [];
  for (let i = 0; i <= RUNS; i++) {
    // /usr/bin/time's %e %U %S: wall, user and system seconds of the child alone
    const r = spawnSync('/usr/bin/time', ['-f', '%e %U %S', process.execPath, bin, ...args], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`gance ${args.join(' ')} failed: ${r.stderr}`);
    const [e, u, s] = r.stderr.trim().split('\n').at(-1)!.split(' ').map(Number) as [number, number, number];
    if (i === 0) continue;
    walls.push(e);
    cpus.push(u + s);
  }
  results[name] = { wallS: { min: Math.min(...walls), median: median(walls), max: Math.max(...walls) }, cpuS: +median(cpus).toFixed(2) };
  console.log(`gance ${args.join(' ')}: wall min ${Math.min(...walls)} s, median ${median(walls)} s, max ${Math.max(...walls)} s; cpu median ${median(cpus).toFixed(2)} s (${RUNS} runs)`);
}
console.log(JSON.stringify({ bench: 'cli-start', runs: RUNS, ...results, targetS: 0.3 }));
