/**
 * The sensor reader's child (nvidia-smi, or the fake behind the simulated GPUs) ends when the
 * daemon decides. Ctrl-C at a terminal signals the whole foreground process group: a child in the
 * daemon's group died of it at once and the reader, not yet told to stop, logged "nvidia-smi
 * stopped (killed by SIGINT); restarting in 250 ms" during the stop. A child outside the group
 * must still not outlive a daemon killed outright: it goes when its pipes to the daemon close.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { REPO, spawnCli, spawnScript, testConfigYaml, writeTempConfig, type DaemonProcess } from '../helpers/daemon-process.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const NO_SYNTHESIS = 'synthesis: { enabled: false }\n';
const FIXTURE = join(REPO, 'test/fixtures/daemon/run-with-unit.ts');
/** nvidia-smi's path through the reader: a process that does not read its stdin and prints on its -lms loop */
const FAKE_NVIDIA_SMI_BIN = join(REPO, 'test/fixtures/fake-nvidia-smi/nvidia-smi');
const PROCESS_TEST = { timeout: 120_000 };

/** a zombie counts as gone: the dead daemon's children are reaped by whoever inherits them, whenever it gets to it */
const alive = (pid: number) => {
  try {
    // /proc/PID/stat: "pid (comm) S ...", the state after the last ')'
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
};
const killQuietly = (pid: number, signal: NodeJS.Signals) => {
  try {
    process.kill(pid, signal);
  } catch {
    /* gone already */
  }
};

/** still our fake, not a process that has since been given its pid */
const isFake = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('fake-nvidia-smi');
  } catch {
    return false;
  }
};

const daemons: DaemonProcess[] = [];
const sensorPids: number[] = [];
afterEach(() => {
  // the daemons lead their own groups: take the group, and any sensor child left outside it
  for (const d of daemons.splice(0)) killQuietly(-d.child.pid!, 'SIGKILL');
  for (const pid of sensorPids.splice(0)) if (isFake(pid)) killQuietly(pid, 'SIGKILL');
});

/**
 * A daemon leading its own process group (a shell's foreground job), once its sensor child
 * streams. slowStop: a unit stopped before the thermal one takes 1.5 s (synthesis closing its
 * sessions does), so a sensor child killed with the daemon is seen dying before the reader stops it.
 */
async function startDaemon(yaml: string, slowStop = false): Promise<{ d: DaemonProcess; sensorPid: number }> {
  const config = writeTempConfig(yaml);
  const d = slowStop ? spawnScript(FIXTURE, [config], { GANCE_TEST_UNIT: 'slow-stop' }, { detached: true }) : spawnCli(['daemon', '--config', config], {}, { detached: true });
  daemons.push(d);
  const streaming = await d.waitFor((l) => l.msg === 'nvidia-smi streaming');
  const sensorPid = streaming.childPid as number;
  expect(sensorPid).toEqual(expect.any(Number));
  expect(sensorPid).not.toBe(d.child.pid);
  sensorPids.push(sensorPid);
  await d.address();
  return { d, sensorPid };
}

async function gone(pid: number, withinMs: number): Promise<number> {
  const t0 = Date.now();
  while (alive(pid)) {
    if (Date.now() - t0 > withinMs) throw new Error(`sensor child ${pid} still alive ${withinMs} ms after the daemon was killed`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return Date.now() - t0;
}

describe('the sensor reader\'s child process', PROCESS_TEST, () => {
  it.each(['SIGINT', 'SIGTERM'] as const)('a %s to the daemon\'s whole process group stops the daemon, which stops its sensor child itself: no restart', async (signal) => {
    const { d, sensorPid } = await startDaemon(testConfigYaml(NO_SYNTHESIS), true);
    process.kill(-d.child.pid!, signal);
    const { code, signal: killedBy } = await d.exited;
    expect({ code, signal: killedBy }).toEqual({ code: 0, signal: null });
    const msgs = d.lines.map((l) => l.msg);
    expect(msgs.filter((m) => /nvidia-smi stopped|restarting/.test(m))).toEqual([]);
    expect(msgs).toContain('stopping');
    expect(msgs.at(-1)).toBe('stopped');
    // the reader's stop waits for its child's exit
    expect(alive(sensorPid)).toBe(false);
  });

  it('the simulated GPUs\' fake goes within seconds of the daemon being SIGKILLed (its stdin closes)', async () => {
    const { d, sensorPid } = await startDaemon(testConfigYaml(NO_SYNTHESIS));
    process.kill(-d.child.pid!, 'SIGKILL');
    await d.exited;
    const ms = await gone(sensorPid, 5000);
    console.log(JSON.stringify({ source: 'simulated', sensorChildGoneAfterMs: ms }));
  });

  it('an nvidia-smi that never reads its stdin goes within seconds of the daemon being SIGKILLed (its next print finds the pipe closed)', async () => {
    const yaml = testConfigYaml(NO_SYNTHESIS).replace('sensors: { source: simulated }', `sensors: { source: nvidia-smi, nvidiaSmiPath: ${FAKE_NVIDIA_SMI_BIN}, intervalMs: 500 }`);
    const { d, sensorPid } = await startDaemon(yaml);
    process.kill(-d.child.pid!, 'SIGKILL');
    await d.exited;
    const ms = await gone(sensorPid, 5000);
    console.log(JSON.stringify({ source: 'nvidia-smi (fake binary)', sensorChildGoneAfterMs: ms }));
  });
});
