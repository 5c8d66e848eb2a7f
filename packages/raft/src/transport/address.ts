/** Splits `host:port` (IPv6 as `[::1]:port`). */
export function splitHostPort(addr: string): { host: string; port: number } {
  const m = /^\[?([^\]]*)\]?:(\d+)$/.exec(addr);
  const port = Number(m?.[2]);
  if (m === null || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new TypeError(`invalid address ${JSON.stringify(addr)}: expected host:port`);
  }
  return { host: m[1] ?? '', port };
}
