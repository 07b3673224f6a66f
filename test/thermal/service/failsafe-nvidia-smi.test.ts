/**
 * nvidia-smi process failures, end to end through the fake nvidia-smi: fans at 100% at the plant,
 * an alarm in the API and metrics, restarts counted, automatic and logged recovery.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { expectFailsafe, expectFailsafeBeforeNextTick, expectRecovered, harness, untilAsync, type Harness } from './harness.ts';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('thermal failsafe: the nvidia-smi process', () => {
  it('nvidia-smi dies -> fans full, restarted with backoff, restarts counted, recovers', async () => {
    h = await harness({ sensors: { restartMinMs: 300 } });
    await h.underControl();
    expect(await h.metric('gance_nvidia_smi_restarts_total')).toBe(0);
    h.source.command({ cmd: 'exit', code: 1 });
    await expectFailsafe(h, 'nvidia-smi-down', 'simulated');
    expect(await h.metric('gance_nvidia_smi_up')).toBe(0);
    expect((await h.state()).sensors).toMatchObject({ running: false, restarts: 1, lastError: expect.stringContaining('exited with code 1') });
    expect(h.logged(/nvidia-smi stopped \(exited with code 1\); restarting in 300 ms/)).toBeDefined();
    await expectRecovered(h, 'nvidia-smi-down', 'simulated');
    expect(await h.metric('gance_nvidia_smi_restarts_total')).toBe(1);
    expect(await h.metric('gance_nvidia_smi_up')).toBe(1);
  });

  it('nvidia-smi hangs without output -> stale, killed, restarted, recovers', async () => {
    h = await harness({ sensors: { staleAfterMs: 600, silentAfterMs: 1500 } });
    await h.underControl();
    const pid = h.source.pid;
    h.source.command({ cmd: 'hang' });
    await expectFailsafe(h, 'sensor-stale', 'gpu0');
    await untilAsync('restart', async () => h!.source.stats().restarts === 1 && h!.source.pid !== pid);
    expect(h.logged(/nvidia-smi stopped \(no output for \d+ ms\)/)).toBeDefined();
    await expectRecovered(h, 'sensor-stale', 'gpu0');
    expect(await h.metric('gance_nvidia_smi_restarts_total')).toBe(1);
  });

  it('garbage lines are counted as failed samples without a failsafe', async () => {
    h = await harness();
    await h.underControl();
    h.source.command({ cmd: 'line', text: 'Unable to determine the device handle for GPU 0000:1E:00.0: Unknown Error' });
    await untilAsync('failed sample', async () => (await h!.metric('gance_nvidia_smi_failed_samples_total')) === 1);
    expect((await h.zone()).failsafe).toBe(false);
  });

  it('nvidia-smi dying puts the zones at full when it goes, not at the next tick of a long period', async () => {
    // A period far longer than the exit takes to show (and a stale limit longer still, so that the
    // stale watch does not do the work): judged at ticks only, it waited for the tick.
    h = await harness({ cooler: { watchdogSeconds: 10 }, thermal: { periodMs: 4000 }, sensors: { staleAfterMs: 9000, silentAfterMs: 60_000, restartMinMs: 60_000, restartMaxMs: 60_000 } });
    await h.underControl('gpu0', 30_000);
    await expectFailsafeBeforeNextTick(h, () => h!.source.command({ cmd: 'exit', code: 1 }), 'nvidia-smi-down', 'simulated');
  }, 60_000);
});
