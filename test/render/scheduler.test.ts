/** The scheduler with a fake runner on a real store: order, progress, cancel, failure, stop and resume, hints, metrics. */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createEventBus } from '../../src/events.ts';
import { createRenderMetrics } from '../../src/render/metrics.ts';
import { JobQueue } from '../../src/render/queue.ts';
import { RenderScheduler } from '../../src/render/scheduler.ts';
import { GpuThrottle, type RenderDevice } from '../../src/render/throttle.ts';
import type { RenderDeps, RunRender } from '../../src/render/types.ts';
import { fakeRunner, Gate } from './fake-runner.ts';
import { spec, tempDir, until } from './job-helpers.ts';

const log = pino({ level: 'silent' });
const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

function setup(run: RunRender, over: { stateDir?: string; concurrency?: number; gpus?: number[] } = {}) {
  const stateDir = over.stateDir ?? tempDir();
  const queue = new JobQueue({ stateDir });
  const registry = new Registry();
  const events = createEventBus();
  const throttle = new GpuThrottle();
  let scheduler: RenderScheduler | undefined = undefined;
  const metrics = createRenderMetrics(registry, { counts: () => queue.counts(), fps: () => scheduler!.runningFps() });
  scheduler = new RenderScheduler({
    queue,
    loadRunner: async () => run,
    deps: { log } as unknown as RenderDeps,
    concurrency: over.concurrency ?? 1,
    progressIntervalMs: 0,
    log,
    events,
    throttle,
    metrics,
    loadHint: { gpus: over.gpus ?? [0, 1], watts: 150, seconds: 30 },
  });
  cleanup.push(async () => {
    await scheduler.stop();
    queue.close();
  });
  return { stateDir, queue, registry, events, throttle, scheduler, out: tempDir('gance-out-') };
}

