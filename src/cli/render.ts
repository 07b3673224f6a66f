/**
 * `gance render AUDIO... --out FILE.mp4`: one render in this process (no daemon): the config's
 * synthesis workers and latents settings (default: the embedded config, CPU and the demo network),
 * the render's own settings from flags, a progress bar (plain lines when stdout is not a
 * terminal). Ctrl-C cancels cleanly; with --work-dir an interrupted render resumes when run again.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { constants } from 'node:fs';
import { access, mkdtemp, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { DEFAULT_CONFIG_PATH } from '../config/paths.ts';
import { MAX_ENCODE_PARALLEL } from '../render/limits.ts';
import { daemonAddress } from './daemon-api.ts';
import type { RenderProgress } from '../render/types.ts';
import type { RenderSpec } from '../render/spec.ts';
import type { SynthesisWorkerInfo } from '../render/synthesis-record.ts';

interface RenderFlags {
  network?: string[];
  out: string;
  config: string;
  format?: 'mp4' | 'png';
  fps?: number;
  size?: number;
  crf?: number;
  preset?: string;
  pixelFormat?: 'yuv420p' | 'yuv422p';
  audioCodec?: 'aac' | 'alac';
  mode?: 'noise-blend' | 'projection-file-blend';
  projection?: string;
  alpha?: number;
  seed?: number;
  psi?: number;
  workDir?: string;
  segmentFrames?: number;
  encodeParallel?: number;
  progress?: boolean;
  remote?: string;
  still?: number[];
  debug?: string;
  force?: boolean;
}

function collect(v: string, prev: string[] | undefined): string[] {
  return [...(prev ?? []), v];
}

function number(flag: string, min: number, max: number, integer = false) {
  return (v: string) => {
    const x = Number(v);
    if (v.trim() === '' || !Number.isFinite(x) || x < min || x > max || (integer && !Number.isInteger(x))) {
      throw new InvalidArgumentError(`${flag} must be ${integer ? 'an integer' : 'a number'} in ${min}..${max}, got "${v}"`);
    }
    return x;
  };
}

function choice<T extends string>(flag: string, values: readonly T[]) {
  return (v: string) => {
    if (!values.includes(v as T)) throw new InvalidArgumentError(`${flag} must be one of ${values.join(', ')}, got "${v}"`);
    return v as T;
  };
}

function size(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 16 || n > 8192 || n % 2 !== 0) throw new InvalidArgumentError(`--size must be an even number of pixels in 16..8192, got "${v}"`);
  return n;
}

/** --still SEED, repeatable: a numpy RandomState seed, 0..2^32-1, in decimal. */
function seed(v: string, prev: number[] | undefined): number[] {
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n > 4294967295) throw new InvalidArgumentError(`--still must be a seed, an integer in 0..4294967295, got "${v}"`);
  return [...(prev ?? []), n];
}

const PRESETS = ['ultrafast', 'superfast', 'veryfast', 'faster', 'fast', 'medium', 'slow', 'slower', 'veryslow'] as const;

/** The flags as a RenderSpec (runRender checks it against the schema again). */
export function specFromFlags(audio: string[], networks: string[], f: RenderFlags): RenderSpec {
  const latents: RenderSpec['latents'] = {};
  if (f.mode !== undefined) latents.mode = f.mode;
  if (f.projection !== undefined) latents.projectionFile = resolve(f.projection);
  if (f.fps !== undefined) latents.fps = f.fps;
  if (f.alpha !== undefined) latents.alpha = f.alpha;
  if (f.seed !== undefined) latents.noise = { seed: f.seed };
  const format = f.format ?? 'mp4';
  return {
    audio: audio.map((a) => resolve(a)),
    networks,
    truncationPsi: f.psi ?? null,
    latents,
    output: {
      format,
      path: resolve(f.out),
      size: f.size ?? null,
      pixelFormat: f.pixelFormat ?? 'yuv420p',
      crf: f.crf ?? 18,
      preset: f.preset ?? 'medium',
      audioCodec: f.audioCodec ?? 'aac',
      audioBitrate: 320,
      debugPath: f.debug === undefined ? null : resolve(f.debug),
    },
    priority: 0,
  };
}

