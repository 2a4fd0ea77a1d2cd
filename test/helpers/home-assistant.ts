/**
 * A real Home Assistant Core (test/ha/requirements.txt, the venv of test/ha/setup_env.sh, which
 * `scripts/setup.sh --test` builds) as a child process: `hass --config DIR --skip-pip` with only
 * `http:` (127.0.0.1, a free port), `api:` and `config:` configured. It is onboarded through the
 * REST API (the owner account, then a token), and its MQTT integration set up through the
 * config-flow REST endpoints, pointing at a test broker; the entity and device registries are read
 * over its WebSocket API (REST has none). `restart()` starts HA again on the same directory, so
 * its registries, tokens and MQTT entry persist as they would on a real install.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { freePort } from './mosquitto.js';
import { REPO_ROOT } from './paths.js';

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

/** The HA venv (built on first use, cached outside the clone). */
export function haVenv(): string {
  return execFileSync('bash', [join(REPO_ROOT, 'test', 'ha', 'setup_env.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
}

export interface RegistryEntity {
  readonly entity_id: string;
  readonly unique_id: string;
  readonly platform: string;
  readonly device_id: string | null;
  readonly id: string;
}
export interface RegistryDevice {
  readonly id: string;
  readonly identifiers: ReadonlyArray<readonly [string, string]>;
  readonly name: string | null;
  readonly model: string | null;
  readonly sw_version: string | null;
  readonly via_device_id: string | null;
}
export interface HaState {
  readonly entity_id: string;
  readonly state: string;
  readonly attributes: Record<string, unknown>;
}

const CLIENT_ID = (base: string): string => `${base}/`;

export class HomeAssistant {
  private child: ChildProcess | null = null;
  private out = '';
  private accessToken = '';
  private refreshToken = '';
  readonly base: string;

  private constructor(
    readonly dir: string,
    readonly port: number,
    private readonly venv: string,
  ) {
    this.base = `http://127.0.0.1:${port}`;
  }

  /** Writes the config, starts HA, onboards the owner and logs in. */
  static async start(dir: string): Promise<HomeAssistant> {
    const port = await freePort();
    writeFileSync(
      join(dir, 'configuration.yaml'),
      [
        'homeassistant:',
        '  name: segd test',
        '  time_zone: UTC',
        '  unit_system: metric',
        '  latitude: 0',
        '  longitude: 0',
        '  elevation: 0',
        'http:',
        '  server_host: 127.0.0.1',
        `  server_port: ${port}`,
        'api:',
        'config:',
        'logger:',
        '  default: warning',
        '',
      ].join('\n'),
    );
    const ha = new HomeAssistant(dir, port, haVenv());
    await ha.launch();
    await ha.onboard();
    return ha;
  }

  /** Everything HA wrote to stdout and stderr (warnings and errors). */
  log(): string {
    return this.out;
  }

  private async launch(): Promise<void> {
    const child = spawn(join(this.venv, 'bin', 'hass'), ['--config', this.dir, '--skip-pip', '--log-no-color'], { stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(child);
    this.child = child;
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (this.out += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (this.out += d));
    let exited = false;
    child.on('exit', () => {
      exited = true;
      live.delete(child);
    });
    // HA answers /api/onboarding (no auth) once http is up; the API itself once it has started.
    const deadline = Date.now() + 180_000;
    for (;;) {
      if (exited) throw new Error(`hass exited while starting:\n${this.out.slice(-4000)}`);
      if (Date.now() > deadline) throw new Error(`hass did not answer on ${this.base} within 180 s:\n${this.out.slice(-4000)}`);
      const ok = await fetch(`${this.base}/api/onboarding`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  private async onboard(): Promise<void> {
    const steps = (await (await fetch(`${this.base}/api/onboarding`)).json()) as Array<{ step: string; done: boolean }>;
    if (steps.find((s) => s.step === 'user')?.done === true) throw new Error('HA is already onboarded: start it on a fresh directory');
    const r = await fetch(`${this.base}/api/onboarding/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: CLIENT_ID(this.base), name: 'segd test', username: 'segd', password: 'segd-test-password', language: 'en' }),
    });
    if (!r.ok) throw new Error(`onboarding the owner: ${r.status} ${await r.text()}\n${this.out.slice(-4000)}`);
    const { auth_code: code } = (await r.json()) as { auth_code: string };
    const t = await this.token({ grant_type: 'authorization_code', code, client_id: CLIENT_ID(this.base) });
    this.refreshToken = t.refresh_token ?? '';
    await this.waitRunning();
  }

  /** Until GET /api/config says RUNNING (every integration set up). */
  private async waitRunning(): Promise<void> {
    const deadline = Date.now() + 180_000;
    for (;;) {
      const r = await this.rest('GET', '/api/config', undefined, () => true).catch(() => null);
      if (r !== null && r.ok && ((await r.json()) as { state?: string }).state === 'RUNNING') return;
      if (Date.now() > deadline) throw new Error(`HA did not reach RUNNING within 180 s:\n${this.out.slice(-4000)}`);
      await new Promise((res) => setTimeout(res, 500));
    }
  }

  private async token(form: Record<string, string>): Promise<{ access_token: string; refresh_token?: string }> {
    const r = await fetch(`${this.base}/auth/token`, { method: 'POST', body: new URLSearchParams(form) });
    if (!r.ok) throw new Error(`POST /auth/token: ${r.status} ${await r.text()}`);
    const t = (await r.json()) as { access_token: string; refresh_token?: string };
    this.accessToken = t.access_token;
    return t;
  }

  /** An authorised REST call; throws on a status other than those `ok` allows. */
  async rest(method: string, path: string, body?: unknown, ok: (status: number) => boolean = (s) => s < 300): Promise<Response> {
    const r = await fetch(`${this.base}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.accessToken}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    if (!ok(r.status)) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`);
    return r;
  }

  /** The MQTT integration through its config flow (discovery on, prefix `homeassistant`: its defaults). */
  async setUpMqtt(port: number): Promise<void> {
    const start = (await (await this.rest('POST', '/api/config/config_entries/flow', { handler: 'mqtt', show_advanced_options: false })).json()) as {
      flow_id: string;
      type: string;
      step_id?: string;
    };
    if (start.type !== 'form') throw new Error(`mqtt config flow: expected a form, got ${JSON.stringify(start)}`);
    const done = (await (await this.rest('POST', `/api/config/config_entries/flow/${start.flow_id}`, { broker: '127.0.0.1', port })).json()) as { type: string };
    if (done.type !== 'create_entry') throw new Error(`mqtt config flow: expected create_entry, got ${JSON.stringify(done)}`);
  }

  /** GET /api/states/<id>; null when HA has no such entity (404). */
  async state(entityId: string): Promise<HaState | null> {
    const r = await this.rest('GET', `/api/states/${entityId}`, undefined, (s) => s === 200 || s === 404);
    return r.status === 404 ? null : ((await r.json()) as HaState);
  }

  /** One command over the WebSocket API (auth, command, result), on a connection of its own. */
  async ws<T>(command: Record<string, unknown>): Promise<T> {
    const sock = new WebSocket(`ws://127.0.0.1:${this.port}/api/websocket`);
    try {
      return await new Promise<T>((resolve, reject) => {
        sock.on('error', reject);
        sock.on('message', (data) => {
          const m = JSON.parse(String(data)) as { type: string; success?: boolean; result?: T; error?: unknown };
          if (m.type === 'auth_required') sock.send(JSON.stringify({ type: 'auth', access_token: this.accessToken }));
          else if (m.type === 'auth_invalid') reject(new Error('HA websocket: auth_invalid'));
          else if (m.type === 'auth_ok') sock.send(JSON.stringify({ id: 1, ...command }));
          else if (m.type === 'result' && m.success === true) resolve(m.result as T);
          else if (m.type === 'result') reject(new Error(`HA websocket ${String(command['type'])}: ${JSON.stringify(m.error)}`));
        });
      });
    } finally {
      sock.close();
    }
  }

  entities(): Promise<RegistryEntity[]> {
    return this.ws<RegistryEntity[]>({ type: 'config/entity_registry/list' });
  }

  devices(): Promise<RegistryDevice[]> {
    return this.ws<RegistryDevice[]>({ type: 'config/device_registry/list' });
  }

  /** SIGTERM (HA saves its registries), waits for the exit. */
  async stop(): Promise<void> {
    const c = this.child;
    if (c === null) return;
    this.child = null;
    if (c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    c.kill('SIGTERM');
    const timer = setTimeout(() => c.kill('SIGKILL'), 60_000);
    await exited;
    clearTimeout(timer);
  }

  /** Stops HA and starts it again on the same directory and port; logs in again with the refresh token. */
  async restart(): Promise<void> {
    await this.stop();
    await this.launch();
    await this.token({ grant_type: 'refresh_token', refresh_token: this.refreshToken, client_id: CLIENT_ID(this.base) });
    await this.waitRunning();
  }
}