describe('render scheduler', () => {
  it('runs one job at a time, highest priority first, and records progress and the output', async () => {
    const gate = new Gate();
    const run = fakeRunner({ frames: 8, batch: 4, beforeBatch: gate.wait });
    const { scheduler: s, queue, out, registry } = setup(run);
    s.start();
    const first = s.submit({ spec: spec({ path: join(out, 'first.mp4') }) });
    await gate.arrived;
    const low = s.submit({ spec: spec({ priority: -1, path: join(out, 'low.mp4') }) });
    const high = s.submit({ spec: spec({ priority: 9, path: join(out, 'high.mp4') }) });
    expect(queue.counts()).toMatchObject({ running: 1, queued: 2 });
    const seen: string[] = [];
    s.on('job', (j) => seen.push(`${j.id}:${j.state}:${j.stage}:${j.framesDone}`));
    gate.release();
    const done = await until(s, low.id, (j) => j.state === 'done');
    expect(run.runs.map((r) => r.workDir)).toEqual([first, high, low].map((j) => j.workDir));
    expect(done).toMatchObject({ state: 'done', framesDone: 8, framesTotal: 8, output: join(out, 'low.mp4') });
    expect(readFileSync(join(out, 'high.mp4'), 'utf8').split('\n').filter(Boolean)).toHaveLength(8);
    // progress was stored and sent as it came: the running job's stages in order
    expect(seen.filter((e) => e.startsWith(high.id))).toEqual([
      `${high.id}:running:queued:0`,
      `${high.id}:running:analysing:0`,
      `${high.id}:running:rendering:4`,
      `${high.id}:running:rendering:8`,
      `${high.id}:running:encoding:8`,
      `${high.id}:done:done:8`,
    ]);
    // the work folder goes once the output is in place
    expect(existsSync(high.workDir)).toBe(false);
    const m = await registry.metrics();
    expect(m).toMatch(/^gance_render_frames_total 24$/m);
    expect(m).toMatch(/^gance_render_jobs\{state="done"\} 3$/m);
    expect(m).toMatch(/^gance_render_queue_depth 0$/m);
  });

  it('cancels a running job: its runner is aborted, the job is cancelled, the next one runs', async () => {
    const gate = new Gate();
    const run = fakeRunner({ frames: 8, batch: 4, beforeBatch: gate.wait });
    const { scheduler: s, out, registry } = setup(run);
    s.start();
    const a = s.submit({ spec: spec({ path: join(out, 'a.mp4') }) });
    const b = s.submit({ spec: spec({ path: join(out, 'b.mp4') }) });
    await gate.arrived;
    expect(s.cancel(a.id)).toMatchObject({ state: 'cancelled', reason: 'cancelled' });
    gate.release();
    await until(s, b.id, (j) => j.state === 'done');
    expect(run.runs[0]!.outcome).toBe('cancelled');
    expect(s.view(a.id)).toMatchObject({ state: 'cancelled', output: null });
    expect(existsSync(join(out, 'a.mp4'))).toBe(false);
    expect(existsSync(a.workDir)).toBe(false);
    expect(await registry.metrics()).toMatch(/^gance_render_failures_total\{reason="cancelled"\} 1$/m);
  });

  it('cancelling an interrupted job before it resumes removes the temporary output its killed run left beside the output', async () => {
    const stateDir = tempDir();
    const out = tempDir('gance-out-');
    // two renders the last daemon was running when it was killed (in the mux: its temporary output is there)
    const before = new JobQueue({ stateDir });
    const a = before.create({ spec: spec({ path: join(out, 'a.mp4') }) });
    const b = before.create({ spec: spec({ path: join(out, 'b.mp4') }) });
    before.claimNext();
    before.claimNext();
    before.close();
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
    const stale = join(out, `.b.mp4.tmp-${dead}-0a1b2c3d`);
    writeFileSync(stale, 'half a video');
    const gate = new Gate();
    const { scheduler: s } = setup(fakeRunner({ frames: 8, batch: 4, beforeBatch: gate.wait }), { stateDir });
    s.start();
    await gate.arrived;
    expect(s.view(a.id)?.attempts).toBe(2);
    // b waits for a (concurrency 1): cancelled before its runner starts, so the scheduler cleans up alone
    expect(s.cancel(b.id)).toMatchObject({ state: 'cancelled' });
    gate.release();
    await until(s, a.id, (j) => j.state === 'done');
    while (existsSync(stale)) await new Promise((r) => setImmediate(r));
    expect(readdirSync(out).sort()).toEqual(['a.mp4']);
  });

  it('records a runner failure with its reason; the next job is not affected', async () => {
    const run = fakeRunner({ frames: 8, batch: 4 });
    const { scheduler: s, out, registry } = setup(run);
    s.start();
    const bad = s.submit({ spec: spec({ audio: ['/m/fail-encoder.wav'], path: join(out, 'bad.mp4') }) });
    const good = s.submit({ spec: spec({ path: join(out, 'good.mp4') }) });
    await until(s, good.id, (j) => j.state === 'done');
    expect(s.view(bad.id)).toMatchObject({ state: 'failed', reason: 'encoder', error: 'fake encoder failure at frame 4', output: null });
    expect(existsSync(join(out, 'bad.mp4'))).toBe(false);
    expect(existsSync(bad.workDir)).toBe(false);
    const m = await registry.metrics();
    expect(m).toMatch(/^gance_render_failures_total\{reason="encoder"\} 1$/m);
    expect(m).toMatch(/^gance_render_failures_total\{reason="synthesis"\} 0$/m);
  });

  it('never marks done a render whose output is not on disk', async () => {
    const { scheduler: s, out } = setup(fakeRunner({ lieAboutOutput: true }));
    s.start();
    const job = s.submit({ spec: spec({ path: join(out, 'missing.mp4') }) });
    const failed = await until(s, job.id, (j) => j.state === 'failed');
    expect(failed).toMatchObject({ reason: 'internal', output: null });
    expect(failed.error).toMatch(/is not a complete file/);
  });

  it('never marks done a render whose debug video is not on disk', async () => {
    // this runner writes its output but not the debug video the spec names
    const writer = fakeRunner();
    const run: RunRender = (sp, deps, o) => writer({ ...sp, output: { ...sp.output, debugPath: null } }, deps, o);
    const { scheduler: s, out } = setup(run);
    s.start();
    const job = s.submit({ spec: { ...spec({ path: join(out, 'main.mp4') }), output: { ...spec({ path: join(out, 'main.mp4') }).output, debugPath: join(out, 'main.debug.mp4') } } });
    const failed = await until(s, job.id, (j) => j.state === 'failed');
    expect(failed).toMatchObject({ reason: 'internal', output: null });
    expect(failed.error).toMatch(/the debug video .*main\.debug\.mp4 is not there/);
  });

  it('a stop pauses the running job (still running); the next start resumes it in the same workDir to the same frames', async () => {
    const stateDir = tempDir();
    const gate = new Gate();
    const first = fakeRunner({ frames: 12, batch: 4, beforeBatch: async ({ framesDone }) => (framesDone >= 8 ? gate.wait() : undefined) });
    const one = setup(first, { stateDir });
    one.scheduler.start();
    const job = one.scheduler.submit({ spec: spec({ path: join(one.out, 'r.mp4') }) });
    await gate.arrived;
    await one.scheduler.stop();
    one.queue.close();
    expect(first.runs[0]!.outcome).toBe('cancelled');

    const second = fakeRunner({ frames: 12, batch: 4 });
    const two = setup(second, { stateDir });
    const stored = two.queue.get(job.id)!;
    expect(stored).toMatchObject({ state: 'running', framesDone: 8, workDir: job.workDir });
    two.scheduler.start();
    const done = await until(two.scheduler, job.id, (j) => j.state === 'done');
    expect(second.runs).toEqual([{ workDir: job.workDir, startFrame: 8, outcome: 'done' }]);
    expect(done.attempts).toBe(2);
    expect(readFileSync(join(one.out, 'r.mp4'), 'utf8')).toBe(Array.from({ length: 12 }, (_, k) => `frame ${k}\n`).join(''));
  });

  it('announces the load on the workers\' GPUs when a render starts and its end when it ends', async () => {
    const { scheduler: s, events, out } = setup(fakeRunner(), { gpus: [2, 3] });
    const seen: string[] = [];
    events.on('load-hint', (h) => seen.push(`hint ${h.source} ${h.gpus.join(',')} ${h.watts} W ${h.seconds} s`));
    events.on('load-end', (e) => seen.push(`end ${e.source} ${e.gpus.join(',')}`));
    s.start();
    const job = s.submit({ spec: spec({ path: join(out, 'x.mp4') }) });
    await until(s, job.id, (j) => j.state === 'done');
    expect(seen).toEqual([`hint render:${job.id} 2,3 150 W 30 s`, `end render:${job.id} 2,3`]);
  });

  it("hands the track's loudness to the thermal side ('music' on the workers' GPUs), then where the render is in it, and ends it with the load", async () => {
    const levels = [95, 95, 40, 40];
    const { scheduler: s, events, out } = setup(fakeRunner({ frames: 12, batch: 4, loudness: { levelsDba: levels, fps: 3 } }), { gpus: [2, 3] });
    const seen: string[] = [];
    events.on('music', (m) => seen.push(`music ${m.source} ${m.gpus.join(',')} ${m.levelsDba.join(',')} at ${m.positionSeconds}`));
    events.on('music-position', (p) => seen.push(`at ${p.positionSeconds}`));
    events.on('load-end', (e) => seen.push(`end ${e.source}`));
    s.start();
    const job = s.submit({ spec: spec({ path: join(out, 'm.mp4') }) });
    await until(s, job.id, (j) => j.state === 'done');
    expect(seen[0]).toBe(`music render:${job.id} 2,3 95,95,40,40 at 0`);
    // positions are frames done / fps, in order, up to the whole track
    const positions = seen.filter((x) => x.startsWith('at ')).map((x) => Number(x.slice(3)));
    expect(positions.length).toBeGreaterThan(0);
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
    expect(positions.at(-1)).toBe(4);
    expect(seen.at(-1)).toBe(`end render:${job.id}`);
  });

  it('holds a render while one of its GPUs is paused and lets it go on resume', async () => {
    const { scheduler: s, throttle, out } = setup(fakeRunner({ frames: 8, batch: 4 }), { gpus: [0, 1] });
    throttle.pause(1, 'too hot');
    const held = new Promise<{ gpus: RenderDevice[]; reason: string }>((resolve) => throttle.onHold(resolve));
    s.start();
    const job = s.submit({ spec: spec({ path: join(out, 'p.mp4') }) });
    expect(await held).toEqual({ gpus: [0, 1], reason: 'gpu 1: too hot' });
    expect(throttle.waiting()).toBe(1);
    expect(s.view(job.id)!.framesDone).toBe(0);
    throttle.resume(1);
    await until(s, job.id, (j) => j.state === 'done');
    expect(throttle.waiting()).toBe(0);
  });
});