const clock = (s: number | null) => {
  if (s === null || !Number.isFinite(s)) return '--:--';
  const t = Math.round(s);
  const h = Math.floor(t / 3600);
  const mm = String(Math.floor((t % 3600) / 60)).padStart(2, '0');
  const ss = String(t % 60).padStart(2, '0');
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
};

/** A bar on a terminal; otherwise a line at each stage change and every few seconds. */
async function progressView(enabled: boolean): Promise<{ update(p: RenderProgress): void; stop(): void }> {
  if (!enabled) return { update() {}, stop() {} };
  if (process.stdout.isTTY) {
    const { SingleBar } = (await import('cli-progress')).default;
    const bar = new SingleBar({ format: '{stage} |{bar}| {value}/{total} frames | {rate} fps | ETA {left}', hideCursor: true, clearOnComplete: false, stream: process.stdout });
    let started = false;
    return {
      update(p) {
        const payload = { stage: p.stage.padEnd(9), rate: p.fps === null ? '-' : p.fps.toFixed(1), left: clock(p.etaSeconds) };
        if (!started && p.framesTotal !== null) {
          bar.start(p.framesTotal, p.framesDone, payload);
          started = true;
        } else if (started) bar.update(p.framesDone, payload);
      },
      stop() {
        if (started) bar.stop();
      },
    };
  }
  let lastStage = '';
  let lastAt = 0;
  return {
    update(p) {
      const now = performance.now();
      if (p.stage === lastStage && now - lastAt < 2000 && p.framesDone !== p.framesTotal) return;
      lastStage = p.stage;
      lastAt = now;
      const frames = p.framesTotal === null ? '' : ` ${p.framesDone}/${p.framesTotal} frames`;
      const rate = p.fps === null ? '' : `, ${p.fps.toFixed(1)} fps`;
      const eta = p.etaSeconds === null || p.stage !== 'rendering' ? '' : `, ETA ${clock(p.etaSeconds)}`;
      process.stdout.write(`${p.stage}${frames}${rate}${eta}\n`);
    },
    stop() {},
  };
}

