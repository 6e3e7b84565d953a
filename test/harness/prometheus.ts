/**
 * Starts a real Prometheus (the Debian package) for tests: a temp config whose scrape jobs point
 * at the test server, storage in a temp dir, a free loopback port, scraping every second. Ready
 * once its /-/ready answers; stopped and removed by `stop()` (and on process exit).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { freePort } from './postgres.js';

export interface ScrapeJob {
  name: string;
  /** host:port of the server to scrape. */
  target: string;
  /** Sent as `Authorization: Bearer <token>`; absent: no header. */
  bearerToken?: string;
}

export interface PrometheusServer {
  url: string;
  /** An instant PromQL query; the vector's samples as [labels, value, timestamp seconds]. */
  query(promql: string): Promise<Array<{ metric: Record<string, string>; value: number; at: number }>>;
  /** The scrape targets' health as Prometheus sees it (job, health, lastError). */
  targets(): Promise<Array<{ job: string; health: string; lastError: string; lastScrape: string }>>;
  /** Alerts of the loaded rules that are pending or firing. */
  alerts(): Promise<Array<{ name: string; state: string; value: number }>>;
  /** Output of the process, for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

const binary = process.env.PROMETHEUS_BIN ?? '/usr/bin/prometheus';
const live = new Map<ChildProcess, string>();
let exitHook = false;

function yamlString(s: string) {
  return JSON.stringify(s); // a JSON string is a valid YAML double-quoted scalar
}

/** `rules`: the text of a rule file (YAML) to load, evaluated every second. */
export async function startPrometheus(jobs: ScrapeJob[], opts: { rules?: string } = {}): Promise<PrometheusServer> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'timebox-prometheus-'));
  const lines = ['global:', '  scrape_interval: 1s', '  scrape_timeout: 1s', '  evaluation_interval: 1s'];
  if (opts.rules !== undefined) {
    const file = path.join(dir, 'rules.yml');
    await writeFile(file, opts.rules);
    lines.push('rule_files:', `  - ${yamlString(file)}`);
  }
  lines.push('scrape_configs:');
  for (const job of jobs) {
    lines.push(`  - job_name: ${yamlString(job.name)}`, '    metrics_path: /metrics');
    if (job.bearerToken !== undefined) {
      const file = path.join(dir, `${job.name}.token`);
      await writeFile(file, job.bearerToken, { mode: 0o600 });
      lines.push('    authorization:', '      type: Bearer', `      credentials_file: ${yamlString(file)}`);
    }
    lines.push('    static_configs:', `      - targets: [${yamlString(job.target)}]`);
  }
  const config = path.join(dir, 'prometheus.yml');
  await writeFile(config, lines.join('\n') + '\n');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(
    binary,
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  live.set(child, dir);
  if (!exitHook) {
    exitHook = true;
    process.once('exit', () => {
      for (const [p, d] of live) {
        p.kill('SIGKILL');
        rmSync(d, { recursive: true, force: true });
      }
    });
  }
  let exited = false;
  child.once('exit', () => (exited = true));

  async function stop() {
    if (!live.has(child)) return;
    live.delete(child);
    if (!exited) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
    await rm(dir, { recursive: true, force: true });
  }

  // Ready: /-/ready answers 200 once the TSDB is open and the scrape manager runs.
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) {
      await stop();
      throw new Error(`prometheus exited before it was ready:\n${output}`);
    }
    const ok = await fetch(`${url}/-/ready`).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus was not ready within 60 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  return {
    url,
    async query(promql) {
      const res = await fetch(`${url}/api/v1/query?${new URLSearchParams({ query: promql })}`);
      const body = (await res.json()) as { status: string; error?: string; data: { resultType: string; result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
      if (body.status !== 'success') throw new Error(`PromQL ${promql}: ${body.error}`);
      return body.data.result.map((r) => ({ metric: r.metric, at: r.value[0], value: Number(r.value[1]) }));
    },
    async targets() {
      const res = await fetch(`${url}/api/v1/targets`);
      const body = (await res.json()) as { data: { activeTargets: Array<{ labels: Record<string, string>; health: string; lastError: string; lastScrape: string }> } };
      return body.data.activeTargets.map((t) => ({ job: t.labels.job ?? '', health: t.health, lastError: t.lastError, lastScrape: t.lastScrape }));
    },
    async alerts() {
      const res = await fetch(`${url}/api/v1/alerts`);
      const body = (await res.json()) as { data: { alerts: Array<{ labels: Record<string, string>; state: string; value: string }> } };
      return body.data.alerts.map((a) => ({ name: a.labels.alertname ?? '', state: a.state, value: Number(a.value) }));
    },
    log: () => output,
    stop,
  };
}
