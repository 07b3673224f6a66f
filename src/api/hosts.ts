/** Host names and listen addresses; its own module so config checks load no HTTP code. */

export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '');
  return h === 'localhost' || h.endsWith('.localhost') || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || /^::ffff:127\./.test(h);
}

export function isWildcardHost(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '[::]' || host === '';
}

/** `server.host` as a person reads it: what "0.0.0.0" really covers. */
export function describeBinding(address: string, port: number): string {
  const hostPort = address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
  if (address === '0.0.0.0') return `${hostPort} (every IPv4 address of this machine)`;
  if (address === '::') return `${hostPort} (every address of this machine, IPv6 and, unless the system says otherwise, IPv4)`;
  if (isLoopbackHost(address)) return `${hostPort} (loopback: this machine only)`;
  return hostPort;
}

/** Parses `Host`: lower-cased name or IP without brackets or port; null if there is none. */
export function hostName(hostHeader: string | undefined): string | null {
  if (!hostHeader) return null;
  const h = hostHeader.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end > 1 ? h.slice(1, end) : null;
  }
  const colons = h.split(':').length - 1;
  const name = colons === 1 ? h.slice(0, h.indexOf(':')) : h;
  return name.replace(/\.$/, '') || null;
}