/** --remote: the daemon at URL renders it (uploaded audio, its workers), this process follows and downloads. */
async function remoteCommand(audio: string[], flags: RenderFlags): Promise<void> {
  const [{ renderRemote }, describe] = await Promise.all([import('./render-remote.ts'), import('../render/synthesis-record.ts')]);
  const refs = flags.network ?? [];
  const file = refs.find((r) => r.endsWith('.onnx'));
  if (file) throw new InvalidArgumentError(`--network ${file}: with --remote, networks are ids the daemon knows (GET /v1/networks)`);
  if (flags.format === 'png') throw new InvalidArgumentError('--format png: with --remote only mp4 renders come back (PNG frames stay in a folder on the daemon)');
  if (flags.workDir !== undefined || flags.segmentFrames !== undefined || flags.encodeParallel !== undefined) throw new InvalidArgumentError('--work-dir, --segment-frames and --encode-parallel: with --remote the daemon keeps its own (render.segmentFrames, render.encodeParallel)');
  if (flags.debug !== undefined) throw new InvalidArgumentError('--debug: with --remote, ask the daemon for one in the spec (output.debugPath, a name under its render.outputRoot) and download it from GET /v1/renders/{id}/debug');
  if (refs.length === 0) throw new InvalidArgumentError('--remote needs --network ID (the daemon\'s catalogue: GET /v1/networks)');
  // said now: not as "Unable to open file as blob", nor once the daemon has rendered what cannot be downloaded
  for (const a of audio) {
    const code = await access(resolve(a), constants.R_OK).then(
      () => null,
      (e: NodeJS.ErrnoException) => e.code ?? 'error',
    );
    if (code !== null) throw new Error(`${a}: cannot read it (${code === 'ENOENT' ? 'no such file' : code})`);
  }
  const folder = dirname(resolve(flags.out));
  if (!(await access(folder, constants.W_OK).then(() => true, () => false))) throw new Error(`--out ${flags.out}: cannot write: folder ${folder} does not exist or is not writable`);
  const full = specFromFlags(audio, refs, flags);
  // a projection file is named under the daemon's render.mediaRoot, as given
  const latents = { ...full.latents, ...(flags.projection !== undefined ? { projectionFile: flags.projection } : {}) };
  const { path: _local, ...output } = full.output;
  const spec = { networks: full.networks, truncationPsi: full.truncationPsi, latents, output, priority: full.priority };
  const view = await progressView(flags.progress !== false);
  const abort = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    // a second one is node's default: quits at once
    process.stderr.write(`\n${sig}: cancelling the render on the daemon (again to quit at once)\n`);
    abort.abort();
  };
  process.once('SIGINT', onSignal);
  try {
    const job = await renderRemote({
      url: flags.remote!,
      audio: audio.map((a) => resolve(a)),
      spec,
      out: resolve(flags.out),
      // --force replaces a file at --out, one made while the render ran included
      replace: flags.force === true,
      onQueued: (j) => process.stderr.write(`render ${j.id} queued on ${flags.remote}\n`),
      onSynthesis: (s) => saySynthesis(s.workers, describe),
      onProgress: (p) => view.update(p),
      signal: abort.signal,
    });
    process.stdout.write(`wrote ${resolve(flags.out)} (${job.framesDone} frames, render ${job.id} on ${flags.remote}, attempts ${job.attempts})\n`);
  } catch (err) {
    if (!abort.signal.aborted) throw err;
    // stopped by Ctrl-C: exit 130, as a local render (and any program stopped by it) does
    process.stderr.write(`gance: ${(err as Error).message}\n`);
    process.exitCode = 130;
  } finally {
    view.stop();
    process.off('SIGINT', onSignal);
  }
}

/**
 * What synthesizes the render, said once and plainly on stderr (the pool's info lines are below the
 * log level here): a video from the CPU fallback must not pass for one from the GPU, whether it
 * renders here or on a daemon (--remote).
 */
function saySynthesis(workers: ReadonlyArray<SynthesisWorkerInfo>, { describeWorker, fallbackWarnings }: typeof import('../render/synthesis-record.ts')): void {
  process.stderr.write(`synthesis: ${workers.map(describeWorker).join('; ')}\n`);
  for (const w of fallbackWarnings(workers)) process.stderr.write(`warning: ${w}\n`);
}

/** The flags of a video render that a stills run has no use for (--size, --psi, --network, --config it takes). */
const VIDEO_ONLY: Array<[keyof RenderFlags, string]> = [
  ['format', '--format'], ['fps', '--fps'], ['crf', '--crf'], ['preset', '--preset'], ['pixelFormat', '--pixel-format'], ['audioCodec', '--audio-codec'],
  ['mode', '--mode'], ['projection', '--projection'], ['alpha', '--alpha'], ['seed', '--seed'], ['workDir', '--work-dir'], ['segmentFrames', '--segment-frames'], ['encodeParallel', '--encode-parallel'], ['remote', '--remote'], ['debug', '--debug'], ['force', '--force'],
];

