import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConnectionsFile, parseConnections } from '../../src/config/connections.ts';
import { loadEnvConfig } from '../../src/config/env.ts';
import { convertRecipe, createRecipeRegistry } from '../../src/providers/index.ts';

const recipes = createRecipeRegistry();
const secret = Buffer.alloc(32, 7).toString('base64');

function studio(overrides: Record<string, unknown> = {}) {
  return {
    id: 'acme',
    name: 'Acme Studio',
    creativeForce: {
      clientId: '${ACME_ID}',
      clientSecret: '${ACME_SECRET}',
      webhookSecrets: ['${ACME_HOOK}'],
      signatureScheme: 'auto',
    },
    subfunctions: { '54': { recipe: 'convert', options: { format: 'jpeg', quality: 90, maxWidth: 2000 } } },
    ...overrides,
  };
}
const env = { ACME_ID: 'client-1', ACME_SECRET: 'shh', ACME_HOOK: secret };

describe('environment configuration', () => {
  it('applies the documented defaults', () => {
    const config = loadEnvConfig({});
    expect(config).toMatchObject({
      redisUrl: 'redis://127.0.0.1:6379',
      port: 8080,
      cf: {
        apiBaseUrl: 'https://gateway.creativeforce.io/v1',
        tokenUrl: 'https://accounts.creativeforce.io/connect/token',
        rateLimitRps: 18,
        paths: {
          processDetail: '/cloud-automation/task-processes/{taskProcessId}',
          submitOutput: '/cloud-automation/task-processes/{taskProcessId}/submit-output',
        },
      },
    });
    expect(Object.isFrozen(config.cf.paths)).toBe(true);
  });

  it('overrides each ASSUMED path from its variable', () => {
    const config = loadEnvConfig({
      CF_PATH_SUBMIT_OUTPUT: '/v2/tp/{taskProcessId}/submit',
      CF_PATH_ANNOTATIONS: '/annotations?taskId={taskId}',
    });
    expect(config.cf.paths.submitOutput).toBe('/v2/tp/{taskProcessId}/submit');
    expect(config.cf.paths.annotations).toBe('/annotations?taskId={taskId}');
  });

  it('names the bad variable', () => {
    expect(() => loadEnvConfig({ PORT: 'eighty' })).toThrow(/PORT/);
    expect(() => loadEnvConfig({ CF_RATE_LIMIT_RPS: '25' })).toThrow(/CF_RATE_LIMIT_RPS/);
    expect(() => loadEnvConfig({ REDIS_URL: 'http://x' })).toThrow(/REDIS_URL/);
    expect(() => loadEnvConfig({ CF_PATH_PROCESS_DETAIL: 'no-slash' })).toThrow(/CF_PATH_PROCESS_DETAIL/);
  });

  it("builds each provider's configuration from its own variables", () => {
    const defaults = loadEnvConfig({}).providers;
    expect(defaults.adcreative).toMatchObject({ baseUrl: 'https://api.adcreative.ai', requestTimeoutMs: 120_000 });
    expect(defaults.sartiq).toEqual({ baseUrl: 'https://api.sartiq.com/api/v1', requestTimeoutMs: 120_000 });
    expect(defaults.firefly).toMatchObject({ baseUrl: 'https://run-workflow.adobe.io', requestTimeoutMs: 120_000 });
    const config = loadEnvConfig({
      SARTIQ_API_BASE_URL: 'http://127.0.0.1:9000/api/v1/',
      ADCREATIVE_IMAGE_JOB_PROCESS_ID_PARAM: 'processId',
    });
    expect(config.providers.sartiq.baseUrl).toBe('http://127.0.0.1:9000/api/v1');
    expect(config.providers.adcreative.paths.upscale.processIdParam).toBe('processId');
    expect(Object.isFrozen(config.providers.adcreative.paths)).toBe(true);
    expect(() => loadEnvConfig({ FIREFLY_REQUEST_TIMEOUT_MS: '5' })).toThrow(/FIREFLY_REQUEST_TIMEOUT_MS/);
    expect(() => loadEnvConfig({ PORT: 'x', ADCREATIVE_API_BASE_URL: 'ftp://x' })).toThrow(/PORT: .*; ADCREATIVE_API_BASE_URL: /);
  });
});

