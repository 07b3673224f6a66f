#!/usr/bin/env node
// A stand-in for `nvidia-smi --query-gpu=... --format=csv[,noheader][,nounits] [-lms N | -l S]`
// that prints simulated GPUs in nvidia-smi's own CSV format, so the real parser and process
// handling run against it. Plain JavaScript on purpose: it is spawned (and respawned) as a child
// process, and plain node starts in ~40 ms where a TypeScript loader takes ~10x that.
//
// GPU values come from FAKE_NVIDIA_SMI_GPUS (a JSON array) and from JSON lines on stdin, which the
// simulated plant writes: {"gpus":[{index, uuid, name, temperature, power, utilization, reasons}]}.
// null prints [N/A], "unsupported" prints [Not Supported]. Test commands on stdin:
// {"cmd":"hang"} stop printing (stay alive), {"cmd":"resume"}, {"cmd":"exit","code":N},
// {"cmd":"line","text":"..."} print a raw line, {"cmd":"interval","ms":N}.
// FAKE_NVIDIA_SMI_FED=1: print nothing until the first {"gpus":...} arrives (the plant feeds it).
// `-i N -pl W` sets a power limit the way nvidia-smi does: only as root (FAKE_NVIDIA_SMI_ROOT=1
// stands for it; otherwise exit 4, nvidia-smi's "no permission"), within the GPU's min..max
// limit; the limits persist in FAKE_NVIDIA_SMI_STATE (a JSON file) between calls, as the
// driver keeps them, and power.limit / power.default_limit / power.min_limit / power.max_limit read them.
// FAKE_NVIDIA_SMI_DRIVER sets the driver version; below 535 the clocks_event_reasons.* names are
// rejected the way older drivers reject them (they only know clocks_throttle_reasons.*).
import { readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

const driver = process.env.FAKE_NVIDIA_SMI_DRIVER || '550.54.15';
const driverMajor = Number(driver.split('.')[0]);

const defaultGpu = (index) => ({
  index,
  uuid: `GPU-00000000-0000-4000-8000-${String(index).padStart(12, '0')}`,
  name: 'Tesla K80',
  busId: `00000000:${(0x1e + index).toString(16).toUpperCase().padStart(2, '0')}:00.0`,
  temperature: 35,
  power: 30,
  utilization: 0,
  reasons: 1,
  powerLimit: 149,
  defaultLimit: 149,
  minLimit: 100,
  maxLimit: 175,
  memoryTotal: 11441,
  memoryUsed: 0,
});

let gpus = process.env.FAKE_NVIDIA_SMI_GPUS ? JSON.parse(process.env.FAKE_NVIDIA_SMI_GPUS).map((g, i) => ({ ...defaultGpu(g.index ?? i), ...g })) : [defaultGpu(0)];

const statePath = process.env.FAKE_NVIDIA_SMI_STATE;
function loadLimits() {
  if (!statePath) return {};
  try {
    return JSON.parse(readFileSync(statePath, 'utf8')).limits ?? {};
  } catch {
    return {};
  }
}
const limitOf = (g) => loadLimits()[String(g.index)] ?? g.powerLimit;

function na(v, fmt) {
  if (v === null || v === undefined) return '[N/A]';
  if (v === 'unsupported') return '[Not Supported]';
  return fmt(v);
}
const int = (v) => String(Math.round(v));
const two = (v) => Number(v).toFixed(2);
const hex = (v) => `0x${Math.round(v).toString(16).padStart(16, '0')}`;

/** field -> [header unit, value formatter(gpu), unit suffix] */
const FIELDS = {
  index: ['', (g) => String(g.index), ''],
  uuid: ['', (g) => g.uuid, ''],
  name: ['', (g) => g.name, ''],
  driver_version: ['', () => driver, ''],
  'pci.bus_id': ['', (g) => g.busId, ''],
  'pci.sub_device_id': ['', () => '0x106C10DE', ''],
  'temperature.gpu': ['', (g) => na(g.temperature, int), ''],
  'temperature.memory': ['', () => '[N/A]', ''],
  'power.draw': [' [W]', (g) => na(g.power, two), ' W'],
  'power.limit': [' [W]', (g) => na(limitOf(g), two), ' W'],
  'power.default_limit': [' [W]', (g) => na(g.defaultLimit, two), ' W'],
  'power.min_limit': [' [W]', (g) => na(g.minLimit, two), ' W'],
  'power.max_limit': [' [W]', (g) => na(g.maxLimit, two), ' W'],
  'utilization.gpu': [' [%]', (g) => na(g.utilization, int), ' %'],
  'utilization.memory': [' [%]', (g) => na(g.utilization, int), ' %'],
  'memory.total': [' [MiB]', (g) => na(g.memoryTotal, int), ' MiB'],
  'memory.used': [' [MiB]', (g) => na(g.memoryUsed, int), ' MiB'],
  'memory.free': [' [MiB]', (g) => na(g.memoryTotal - g.memoryUsed, int), ' MiB'],
  'fan.speed': [' [%]', () => '[N/A]', ' %'],
  'clocks.gr': [' [MHz]', (g) => (g.utilization > 0 ? '823' : '562'), ' MHz'],
  'clocks.mem': [' [MHz]', () => '2505', ' MHz'],
  'clocks_throttle_reasons.active': ['', (g) => na(g.reasons, hex), ''],
};
if (driverMajor >= 535) FIELDS['clocks_event_reasons.active'] = FIELDS['clocks_throttle_reasons.active'];

function fail(message, code) {
  process.stdout.write(`${message}\n`);
  process.exit(code);
}

// Argument parsing after nvidia-smi's own spellings.
let query = null;
let format = null;
let loopMs = null;
let ids = null;
let setLimit = null;
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const value = () => {
    const eq = a.indexOf('=');
    if (eq >= 0) return a.slice(eq + 1);
    i += 1;
    return argv[i];
  };
  if (a.startsWith('--query-gpu')) query = value();
  else if (a.startsWith('--format')) format = value();
  else if (a === '-lms' || a.startsWith('--loop-ms')) loopMs = Number(value());
  else if (a === '-l' || a.startsWith('--loop')) loopMs = Number(value()) * 1000;
  else if (a === '-i' || a.startsWith('--id')) ids = value().split(',').map(Number);
  else if (a === '-pl' || a.startsWith('--power-limit')) setLimit = value();
  else if (a === '-L' || a === '--list-gpus') {
    for (const g of gpus) process.stdout.write(`GPU ${g.index}: ${g.name} (UUID: ${g.uuid})\n`);
    process.exit(0);
  } else fail(`Invalid combination of input arguments. Please run 'nvidia-smi -h' for help.\n`, 2);
}
if (setLimit !== null) powerLimit();
if (!query) fail(`fake nvidia-smi: only --query-gpu and -pl are simulated\n`, 2);
if (!format || !format.split(',').includes('csv')) fail(`"--query-gpu" requires "--format=csv"\n`, 2);
const fields = query.split(',').map((f) => f.trim());
for (const f of fields) if (!FIELDS[f]) fail(`Field "${f}" is not a valid field to query.\n`, 2);
const opts = new Set(format.split(',').map((s) => s.trim()));
const units = !opts.has('nounits');