/** --still SEED...: one PNG per seed into the --out folder, no audio (src/render/stills.ts). */
async function stillsCommand(audio: string[], flags: RenderFlags): Promise<void> {
  const seeds = flags.still!;
  if (audio.length > 0) throw new InvalidArgumentError(`--still: stills come from seeds and take no audio, got "${audio[0]}" (render the audio without --still)`);
  const other = VIDEO_ONLY.find(([k]) => flags[k] !== undefined);
  if (other) throw new InvalidArgumentError(`--still: ${other[1]} is for video renders; stills take --network, --psi, --size, --config`);
  const refs = flags.network ?? [];
  if (refs.length > 1) throw new InvalidArgumentError(`--still: one --network at a time, got ${refs.map((r) => `"${r}"`).join(', ')}`);
  const [{ loadConfigFile }, { planStills, writeStills }, { createLocalRenderer }, { RenderFailure }, pinoModule, describe] = await Promise.all([
    import('../config/load.ts'),
    import('../render/stills.ts'),
    import('../render/local.ts'),
    import('../render/types.ts'),
    import('pino'),
    import('../render/synthesis-record.ts'),
  ]);
  const config = loadConfigFile(flags.config);
  const ref = refs[0] ?? config.synthesis.networks.default;
  const file = ref.endsWith('.onnx') ? resolve(ref) : null;
  const level = ['info', 'debug', 'trace'].includes(config.log.level) ? 'warn' : config.log.level;
  const log = pinoModule.pino({ level }, pinoModule.destination(2));
  const abort = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => abort.abort(new Error(sig));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  // the workers start once the inputs are checked: a refusal is its one line and nothing else
  const renderer = createLocalRenderer({ config, log, extraDirs: file ? [dirname(file)] : [], firstNetwork: file ? basename(file, '.onnx') : ref, deferStart: true });
  try {
    const plan = planStills({ seeds, network: file ?? ref, out: flags.out, psi: flags.psi ?? null, size: flags.size ?? null }, renderer.deps);
    renderer.start();
    const r = await writeStills(plan, renderer.deps, { signal: abort.signal, onSynthesis: (workers) => saySynthesis(workers, describe) });
    const g = r.geometry;
    process.stdout.write(`wrote ${r.files.length} still${r.files.length === 1 ? '' : 's'} (${g.outWidth}x${g.outHeight}, network ${r.network}, psi ${r.psi}) to ${resolve(flags.out)} in ${r.seconds.toFixed(1)} s, and ${r.runConfig}\n`);
  } catch (err) {
    if (!(err instanceof RenderFailure)) throw err;
    process.stderr.write(`gance: stills failed (${err.reason}): ${err.message}\n`);
    process.exitCode = err.reason === 'cancelled' ? 130 : 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await renderer.close();
  }
}

/**
 * A file already at --out (or --debug) is somebody's video: the render would rename its own over
 * it at the end, so it is refused before anything starts unless --force says to replace it (the
 * daemon refuses an existing output.path likewise, 409). Folders are checkOutput's (PNG frames).
 */
async function refuseOverwrite(flags: RenderFlags): Promise<void> {
  // a name that says another format than the mp4 written there (x.exe) is refused first, --force or not
  const { outputNameProblem } = await import('../render/spec.ts');
  for (const [flag, path, format] of [['--out', flags.out, flags.format ?? 'mp4'], ['--debug', flags.debug, 'mp4']] as const) {
    const misnamed = path === undefined ? null : outputNameProblem(format, path);
    if (misnamed) throw new InvalidArgumentError(`${flag} ${path}: ${misnamed}`);
  }
  // said by the options here; past this point resolveRender would call it output.debugPath
  if (flags.out !== undefined && flags.debug !== undefined && resolve(flags.out) === resolve(flags.debug)) {
    throw new InvalidArgumentError(`--debug ${flags.debug}: is the same file as --out; give the debug video a name of its own`);
  }
  if (flags.force) return;
  for (const [flag, path] of [['--out', flags.out], ['--debug', flags.debug]] as const) {
    if (path === undefined) continue;
    if ((await stat(resolve(path)).catch(() => null))?.isFile()) throw new Error(`${flag} ${path}: already exists (--force to overwrite it)`);
  }
  // the run config written beside the output is not replaced either: said now, not after the render
  if (flags.out !== undefined && flags.remote === undefined) {
    const { runConfigPath } = await import('../render/run-config.ts');
    const json = runConfigPath(resolve(flags.out));
    if ((await stat(json).catch(() => null)) !== null) throw new Error(`--out ${flags.out}: its run config ${json} already exists (--force to overwrite it)`);
  }
}

