/**
 * Config section `render`: where the daemon's render jobs may read and write, how they use the
 * disk, and how many run at once. The encoder settings are per render (the spec); these are the
 * machine's. Relative paths are taken from the daemon's working directory, like `stateDir`.
 */
import { Type, type Static } from '@sinclair/typebox';
import { DEFAULT_ENCODE_QUEUE_FRAMES, FRAMES_AHEAD_PER_SEGMENT, MAX_ENCODE_PARALLEL, MAX_ENCODE_QUEUE_FRAMES, MAX_FRAMES_AHEAD } from './limits.ts';

export const RenderConfig = Type.Object(
  {
    mediaRoot: Type.String({
      minLength: 1,
      maxLength: 4096,
      default: './media',
      description: 'the folder API requests (renders and live sessions) may name audio and projection files in (nothing outside it, symlinks included, is read)',
    }),
    outputRoot: Type.String({ minLength: 1, maxLength: 4096, default: './renders', description: 'the folder API renders and live session file outputs are written to (output.path, outputs[].target are names under it)' }),
    uploadMaxBytes: Type.Integer({
      minimum: 1024,
      maximum: 16 * 1024 ** 3,
      default: 1024 ** 3,
      description: 'largest audio file a multipart upload may send (413 over it)',
    }),
    maxUploadFiles: Type.Integer({ minimum: 1, maximum: 64, default: 16, description: 'most audio files one upload may send' }),
    maxQueued: Type.Integer({
      minimum: 1,
      maximum: 10_000,
      default: 32,
      description:
        'renders waiting in the queue (not yet running), counting those being received and checked; past it POST /v1/renders is 429 before an upload is stored. Each may keep an upload in stateDir until it ends (up to maxUploadFiles x uploadMaxBytes), so this bounds the disk the queue can take from stateDir',
    }),
    concurrency: Type.Integer({
      minimum: 1,
      maximum: 16,
      default: 1,
      description: 'renders running at once; they share the inference workers, so more than one only helps while one is encoding',
    }),
    segmentFrames: Type.Integer({
      minimum: 1,
      maximum: 1_000_000,
      default: 240,
      description: 'frames per encoded segment: a render interrupted by a crash or a stop resumes after its last complete segment',
    }),
    encodeParallel: Type.Union(
      [
        Type.Integer({ minimum: 1, maximum: MAX_ENCODE_PARALLEL }),
        Type.Null(),
      ],
      {
        default: null,
        description:
          'segments of one render encoded at once (x264 runs 4 threads in each, fixed so the bits do not depend on the machine; any number gives the same video); frames are asked for round-robin across them, so memory does not grow with it beyond a frame per segment. null: one per 4 CPU cores, 1 to 8',
      },
    ),
    framesAhead: Type.Union([Type.Integer({ minimum: 1, maximum: MAX_FRAMES_AHEAD }), Type.Null()], {
      default: null,
      description: `frames a render keeps in synthesis ahead of its encoders, so a momentarily slow encoder does not leave the GPU idle; each holds the network's output (a 1024 px float frame is 12 MiB). null: ${FRAMES_AHEAD_PER_SEGMENT} per segment encoding at once`,
    }),
    encodeQueueFrames: Type.Integer({
      minimum: 1,
      maximum: MAX_ENCODE_QUEUE_FRAMES,
      default: DEFAULT_ENCODE_QUEUE_FRAMES,
      description: 'finished frames waiting for each encoding segment (rgb24 bytes: 3 MiB at 1024 px) while its x264 is busy',
    }),
    workDir: Type.Union([Type.String({ minLength: 1, maxLength: 4096 }), Type.Null()], {
      default: null,
      description: "where renders keep their segments while they run (a folder per render); best on the outputs' disk. null: stateDir/renders",
    }),
    progressIntervalMs: Type.Integer({
      minimum: 0,
      maximum: 60_000,
      default: 500,
      description: 'progress is stored and sent to event streams at most this often (stage changes and the end always go at once)',
    }),
  },
  { additionalProperties: false, default: {} },
);
export type RenderConfig = Static<typeof RenderConfig>;