describe('connections file', () => {
  it('fills ${ENV} references and the default step ids', () => {
    const [c] = parseConnections({ connections: [studio()] }, recipes, env);
    expect(c?.creativeForce).toEqual({
      clientId: 'client-1',
      clientSecret: 'shh',
      webhookSecrets: [secret],
      signatureScheme: 'auto',
    });
    expect(c?.stepIds).toEqual([25, 26, 27, 28, 29, 40]);
    expect(c?.subfunctions['54']).toEqual({
      recipe: 'convert',
      options: { format: 'jpeg', quality: 90, maxWidth: 2000, stripMetadata: true },
    });
  });

  it('names the connection and the variable when a reference is not set', () => {
    expect(() => parseConnections({ connections: [studio()] }, recipes, { ACME_ID: 'x', ACME_HOOK: secret })).toThrow(
      'connection "acme": connection.creativeForce.clientSecret references ${ACME_SECRET}, which is not set',
    );
  });

  it('names the connection and field of a bad value', () => {
    const bad = studio({ creativeForce: { clientId: 'a', clientSecret: 'b', webhookSecrets: ['this is not base64 at all!'] } });
    expect(() => parseConnections({ connections: [bad] }, recipes, env)).toThrow(
      /connection "acme": creativeForce\.webhookSecrets\.0: must be Base64/,
    );
    expect(() => parseConnections({ connections: [studio({ id: 'Bad Id' })] }, recipes, env)).toThrow(/connection "Bad Id": id:/);
  });

  it('names an unknown recipe and a bad recipe option', () => {
    const unknown = studio({ subfunctions: { '54': { recipe: 'magic' } } });
    expect(() => parseConnections({ connections: [unknown] }, recipes, env)).toThrow(
      /subfunctions\.54\.recipe: unknown recipe "magic"/,
    );
    const badOption = studio({ subfunctions: { '54': { recipe: 'convert', options: { format: 'gif' } } } });
    expect(() => parseConnections({ connections: [badOption] }, recipes, env)).toThrow(
      /connection "acme": subfunctions\.54\.options\.format/,
    );
  });

  it("requires and validates the provider section of a recipe's provider", () => {
    const photoshoot = { '54': { recipe: 'adcreative-photoshoot', options: { prompts: ['{productCode} on marble'] } } };
    expect(() => parseConnections({ connections: [studio({ subfunctions: photoshoot })] }, recipes, env)).toThrow(
      'connection "acme": subfunctions.54 uses recipe "adcreative-photoshoot", which needs an "adcreative" section with the provider\'s credentials',
    );
    const adcreative = { applicationId: 'app', jwtPrivateKey: 'key', apiKey: 'api', apiSecret: 'shh', userId: 'user' };
    const partial = studio({ subfunctions: photoshoot, adcreative: { ...adcreative, userId: undefined } });
    expect(() => parseConnections({ connections: [partial] }, recipes, env)).toThrow(/connection "acme": adcreative\.userId:/);
    const [c] = parseConnections({ connections: [studio({ subfunctions: photoshoot, adcreative })] }, recipes, env);
    expect(c?.adcreative).toEqual(adcreative);
    expect(c?.sartiq).toBeUndefined();
  });

  it('refuses a recipe naming a provider the catalogue does not have', () => {
    expect(() => createRecipeRegistry([{ ...convertRecipe, name: 'elsewhere', provider: 'nobody' }])).toThrow(
      'recipe elsewhere names an unknown provider "nobody"',
    );
  });

  it('refuses a duplicated id and an empty file', () => {
    expect(() => parseConnections({ connections: [studio(), studio()] }, recipes, env)).toThrow(/"acme": id is used twice/);
    expect(() => parseConnections({}, recipes, env)).toThrow(/"connections" list/);
  });

  it('reads YAML from disk', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cfc-config-'));
    const file = join(dir, 'connections.yaml');
    await writeFile(
      file,
      [
        'connections:',
        '  - id: acme',
        '    name: Acme Studio',
        '    creativeForce:',
        '      clientId: ${ACME_ID}',
        '      clientSecret: ${ACME_SECRET}',
        '      webhookSecrets: [${ACME_HOOK}]',
        '    stepIds: [25, 40]',
        '    subfunctions:',
        '      "54": { recipe: convert, options: { format: png } }',
      ].join('\n'),
    );
    const [c] = await loadConnectionsFile(file, recipes, env);
    expect(c?.stepIds).toEqual([25, 40]);
    expect(c?.creativeForce.signatureScheme).toBe('b64key-sha256-base64');
    await expect(loadConnectionsFile(join(dir, 'missing.yaml'), recipes, env)).rejects.toThrow(/CONNECTIONS_FILE: cannot read/);
  });
});
