import { spawnSync } from 'node:child_process';

/**
 * Runs `promtool check metrics` (Prometheus' own linter and parser) on `text` and returns its verdict. promtool
 * must be installed: without it this throws, saying how to install it, so the check is never skipped silently.
 */
export function promtoolCheckMetrics(text: string): { ok: boolean; output: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 30_000 });
  if (r.error !== undefined) {
    const missing = (r.error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new Error(
      missing
        ? 'promtool is not installed: the /metrics test needs it (Debian/Ubuntu: apt-get install -y prometheus; ' +
            'elsewhere: the prometheus release tarball from https://prometheus.io/download/). .ci/run installs it.'
        : `promtool failed to run: ${r.error.message}`,
    );
  }
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}