// Like nvidia-smi, a looping query prints its header once, before the first round.
let headerDone = false;
function print() {
  const shown = gpus.filter((g) => !ids || ids.includes(g.index)).sort((a, b) => a.index - b.index);
  if (shown.length === 0) {
    process.stdout.write('No devices were found\n');
    process.exit(6);
  }
  let out = '';
  if (!opts.has('noheader') && !headerDone) out += fields.map((f) => f + (units ? FIELDS[f][0] : '')).join(', ') + '\n';
  headerDone = true;
  for (const g of shown) {
    out += fields
      .map((f) => {
        const v = FIELDS[f][1](g);
        return units && FIELDS[f][2] && !v.startsWith('[') ? v + FIELDS[f][2] : v;
      })
      .join(', ');
    out += '\n';
  }
  process.stdout.write(out);
}

function powerLimit() {
  const w = Number(setLimit);
  if (!Number.isFinite(w)) fail(`Invalid power limit "${setLimit}"`, 2);
  const targets = gpus.filter((g) => !ids || ids.includes(g.index));
  if (targets.length === 0) fail('No devices were found', 6);
  if (process.env.FAKE_NVIDIA_SMI_ROOT !== '1') {
    for (const g of targets) process.stdout.write(`Changing power management limit is not permitted for GPU ${g.busId}: Insufficient Permissions\n`);
    fail('Terminating early due to previous errors.', 4);
  }
  const limits = loadLimits();
  for (const g of targets) {
    if (w < g.minLimit || w > g.maxLimit) {
      fail(`Provided power limit ${w.toFixed(2)} W is not a valid power limit which should be between ${g.minLimit.toFixed(2)} W and ${g.maxLimit.toFixed(2)} W for GPU ${g.busId}\nTerminating early due to previous errors.`, 2);
    }
    const before = limits[String(g.index)] ?? g.powerLimit;
    limits[String(g.index)] = w;
    process.stdout.write(`Power limit for GPU ${g.busId} was set to ${w.toFixed(2)} W from ${Number(before).toFixed(2)} W.\n`);
  }
  if (statePath) writeFileSync(statePath, JSON.stringify({ limits }));
  process.stdout.write('All done.\n');
  process.exit(0);
}

// The parent reading us went away: a real nvidia-smi dies of SIGPIPE on its next write.
process.stdout.on('error', () => process.exit(0));

if (loopMs === null) {
  // FAKE_NVIDIA_SMI_DELAY_MS: a slow driver (older GPUs take seconds per call)
  setTimeout(() => {
    print();
    process.exit(0);
  }, Number(process.env.FAKE_NVIDIA_SMI_DELAY_MS ?? 0));
} else {
  stream();
}

function stream() {

let hung = false;
let timer = null;
const schedule = (ms) => {
  clearInterval(timer);
  timer = setInterval(() => {
    if (!hung) print();
  }, Math.max(1, ms));
};
const waitForFeed = process.env.FAKE_NVIDIA_SMI_FED === '1';
const startLoop = () => {
  // -lms prints at once, then every interval
  print();
  schedule(loopMs);
};
if (!waitForFeed) startLoop();

let fed = false;
const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  if (!line.trim()) return;
  let msg;
  try {
    msg = JSON.parse(line);
  } catch {
    return;
  }
  if (Array.isArray(msg.gpus)) {
    gpus = msg.gpus.map((g, i) => ({ ...defaultGpu(g.index ?? i), ...g }));
    if (waitForFeed && !fed) startLoop();
  }
  fed = true;
  switch (msg.cmd) {
    case 'hang':
      hung = true;
      break;
    case 'resume':
      hung = false;
      break;
    case 'exit':
      process.exit(msg.code ?? 1);
      break;
    case 'line':
      process.stdout.write(`${msg.text}\n`);
      break;
    case 'interval':
      schedule(msg.ms);
      break;
  }
});
// Fed by a parent that has gone away: nothing will ever read us again.
rl.on('close', () => {
  if (fed) process.exit(0);
});
}
