import { createRequire } from 'node:module';

/**
 * systemd's notify protocol: datagrams on the AF_UNIX socket named by NOTIFY_SOCKET. Node's dgram
 * cannot send AF_UNIX datagrams, hence unix-dgram (a small native addon).
 */
export interface Notifier {
  readonly enabled: boolean;
  /** watchdog interval systemd expects, or undefined when WATCHDOG_USEC is not set for us */
  readonly watchdogMs: number | undefined;
  send(state: string): void;
  close(): void;
}

interface UnixDgramSocket {
  send(buf: Buffer, offset: number, length: number, path: string, cb?: (err?: Error) => void): void;
  on(event: 'error', cb: (err: Error) => void): void;
  close(): void;
}

const require = createRequire(import.meta.url);

export function createNotifier(env: NodeJS.ProcessEnv = process.env, onError: (err: Error) => void = () => {}): Notifier {
  const raw = env.NOTIFY_SOCKET;
  const watchdogUsec = Number(env.WATCHDOG_USEC);
  const watchdogPid = env.WATCHDOG_PID === undefined ? undefined : Number(env.WATCHDOG_PID);
  const watchdogMs =
    Number.isFinite(watchdogUsec) && watchdogUsec > 0 && (watchdogPid === undefined || watchdogPid === process.pid)
      ? watchdogUsec / 1000
      : undefined;
  if (!raw) return { enabled: false, watchdogMs, send() {}, close() {} };
  // A leading '@' names an abstract socket: the kernel wants a NUL there.
  const path = raw.startsWith('@') ? `\0${raw.slice(1)}` : raw;
  const unix = require('unix-dgram') as { createSocket(type: 'unix_dgram'): UnixDgramSocket };
  const socket = unix.createSocket('unix_dgram');
  socket.on('error', onError);
  return {
    enabled: true,
    watchdogMs,
    send(state: string) {
      const buf = Buffer.from(state);
      socket.send(buf, 0, buf.length, path, (err) => err && onError(err));
    },
    close() {
      socket.close();
    },
  };
}