async function renderCommand(audio: string[], flags: RenderFlags): Promise<void> {
  if (flags.still !== undefined) return stillsCommand(audio, flags);
  if (audio.length === 0) throw new InvalidArgumentError("missing required argument 'audio' (or --still SEED for stills)");
  await refuseOverwrite(flags);
  if (flags.remote !== undefined) return remoteCommand(audio, flags);
  const [{ loadConfigFile }, { runRender }, { createLocalRenderer }, { RenderFailure }, { preflight }, { encodeParallel }, describe, pinoModule] = await Promise.all([
    import('../config/load.ts'),
    import('../render/run.ts'),
    import('../render/local.ts'),
    import('../render/types.ts'),
    import('../render/preflight.ts'),
    import('../render/encode-args.ts'),
    import('../render/synthesis-record.ts'),
    import('pino'),
  ]);
  const config = loadConfigFile(flags.config);
  if (flags.mode === 'projection-file-blend' && flags.projection === undefined && config.synthesis.latents.projectionFile === null) {
    throw new InvalidArgumentError('--mode projection-file-blend needs --projection FILE.h5 (the GANce projection file whose w latents the audio blends; synthesis.latents.projectionFile gives none)');
  }
  const refs = flags.network ?? [config.synthesis.networks.default];
  // an ONNX file names its folder as one more place to find networks; it is matched by path
  const files = refs.filter((r) => r.endsWith('.onnx')).map((r) => resolve(r));
  const networks = refs.map((r) => (r.endsWith('.onnx') ? resolve(r) : r));
  const spec = specFromFlags(audio, networks, flags);
  const first = refs[0]!.endsWith('.onnx') ? basename(refs[0]!, '.onnx') : refs[0]!;
  // the daemon's info lines would bury the progress; warnings and errors go to stderr
  const level = ['info', 'debug', 'trace'].includes(config.log.level) ? 'warn' : config.log.level;
  const log = pinoModule.pino({ level }, pinoModule.destination(2));
  const out = spec.output.path;
  const ownWorkDir = flags.workDir === undefined;
  const workDir = flags.workDir !== undefined ? resolve(flags.workDir) : await mkdtemp(join(dirname(out), `.${basename(out)}.work-`)).catch(() => null);
  if (workDir === null) throw new Error(`--out ${flags.out}: cannot write: folder ${dirname(out)} does not exist or is not writable`);

  const abort = new AbortController();
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals > 1) process.exit(130);
    process.stderr.write(`\n${sig}: cancelling the render (again to quit at once)\n`);
    abort.abort(new Error(`${sig}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // the workers start once the inputs are checked: a refusal is its one line and nothing else
  const renderer = createLocalRenderer({ config, log, extraDirs: [...new Set(files.map((f) => dirname(f)))], firstNetwork: first, deferStart: true });
  const view = await progressView(flags.progress !== false);
  try {
    // the messages name the options the user typed, not the spec's fields
    await preflight(spec, renderer.deps.networks.catalogue, renderer.deps.latents.config, renderer.deps.ffmpeg, { out: '--out', debug: '--debug' });
    renderer.start();
    const r = await runRender(spec, renderer.deps, {
      workDir,
      signal: abort.signal,
      onProgress: (p) => view.update(p),
      segmentFrames: flags.segmentFrames ?? config.render.segmentFrames,
      encodeParallel: encodeParallel(flags.encodeParallel ?? config.render.encodeParallel),
      // --force replaces a file at --out or --debug, one made while the render ran included
      replace: flags.force === true,
      onSynthesis: (workers) => saySynthesis(workers, describe),
    });
    view.stop();
    const resumed = r.resumedFrames > 0 ? `, ${r.resumedFrames} of them from ${workDir}` : '';
    const debug = r.debugOutput === undefined ? '' : `, the debug video ${r.debugOutput}`;
    process.stdout.write(`wrote ${r.output} (${r.frames} frames at ${r.fps} fps${resumed} in ${r.seconds.toFixed(1)} s)${debug} and ${r.runConfig}\n`);
  } catch (err) {
    view.stop();
    if (ownWorkDir) await rm(workDir, { recursive: true, force: true });
    if (!(err instanceof RenderFailure)) throw err;
    // said here rather than thrown: a cancel exits 130 like any program stopped by Ctrl-C
    const keep = !ownWorkDir && err.reason !== 'bad-input' ? ` (complete segments kept in ${workDir}: run the same command again to resume)` : '';
    process.stderr.write(`gance: render failed (${err.reason}): ${err.message}${keep}\n`);
    process.exitCode = err.reason === 'cancelled' ? 130 : 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await renderer.close();
  }
}

export function register(program: Command): void {
  program
    .command('render')
    .description('render audio files (joined in order) into an audio-reactive video, in this process; or, with --still, one picture per seed')
    .argument('[audio...]', 'audio files, joined in order (same sample rate); none with --still')
    .requiredOption('-o, --out <file>', 'output mp4 (or folder, with --format png or --still); written under a temporary name, renamed when complete, with <out>.run.json beside it (with --still: <out>/stills.run.json)')
    .option('--still <seed>', 'a still for this seed instead of a video (generate.py --seeds: z = numpy RandomState(seed).randn(1, z_dim)): <out>/seed0042.png and <out>/stills.run.json; repeat for several', seed)
    .option('-n, --network <id|file.onnx>', 'network id or ONNX file (with its .json sidecar); repeat for several, picked per frame by loudness (default: synthesis.networks.default)', collect)
    .option('-c, --config <file>', 'YAML config: its synthesis workers and latents settings', DEFAULT_CONFIG_PATH)
    .option('--format <mp4|png>', 'mp4 (x264 with the audio) or a folder of PNG frames', choice('--format', ['mp4', 'png'] as const))
    .option('--fps <n>', 'video frames per second (default: synthesis.latents.fps)', number('--fps', 1, 240))
    .option('--size <px>', "side of the video in pixels, bicubic, at most 4x the network's (default: the network's)", size)
    .option('--crf <n>', 'x264 constant rate factor (default 18, as GANce)', number('--crf', 0, 51, true))
    .option('--preset <name>', 'x264 preset (default medium)', choice('--preset', PRESETS))
    .option('--pixel-format <fmt>', 'yuv420p (default, plays everywhere) or yuv422p (GANce)', choice('--pixel-format', ['yuv420p', 'yuv422p'] as const))
    .option('--audio-codec <codec>', 'aac (default, 320 kbit/s) or alac (lossless)', choice('--audio-codec', ['aac', 'alac'] as const))
    .option('--mode <mode>', 'noise-blend | projection-file-blend (default: synthesis.latents.mode)', choice('--mode', ['noise-blend', 'projection-file-blend'] as const))
    .option('--projection <file.h5>', 'GANce projection file (implies projection-file-blend; needs a w-input network)')
    .option('--alpha <a>', 'blend weight of the spectrogram (GANce --alpha)', number('--alpha', 0, 100))
    .option('--seed <n>', 'noise seed (GANce: 1234)', number('--seed', 0, 4294967295, true))
    .option('--psi <psi>', "truncation psi for z networks (default: the network's)", number('--psi', -10, 10))
    .option('--work-dir <dir>', 'keep segments here: an interrupted render resumes when run again with the same folder')
    .option('--segment-frames <n>', 'frames per segment, the resume granularity (default: render.segmentFrames, 240)', number('--segment-frames', 1, 1_000_000, true))
    .option('--debug <file.mp4>', 'also write a debug video here (GANce --debug-path): each frame beside charts of the audio features, the latents and the network index over time, with the audio; drawn after the render')
    .option('--encode-parallel <n>', 'segments encoded at once, 4 x264 threads each; the same video with any number (default: render.encodeParallel, one per 4 CPU cores)', number('--encode-parallel', 1, MAX_ENCODE_PARALLEL, true))
    .option('--force', 'replace a file already at --out (or --debug); without it such a file is refused before anything starts')
    .option('--no-progress', 'print no progress')
    .option('--remote <url>', 'have the daemon at this address render it (audio uploaded, progress followed, the mp4 downloaded to --out); --network ids only, --projection a name under its render.mediaRoot', daemonAddress('--remote'))
    .action(async (audio: string[], flags: RenderFlags) => renderCommand(audio, flags));
}
