/** A render job's states, without the store (the CLI needs them and no SQLite). */
export const JOB_STATES = ['queued', 'running', 'done', 'failed', 'cancelled'] as const;
export type JobState = (typeof JOB_STATES)[number];
export const FINISHED_STATES: readonly JobState[] = ['done', 'failed', 'cancelled'];
