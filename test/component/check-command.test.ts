/**
 * `cf-ai-connector check`, spawned as a real process against the simulators and the real Redis:
 * ok for good credentials, the right code for refused ones (Creative Force and every provider),
 * exit codes 0 and 1, no token cached and no paid work started, and still a credentials check
 * when Redis is unreachable.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdCreativeSimulator, CreativeForceSimulator, FireflySimulator, SartiqSimulator } from '../../src/simulators/index.ts';
import { dropPrefix, redisUrl, testPrefix } from '../helpers/redis.ts';
import { runCli } from '../helpers/run-cli.ts';

/** The line of `label` (a connection id and a system, or a setting), without the label. */
function lineOf(out: string, label: string): string | undefined {
  const line = out.split('\n').find((l) => l.startsWith(`${label} `));
  return line?.slice(label.length).trim();
}

async function closedPort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  return typeof address === 'object' && address ? address.port : 0;
}

describe('cf-ai-connector check', () => {
  let cf: CreativeForceSimulator;
  let adc: AdCreativeSimulator;
  let sartiq: SartiqSimulator;
  let firefly: FireflySimulator;
  let dir: string;
  let env: Record<string, string>;
  const prefix = testPrefix('check');
  /** Every secret of the file, good or wrong: none may appear in the output. */
  const secrets: string[] = [];
  const secret = () => {
    const value = randomBytes(16).toString('hex');
    secrets.push(value);
    return value;
  };

  beforeAll(async () => {
    [cf, adc, sartiq, firefly] = await Promise.all([
      CreativeForceSimulator.start(),
      AdCreativeSimulator.start(),
      SartiqSimulator.start(),
      FireflySimulator.start(),
    ]);
    const app = { clientId: 'check-client', clientSecret: secret() };
    cf.addApp(app);
    const application = { applicationId: randomUUID(), jwtPrivateKey: secret(), apiKey: secret(), apiSecret: secret() };
    adc.addApplication(application);
    const account = { email: 'robot@studio.example', password: secret() };
    sartiq.addAccount(account);
    const credential = { clientId: 'check-ff', clientSecret: secret(), orgId: 'A1B2C3@AdobeOrg', userId: 'check-user' };
    firefly.addCredential(credential);
    const webhookSecrets = [randomBytes(32).toString('base64')];
    const good = {
      id: 'good',
      name: 'Good Studio',
      creativeForce: { ...app, webhookSecrets },
      adcreative: { ...application, userId: randomUUID() },
      sartiq: account,
      firefly: credential,
      subfunctions: {
        '54': { recipe: 'convert', options: { format: 'jpeg' } },
        '7': { recipe: 'adcreative-upscale' },
      },
    };
    const bad = {
      id: 'bad',
      name: 'Bad Studio',
      creativeForce: { clientId: app.clientId, clientSecret: secret(), webhookSecrets },
      adcreative: { ...good.adcreative, jwtPrivateKey: secret() },
      sartiq: { ...account, password: secret() },
      firefly: { ...credential, clientSecret: secret() },
      subfunctions: { '54': { recipe: 'convert', options: { format: 'png' } } },
    };
    dir = await mkdtemp(join(tmpdir(), 'cfc-check-'));
    const file = join(dir, 'connections.json');
    await writeFile(file, JSON.stringify({ connections: [good, bad] }));
    env = {
      REDIS_URL: redisUrl,
      QUEUE_PREFIX: prefix,
      CONNECTIONS_FILE: file,
      CF_API_BASE_URL: cf.apiBaseUrl,
      CF_TOKEN_URL: cf.tokenUrl,
      ADCREATIVE_API_BASE_URL: adc.baseUrl,
      SARTIQ_API_BASE_URL: sartiq.baseUrl,
      FIREFLY_API_BASE_URL: firefly.baseUrl,
      FIREFLY_IMS_TOKEN_URL: firefly.tokenUrl,
      PUBLIC_URL: 'https://connector.example.com/',
      LOG_LEVEL: 'info',
    };
  });

  afterAll(async () => {
    await Promise.all([cf?.close(), adc?.close(), sartiq?.close(), firefly?.close()]);
    await dropPrefix(prefix);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('prints ok for every remote system of a good connection, its webhook URLs, and exits 0', async () => {
    const run = await runCli(['check', 'good'], env);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(lineOf(run.stdout, 'configuration')).toMatch(/^ok, 2 connections in /);
    expect(lineOf(run.stdout, 'redis')).toBe('ok');
    expect(lineOf(run.stdout, 'PUBLIC_URL')).toBe('https://connector.example.com');
    for (const system of ['creative-force', 'adcreative', 'sartiq', 'firefly']) {
      expect(lineOf(run.stdout, `good ${system}`), system).toMatch(/^ok, token valid \d+ s$/);
    }
    const url = 'https://connector.example.com/webhooks/creative-force/good';
    expect(lineOf(run.stdout, 'good subfunction 7')).toBe(`webhook ${url} (recipe adcreative-upscale)`);
    expect(lineOf(run.stdout, 'good subfunction 54')).toBe(`webhook ${url} (recipe convert)`);
    expect(run.stdout).not.toContain('bad ');
    expect(run.stdout.trimEnd().split('\n').at(-1)).toBe('every check passed');
    // In order: Creative Force, the providers in catalogue order, the subfunctions by id.
    const labels = run.stdout.split('\n').map((l) => l.split(/ {2,}/)[0]);
    expect(labels.filter((l) => l?.startsWith('good '))).toEqual([
      'good creative-force',
      'good adcreative',
      'good sartiq',
      'good firefly',
      'good subfunction 7',
      'good subfunction 54',
    ]);
  });

  it('names the code and what to do for refused credentials of each remote system, and exits 1', async () => {
    const run = await runCli(['check'], env);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(1);
    expect(lineOf(run.stdout, 'good creative-force')).toMatch(/^ok/);
    expect(lineOf(run.stdout, 'bad creative-force')).toMatch(
      /^CF_AUTH_FAILED: .*invalid_client.*To do: check creativeForce\.clientId and clientSecret of connection "bad"/,
    );
    for (const provider of ['adcreative', 'sartiq', 'firefly']) {
      expect(lineOf(run.stdout, `bad ${provider}`), provider).toMatch(
        new RegExp(`^PROVIDER_AUTH_FAILED: .*To do: check the "${provider}" section of connection "bad"`),
      );
    }
    expect(lineOf(run.stdout, 'bad subfunction 54')).toBe(
      'webhook https://connector.example.com/webhooks/creative-force/bad (recipe convert)',
    );
    expect(run.stdout.trimEnd().split('\n').at(-1)).toBe('4 checks failed');
    for (const value of secrets) expect(run.stdout).not.toContain(value);
  });

  it('asks each system for a new token every time, caches none in Redis, and starts no paid work', async () => {
    const tokenCalls = () => cf.callLog().filter((c) => c.path.endsWith('/connect/token')).length;
    const before = tokenCalls();
    expect((await runCli(['check', 'good'], env)).code).toBe(0);
    expect((await runCli(['check', 'good'], env)).code).toBe(0);
    expect(tokenCalls() - before).toBe(2);
    const redis = new Redis(redisUrl);
    try {
      const keys = await redis.keys(`${prefix}*`);
      expect(keys.filter((k) => /token|jwt/.test(k))).toEqual([]);
    } finally {
      redis.disconnect();
    }
    expect(cf.callLog().filter((c) => !c.path.endsWith('/connect/token'))).toEqual([]);
    expect(adc.paidGenerations()).toBe(0);
    expect(sartiq.generationCount()).toBe(0);
    expect(firefly.batchCount()).toBe(0);
  });

  it('still checks the credentials when Redis is unreachable, and says so', async () => {
    const run = await runCli(['check', 'good'], { ...env, REDIS_URL: `redis://127.0.0.1:${await closedPort()}` });
    expect(run.code).toBe(1);
    expect(lineOf(run.stdout, 'redis')).toMatch(/^cannot reach Redis at REDIS_URL: .*ECONNREFUSED.*To do: check REDIS_URL/);
    for (const system of ['creative-force', 'adcreative', 'sartiq', 'firefly']) {
      expect(lineOf(run.stdout, `good ${system}`), system).toMatch(/^ok, token valid/);
    }
    expect(run.stdout.trimEnd().split('\n').at(-1)).toBe('1 check failed');
  });

  it('says a remote system was not reached, and what to check', async () => {
    const closed = `http://127.0.0.1:${await closedPort()}`;
    const run = await runCli(['check', 'good'], { ...env, CF_TOKEN_URL: `${closed}/connect/token`, SARTIQ_API_BASE_URL: closed });
    expect(run.code).toBe(1);
    expect(lineOf(run.stdout, 'good creative-force')).toMatch(
      /^CF_NETWORK: .*To do: check this host's egress and DNS towards Creative Force, and CF_TOKEN_URL/,
    );
    expect(lineOf(run.stdout, 'good sartiq')).toMatch(
      /^PROVIDER_NETWORK: .*To do: check this host's egress and DNS towards Sartiq, and the SARTIQ_\* settings/,
    );
    expect(lineOf(run.stdout, 'good adcreative')).toMatch(/^ok/);
    expect(run.stdout.trimEnd().split('\n').at(-1)).toBe('2 checks failed');
  });

  it('prints the webhook paths and says PUBLIC_URL is unset without it', async () => {
    const { PUBLIC_URL: _, ...withoutPublicUrl } = env;
    const run = await runCli(['check', 'bad'], withoutPublicUrl);
    expect(lineOf(run.stdout, 'PUBLIC_URL')).toMatch(/^unset: /);
    expect(lineOf(run.stdout, 'bad subfunction 54')).toBe('webhook /webhooks/creative-force/bad (recipe convert)');
    expect(run.code).toBe(1);
  });

  it('refuses a connection the file does not have with exit 2', async () => {
    const run = await runCli(['check', 'nobody'], env);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^cf-ai-connector: no connection "nobody" in the connections file \(it has good, bad\)\nusage: /);
  });
});