describe('render scheduler: a runner that cannot be loaded', () => {
  it('fails the render as internal and tries to load it again for the next one', async () => {
    const stateDir = tempDir();
    const queue = new JobQueue({ stateDir });
    const run = fakeRunner({ frames: 4, batch: 4 });
    let loads = 0;
    const s = new RenderScheduler({
      queue,
      loadRunner: async () => {
        if (++loads === 1) throw new Error('cannot load the pipeline');
        return run;
      },
      deps: { log } as unknown as RenderDeps,
      concurrency: 1,
      progressIntervalMs: 0,
      log,
      events: createEventBus(),
      throttle: new GpuThrottle(),
    });
    cleanup.push(async () => {
      await s.stop();
      queue.close();
    });
    s.start();
    const out = tempDir('gance-out-');
    const a = s.submit({ spec: spec({ path: join(out, 'a.mp4') }) });
    expect(await until(s, a.id, (j) => j.state === 'failed')).toMatchObject({ reason: 'internal', error: 'cannot load the pipeline' });
    const b = s.submit({ spec: spec({ path: join(out, 'b.mp4') }) });
    expect((await until(s, b.id, (j) => j.state === 'done')).framesDone).toBe(4);
    expect(loads).toBe(2);
  });
});

describe('render scheduler: concurrency and progress bookkeeping', () => {
  it('runs render.concurrency renders at once', async () => {
    const gate = new Gate();
    const run = fakeRunner({ frames: 4, batch: 4, beforeBatch: gate.wait });
    const { scheduler: s, queue, out } = setup(run, { concurrency: 2 });
    s.start();
    const jobs = [1, 2, 3].map((k) => s.submit({ spec: spec({ path: join(out, `${k}.mp4`) }) }));
    await gate.arrived;
    expect(queue.counts()).toMatchObject({ running: 2, queued: 1 });
    gate.release();
    await until(s, jobs[2]!.id, (j) => j.state === 'done');
    expect(run.runs).toHaveLength(3);
  });

  it('stores progress at most every progressIntervalMs (stage changes at once) and counts time in encoding', async () => {
    let t = 0;
    const stateDir = tempDir();
    const queue = new JobQueue({ stateDir });
    const registry = new Registry();
    let s: RenderScheduler | undefined = undefined;
    const metrics = createRenderMetrics(registry, { counts: () => queue.counts(), fps: () => s!.runningFps() });
    // a runner on the test's clock: 10 frames 100 ms apart, then 2.5 s of encoding
    const run: RunRender = async (sp, _d, o) => {
      o.onProgress?.({ stage: 'rendering', framesDone: 0, framesTotal: 10, fps: null, etaSeconds: null });
      for (let f = 1; f <= 10; f++) {
        t += 100;
        o.onProgress?.({ stage: 'rendering', framesDone: f, framesTotal: 10, fps: 10, etaSeconds: (10 - f) / 10 });
      }
      o.onProgress?.({ stage: 'encoding', framesDone: 10, framesTotal: 10, fps: null, etaSeconds: 0 });
      t += 2500;
      writeFileSync(sp.output.path, 'mp4');
      return { output: sp.output.path, runConfig: '', frames: 10, fps: 10, seconds: 3.5, resumedFrames: 0 };
    };
    s = new RenderScheduler({ queue, loadRunner: async () => run, deps: { log } as unknown as RenderDeps, concurrency: 1, progressIntervalMs: 450, log, events: createEventBus(), throttle: new GpuThrottle(), metrics, now: () => t });
    cleanup.push(async () => {
      await s.stop();
      queue.close();
    });
    const stored: number[] = [];
    s.on('job', (j) => j.state === 'running' && stored.push(j.framesDone));
    s.start();
    const job = s.submit({ spec: spec({ path: join(tempDir('gance-out-'), 'x.mp4') }) });
    await until(s, job.id, (j) => j.state === 'done');
    // launch, the stage change to rendering, then every 450 ms of frames (5 and 10 are 500 ms apart), the change to encoding
    expect(stored).toEqual([0, 0, 5, 10, 10]);
    const m = await registry.metrics();
    expect(m).toMatch(/^gance_render_encode_seconds_total 2.5$/m);
    expect(m).toMatch(/^gance_render_frames_total 10$/m);
  });
});
