import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { isFullConnection, loadConnectionsFile, parseConnections } from '../../src/config/connections.ts';
import { loadEnvConfig } from '../../src/config/env.ts';
import { providerResultHosts } from '../../src/providers/catalogue.ts';
import { convertRecipe, createRecipeRegistry } from '../../src/providers/index.ts';
import { defaultSartiqLostStarts } from '../../src/providers/sartiq/config.ts';
import { buildService } from '../../src/service.ts';

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

/** Writes a connections file: the acme studio with its Creative Force section, then `lines`. */
async function connectionsFile(lines: string[]): Promise<{ dir: string; file: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'cfc-config-'));
  const file = join(dir, 'connections.yaml');
  const studioLines = [
    'connections:',
    '  - id: acme',
    '    name: Acme Studio',
    '    creativeForce:',
    '      clientId: ${ACME_ID}',
    '      clientSecret: ${ACME_SECRET}',
    '      webhookSecrets: [${ACME_HOOK}]',
  ];
  await writeFile(file, [...studioLines, ...lines].join('\n'));
  return { dir, file };
}

describe('environment configuration', () => {
  it('applies the documented defaults', () => {
    const config = loadEnvConfig({});
    expect(config).toMatchObject({
      redisUrl: 'redis://127.0.0.1:6379',
      port: 8080,
      cf: {
        apiBaseUrl: 'https://gateway.creativeforce.io/v1',
        tokenUrl: 'https://accounts.creativeforce.io/connect/token',
        rateLimitRps: 20,
        rateLimitAdaptive: true,
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

  it('overrides the field names of the Update Process Status body, which must be names and differ', () => {
    expect(loadEnvConfig({}).cf.statusBodyFields).toEqual({ status: 'status', message: 'message' });
    expect(loadEnvConfig({ CF_STATUS_FIELD: 'Status', CF_MESSAGE_FIELD: 'comment' }).cf.statusBodyFields).toEqual({
      status: 'Status',
      message: 'comment',
    });
    expect(() => loadEnvConfig({ CF_STATUS_FIELD: 'a b' })).toThrow(/CF_STATUS_FIELD: must be a field name/);
    expect(() => loadEnvConfig({ CF_MESSAGE_FIELD: 'status' })).toThrow(/CF_MESSAGE_FIELD: must differ from CF_STATUS_FIELD/);
  });

  it('takes an empty ADMIN_TOKEN (as .env.example ships it) as unset, and refuses a short one', () => {
    expect(loadEnvConfig({ ADMIN_TOKEN: '' }).adminToken).toBeUndefined();
    expect(() => loadEnvConfig({ ADMIN_TOKEN: 'short' })).toThrow(/ADMIN_TOKEN: must be at least 24 characters/);
  });

  it('takes PUBLIC_URL as an https origin (a path prefix allowed), without its trailing slash', () => {
    expect(loadEnvConfig({}).publicUrl).toBeUndefined();
    expect(loadEnvConfig({ PUBLIC_URL: '' }).publicUrl).toBeUndefined();
    expect(loadEnvConfig({ PUBLIC_URL: 'https://connector.example.com/' }).publicUrl).toBe('https://connector.example.com');
    expect(loadEnvConfig({ PUBLIC_URL: 'https://example.com:8443/cf//' }).publicUrl).toBe('https://example.com:8443/cf');
    for (const bad of [
      'http://connector.example.com',
      'https://x.example/?a=1',
      'https://x.example/#top',
      'https://u:p@x.example',
      'connector.example.com',
    ]) {
      expect(() => loadEnvConfig({ PUBLIC_URL: bad }), bad).toThrow(/PUBLIC_URL: /);
    }
  });

  it('serves token-free metrics only when METRICS_PORT is set, on loopback unless told, never on PORT', () => {
    expect(loadEnvConfig({}).metricsListener).toBeUndefined();
    expect(loadEnvConfig({ METRICS_PORT: '' }).metricsListener).toBeUndefined();
    expect(loadEnvConfig({ METRICS_PORT: '9464' }).metricsListener).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(loadEnvConfig({ METRICS_PORT: '9464', METRICS_HOST: '0.0.0.0' }).metricsListener).toEqual({
      host: '0.0.0.0',
      port: 9464,
    });
    expect(() => loadEnvConfig({ METRICS_PORT: '8080' })).toThrow(/METRICS_PORT: must differ from PORT/);
    expect(() => loadEnvConfig({ METRICS_PORT: 'ninety' })).toThrow(/METRICS_PORT/);
  });

  it('traces only when OTEL_EXPORTER_OTLP_ENDPOINT is an http(s) URL', () => {
    expect(loadEnvConfig({}).tracing).toBeUndefined();
    expect(loadEnvConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: '' }).tracing).toBeUndefined();
    expect(loadEnvConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }).tracing).toEqual({
      endpoint: 'http://collector:4318',
      serviceName: 'cf-ai-connector',
    });
    expect(loadEnvConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://c.example', OTEL_SERVICE_NAME: 'cfc-worker' }).tracing).toEqual({
      endpoint: 'https://c.example',
      serviceName: 'cfc-worker',
    });
    expect(() => loadEnvConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT/);
  });

  it('names the bad variable', () => {
    expect(() => loadEnvConfig({ PORT: 'eighty' })).toThrow(/PORT/);
    expect(() => loadEnvConfig({ CF_RATE_LIMIT_RPS: '25' })).toThrow(/CF_RATE_LIMIT_RPS/);
    expect(() => loadEnvConfig({ REDIS_URL: 'http://x' })).toThrow(/REDIS_URL/);
    expect(() => loadEnvConfig({ CF_PATH_PROCESS_DETAIL: 'no-slash' })).toThrow(/CF_PATH_PROCESS_DETAIL/);
  });

  it('overrides every undocumented path and name of the AdCreative image features', () => {
    const defaults = loadEnvConfig({}).providers.adcreative;
    expect(defaults.paths.backgroundRemove.checkUserProgress).toBe('/api/v1/Image/BackgroundRemoving/CheckUserProgress');
    expect(defaults.imageJobNames).toMatchObject({ uploadedImage: 'uploadedImage', ariaRatio: 'ariaRatio', taskId: 'taskId' });
    const config = loadEnvConfig({
      ADCREATIVE_PATH_BACKGROUND_REMOVE_START: '/bg/start',
      ADCREATIVE_PATH_BACKGROUND_REMOVE_PROGRESS: '/bg/progress',
      ADCREATIVE_PATH_UPSCALE_START: '/up/start',
      ADCREATIVE_PATH_FACE_ENHANCE_START: '/face/start',
      ADCREATIVE_PATH_FACE_ENHANCE_PROGRESS: '/face/progress',
      ADCREATIVE_IMAGE_JOB_NAMES: ' uploadedImage=image , ariaRatio = areaRatio,taskId=task ',
    }).providers.adcreative;
    expect(config.paths.backgroundRemove).toMatchObject({ start: '/bg/start', checkUserProgress: '/bg/progress' });
    expect(config.paths.upscale.start).toBe('/up/start');
    expect(config.paths.faceEnhance).toMatchObject({ start: '/face/start', checkUserProgress: '/face/progress' });
    expect(config.imageJobNames).toEqual({
      ...defaults.imageJobNames,
      uploadedImage: 'image',
      ariaRatio: 'areaRatio',
      taskId: 'task',
    });
    expect(config.paths.photoshoot).toEqual(defaults.paths.photoshoot);
    expect(() => loadEnvConfig({ ADCREATIVE_PATH_FACE_ENHANCE_PROGRESS: 'x' })).toThrow(/ADCREATIVE_PATH_FACE_ENHANCE_PROGRESS/);
    for (const bad of ['productImage=image', 'taskId', 'taskId=a=b', 'taskId=two words']) {
      expect(() => loadEnvConfig({ ADCREATIVE_IMAGE_JOB_NAMES: bad }), bad).toThrow(/ADCREATIVE_IMAGE_JOB_NAMES: .*name=sent/);
    }
  });

  it('takes the Firefly IMS scope and the inputs’ storageType from their variables', () => {
    const defaults = loadEnvConfig({}).providers.firefly;
    expect(defaults).toMatchObject({
      scope: 'openid,AdobeID,session,additional_info,read_organizations,firefly_api,ff_apis',
      inputStorageType: 'AWS',
    });
    const config = loadEnvConfig({ FIREFLY_IMS_SCOPE: ' openid firefly_api ', FIREFLY_INPUT_STORAGE_TYPE: 'S3' }).providers
      .firefly;
    expect(config).toMatchObject({ scope: 'openid firefly_api', inputStorageType: 'S3' });
    expect(() => loadEnvConfig({ FIREFLY_IMS_SCOPE: '' })).toThrow(/FIREFLY_IMS_SCOPE/);
    expect(() => loadEnvConfig({ FIREFLY_IMS_SCOPE: 'openid;drop' })).toThrow(/FIREFLY_IMS_SCOPE/);
    expect(() => loadEnvConfig({ FIREFLY_INPUT_STORAGE_TYPE: 'A W S' })).toThrow(/FIREFLY_INPUT_STORAGE_TYPE/);
  });

  it("builds each provider's configuration from its own variables", () => {
    const defaults = loadEnvConfig({}).providers;
    expect(defaults.adcreative).toMatchObject({ baseUrl: 'https://api.adcreative.ai', requestTimeoutMs: 120_000 });
    expect(defaults.sartiq).toEqual({
      baseUrl: 'https://api.sartiq.com/api/v1',
      requestTimeoutMs: 120_000,
      uploadFields: { fileName: 'filename', contentType: 'content_type' },
      statuses: {
        generation: { completed: ['COMPLETED'], failed: ['FAILED'] },
        prediction: { completed: ['completed'], failed: ['error', 'failed'] },
        refine: { completed: ['completed'], failed: ['error', 'failed'] },
        agentic: { completed: ['completed'], failed: ['failed'] },
      },
      lostStarts: defaultSartiqLostStarts,
    });
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

  it("overrides Sartiq's undocumented presigned-upload fields and status words, and refuses contradictions", () => {
    const { sartiq } = loadEnvConfig({
      SARTIQ_UPLOAD_FILENAME_FIELD: 'name',
      SARTIQ_UPLOAD_CONTENT_TYPE_FIELD: 'mime_type',
      SARTIQ_PREDICTION_COMPLETED_STATUSES: ' done, finished ,',
      SARTIQ_AGENTIC_FAILED_STATUSES: 'failed,aborted',
    }).providers;
    expect(sartiq.uploadFields).toEqual({ fileName: 'name', contentType: 'mime_type' });
    expect(sartiq.statuses.prediction).toEqual({ completed: ['done', 'finished'], failed: ['error', 'failed'] });
    expect(sartiq.statuses.agentic).toEqual({ completed: ['completed'], failed: ['failed', 'aborted'] });
    expect(() => loadEnvConfig({ SARTIQ_REFINE_FAILED_STATUSES: 'Completed' })).toThrow(
      /SARTIQ_REFINE_COMPLETED_STATUSES and SARTIQ_REFINE_FAILED_STATUSES both list completed/,
    );
    expect(() => loadEnvConfig({ SARTIQ_GENERATION_COMPLETED_STATUSES: ' , ' })).toThrow(/SARTIQ_GENERATION_COMPLETED_STATUSES/);
    expect(() => loadEnvConfig({ SARTIQ_UPLOAD_FILENAME_FIELD: 'file-name' })).toThrow(/SARTIQ_UPLOAD_FILENAME_FIELD/);
    expect(() => loadEnvConfig({ SARTIQ_UPLOAD_CONTENT_TYPE_FIELD: 'filename' })).toThrow(/name the same field/);
  });

  it('reads how a lost Sartiq start is found: pairs over the defaults, bad pairs refused', () => {
    const { lostStarts } = loadEnvConfig({
      SARTIQ_START_CLOCK_SKEW_MS: '5000',
      SARTIQ_INPUT_FIELDS: 'edit=garment_placement_base_image_url, generate=',
      SARTIQ_GENERATION_STRATEGIES: 'video=VIDEO_GENERATION',
    }).providers.sartiq;
    expect(lostStarts.clockSkewMs).toBe(5000);
    expect(lostStarts.inputFields).toMatchObject({
      edit: 'garment_placement_base_image_url',
      generate: '',
      agentic: 'product_image_url',
    });
    expect(lostStarts.strategies).toMatchObject({ video: 'VIDEO_GENERATION', edit: 'EDITING' });
    expect(() => loadEnvConfig({ SARTIQ_INPUT_FIELDS: 'paint=url' })).toThrow(/SARTIQ_INPUT_FIELDS: .*paint=url/);
    expect(() => loadEnvConfig({ SARTIQ_GENERATION_STRATEGIES: 'edit=' })).toThrow(/SARTIQ_GENERATION_STRATEGIES/);
    expect(() => loadEnvConfig({ SARTIQ_GENERATION_STRATEGIES: 'edit=A,edit=B' })).toThrow(/"edit" is given twice/);
    expect(() => loadEnvConfig({ SARTIQ_START_CLOCK_SKEW_MS: '-1' })).toThrow(/SARTIQ_START_CLOCK_SKEW_MS/);
  });
});

describe('provider result downloads', () => {
  it('caps results at 256 MiB and refuses loopback by default; the test switch is a real boolean', () => {
    expect(loadEnvConfig({}).providerResults).toEqual({ maxBytes: 256 * 1024 * 1024, allowLoopback: false });
    expect(loadEnvConfig({ PROVIDER_RESULT_ALLOW_LOOPBACK: 'false' }).providerResults.allowLoopback).toBe(false);
    expect(loadEnvConfig({ PROVIDER_RESULT_ALLOW_LOOPBACK: 'true' }).providerResults.allowLoopback).toBe(true);
    expect(loadEnvConfig({ PROVIDER_RESULT_MAX_BYTES: '1000' }).providerResults.maxBytes).toBe(1000);
    expect(() => loadEnvConfig({ PROVIDER_RESULT_ALLOW_LOOPBACK: 'sometimes' })).toThrow(/PROVIDER_RESULT_ALLOW_LOOPBACK/);
    expect(() => loadEnvConfig({ PROVIDER_RESULT_MAX_BYTES: '0' })).toThrow(/PROVIDER_RESULT_MAX_BYTES/);
  });

  it('a provider that downloads result URLs declares default hosts; one that does not has none', () => {
    expect(providerResultHosts('sartiq')).toEqual(['*.sartiq.com', '*.r2.cloudflarestorage.com', '*.r2.dev']);
    expect(providerResultHosts('firefly')).toContain('*.amazonaws.com');
    expect(providerResultHosts('adcreative')).toEqual([]);
  });

  it("validates and normalizes a connection's resultHosts, naming the entry", () => {
    const sartiq = { email: 'svc@studio.example', password: 'pw' };
    const [c] = parseConnections(
      { connections: [studio({ sartiq: { ...sartiq, resultHosts: ['CDN.Studio.example', '*.r2.dev'] } })] },
      recipes,
      env,
    );
    expect(c?.sartiq).toEqual({ ...sartiq, resultHosts: ['cdn.studio.example', '*.r2.dev'] });
    const [without] = parseConnections({ connections: [studio({ sartiq })] }, recipes, env);
    expect(without?.sartiq).toEqual(sartiq);
    const bad = studio({ sartiq: { ...sartiq, resultHosts: ['cdn.studio.example', 'https://cdn.studio.example/x'] } });
    expect(() => parseConnections({ connections: [bad] }, recipes, env)).toThrow(
      /connection "acme": sartiq\.resultHosts\.1: "https:\/\/cdn\.studio\.example\/x" must be a host name alone/,
    );
    const empty = studio({ sartiq: { ...sartiq, resultHosts: [] } });
    expect(() => parseConnections({ connections: [empty] }, recipes, env)).toThrow(/connection "acme": sartiq\.resultHosts:/);
    const metadata = studio({
      firefly: { clientId: 'c', clientSecret: 's', orgId: 'o', userId: 'u', resultHosts: ['*.google.internal'] },
    });
    expect(() => parseConnections({ connections: [metadata] }, recipes, env)).toThrow(
      /firefly\.resultHosts\.0: .*cloud metadata/,
    );
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
      routes: [
        { stages: [{ recipe: 'convert', options: { format: 'jpeg', quality: 90, maxWidth: 2000, stripMetadata: true } }] },
      ],
      checks: { refuseBlank: true },
    });
  });

  it("reads a subfunction's result checks, and names a bad one", () => {
    const checks = { minWidth: 800, minHeight: 600, formats: ['jpeg', 'png'], refuseBlank: false };
    const sub = { recipe: 'convert', options: { format: 'jpeg' }, checks };
    const [c] = parseConnections({ connections: [studio({ subfunctions: { '54': sub } })] }, recipes, env);
    expect(c?.subfunctions['54']?.checks).toEqual(checks);
    const typo = { ...sub, checks: { minWidht: 800 } };
    expect(() => parseConnections({ connections: [studio({ subfunctions: { '54': typo } })] }, recipes, env)).toThrow(
      /connection "acme": subfunctions\.54\.checks: Unrecognized key: "minWidht"/,
    );
    const format = { ...sub, checks: { formats: ['bmp'] } };
    expect(() => parseConnections({ connections: [studio({ subfunctions: { '54': format } })] }, recipes, env)).toThrow(
      /subfunctions\.54\.checks\.formats\.0/,
    );
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

  it('takes webhook secrets per subfunction, with or without connection-level ones, and refuses a subfunction with none', () => {
    const other = Buffer.alloc(32, 9).toString('base64');
    const own = (secrets: string[]) => ({ recipe: 'convert', options: { format: 'jpeg' }, webhookSecrets: secrets });
    const noShared = { clientId: '${ACME_ID}', clientSecret: '${ACME_SECRET}' };
    const [split] = parseConnections(
      { connections: [studio({ creativeForce: noShared, subfunctions: { '54': own([secret]), '55': own([other, secret]) } })] },
      recipes,
      env,
    );
    expect(split?.creativeForce.webhookSecrets).toBeUndefined();
    expect(split?.subfunctions['54']?.webhookSecrets).toEqual([secret]);
    expect(split?.subfunctions['55']?.webhookSecrets).toEqual([other, secret]);
    const [mixed] = parseConnections(
      { connections: [studio({ subfunctions: { '54': own([other]), '55': { recipe: 'convert' } } })] },
      recipes,
      env,
    );
    expect(mixed?.creativeForce.webhookSecrets).toEqual([secret]);
    expect(mixed?.subfunctions['55']).not.toHaveProperty('webhookSecrets');
    expect(() =>
      parseConnections(
        {
          connections: [studio({ creativeForce: noShared, subfunctions: { '54': own([secret]), '55': { recipe: 'convert' } } })],
        },
        recipes,
        env,
      ),
    ).toThrow(/connection "acme": no webhook secret for subfunctions\.55: set creativeForce\.webhookSecrets/);
    expect(() =>
      parseConnections({ connections: [studio({ creativeForce: noShared, subfunctions: {} })] }, recipes, env),
    ).toThrow(/no webhook secret for any subfunction/);
    expect(() =>
      parseConnections({ connections: [studio({ subfunctions: { '54': own(['not base64!']) } })] }, recipes, env),
    ).toThrow(/subfunctions\.54\.webhookSecrets\.0: must be Base64/);
    expect(() => parseConnections({ connections: [studio({ subfunctions: { '54': own([]) } })] }, recipes, env)).toThrow(
      /subfunctions\.54\.webhookSecrets/,
    );
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
    const { dir, file } = await connectionsFile([
      '    stepIds: [25, 40]',
      '    subfunctions:',
      '      "54": { recipe: convert, options: { format: png } }',
    ]);
    const [c] = await loadConnectionsFile(file, recipes, env);
    expect(c?.stepIds).toEqual([25, 40]);
    expect(c?.creativeForce.signatureScheme).toBe('b64key-sha256-base64');
    await expect(loadConnectionsFile(join(dir, 'missing.yaml'), recipes, env)).rejects.toThrow(/CONNECTIONS_FILE: cannot read/);
  });

  it("names the parser's problem and its position in one line, without the code frame", async () => {
    const { file } = await connectionsFile(['    subfunctions: [unclosed', '']);
    const failure = loadConnectionsFile(file, recipes, env);
    await expect(failure).rejects.toThrow(/is not valid YAML or JSON: .+ at line \d+, column \d+$/);
    await expect(failure).rejects.not.toThrow(/\n/);
  });
});

describe('connections file for the receiver (scope receiver)', () => {
  const receiver = { scope: 'receiver' } as const;
  /** A studio whose Creative Force client and provider credentials reference variables the receiver does not get. */
  const withWorkerSecrets = () =>
    studio({
      adcreative: {
        applicationId: '${ACME_ADC_APP}',
        jwtPrivateKey: '${ACME_ADC_KEY}',
        apiKey: '${ACME_ADC_API_KEY}',
        apiSecret: '${ACME_ADC_API_SECRET}',
        userId: 'user-1',
      },
      stepIds: [25, 40],
      subfunctions: {
        '54': { recipe: 'convert', options: { format: 'png' } },
        '55': { recipe: 'adcreative-photoshoot', options: { prompts: ['{productCode} on marble'] } },
      },
    });
  const receiverEnv = { ACME_HOOK: secret };

  it('loads what the receiver reads without the variables of anything else; those values are absent', () => {
    const [c] = parseConnections({ connections: [withWorkerSecrets()] }, recipes, receiverEnv, receiver);
    expect(c).toEqual({
      id: 'acme',
      name: 'Acme Studio',
      creativeForce: { webhookSecrets: [secret], signatureScheme: 'auto' },
      stepIds: [25, 40],
      subfunctions: {
        '54': {
          recipe: 'convert',
          routes: [{ stages: [{ recipe: 'convert', options: { format: 'png', quality: 90, stripMetadata: true } }] }],
          checks: { refuseBlank: true },
        },
        '55': {
          recipe: 'adcreative-photoshoot',
          routes: [
            {
              stages: [
                { recipe: 'adcreative-photoshoot', options: expect.objectContaining({ prompts: ['{productCode} on marble'] }) },
              ],
            },
          ],
          checks: { refuseBlank: true },
        },
      },
    });
    expect(c && isFullConnection(c)).toBe(false);
    expect(Object.isFrozen(c?.creativeForce)).toBe(true);
  });

  it('the same entry in full needs every variable and gives the workers every credential', () => {
    expect(() => parseConnections({ connections: [withWorkerSecrets()] }, recipes, receiverEnv)).toThrow(
      'connection "acme": connection.creativeForce.clientId references ${ACME_ID}, which is not set',
    );
    const all = { ...env, ACME_ADC_APP: 'app', ACME_ADC_KEY: 'key', ACME_ADC_API_KEY: 'api', ACME_ADC_API_SECRET: 'shh' };
    const [c] = parseConnections({ connections: [withWorkerSecrets()] }, recipes, all, { scope: 'full' });
    expect(c?.creativeForce).toEqual({
      clientId: 'client-1',
      clientSecret: 'shh',
      webhookSecrets: [secret],
      signatureScheme: 'auto',
    });
    expect(c?.adcreative).toMatchObject({ applicationId: 'app', apiSecret: 'shh' });
    expect(c && isFullConnection(c)).toBe(true);
  });

  it('still requires and validates everything the receiver reads', () => {
    const parse = (entry: Record<string, unknown>, vars: Record<string, string> = receiverEnv) =>
      parseConnections({ connections: [entry] }, recipes, vars, receiver);
    expect(() => parse(studio(), {})).toThrow(
      'connection "acme": connection.creativeForce.webhookSecrets[0] references ${ACME_HOOK}, which is not set',
    );
    const badSecret = studio({ creativeForce: { clientId: '${ACME_ID}', webhookSecrets: ['not base64 at all!'] } });
    expect(() => parse(badSecret)).toThrow(/connection "acme": creativeForce\.webhookSecrets\.0: must be Base64/);
    const badScheme = studio({ creativeForce: { webhookSecrets: [secret], signatureScheme: 'md5' } });
    expect(() => parse(badScheme)).toThrow(/connection "acme": creativeForce\.signatureScheme:/);
    expect(() => parse(studio({ name: '' }))).toThrow(/connection "acme": name:/);
    expect(() => parse(studio({ id: 'Bad Id' }))).toThrow(/connection "Bad Id": id:/);
    expect(() => parse(studio({ stepIds: [] }))).toThrow(/connection "acme": stepIds:/);
    expect(() => parse(studio({ subfunctions: { '54': { recipe: 'magic' } } }))).toThrow(
      /subfunctions\.54\.recipe: unknown recipe "magic"/,
    );
    expect(() => parse(studio({ subfunctions: { '54': { recipe: 'convert', options: { format: 'gif' } } } }))).toThrow(
      /connection "acme": subfunctions\.54\.options\.format/,
    );
    expect(() => parse(studio({ subfunctions: { abc: { recipe: 'convert' } } }))).toThrow(
      /connection "acme": subfunctions\.abc: /,
    );
  });

  it("keeps each subfunction's webhook secrets with the receiver scope", () => {
    const entry = studio({
      creativeForce: { clientId: '${ACME_ID}', clientSecret: '${ACME_SECRET}' },
      subfunctions: { '54': { recipe: 'convert', webhookSecrets: ['${ACME_HOOK}'] } },
    });
    const [c] = parseConnections({ connections: [entry] }, recipes, receiverEnv, receiver);
    expect(c?.creativeForce).toEqual({ signatureScheme: 'b64key-sha256-base64' });
    expect(c?.subfunctions['54']?.webhookSecrets).toEqual([secret]);
  });

  it('reads the file from disk with the receiver scope', async () => {
    const { file } = await connectionsFile([
      '    sartiq: { email: ${ACME_SARTIQ_EMAIL}, password: ${ACME_SARTIQ_PASSWORD} }',
      '    subfunctions:',
      '      "54": { recipe: sartiq-upscale, options: { scaleFactor: 4 } }',
    ]);
    const [c] = await loadConnectionsFile(file, recipes, receiverEnv, receiver);
    expect(c?.creativeForce).toEqual({ webhookSecrets: [secret], signatureScheme: 'b64key-sha256-base64' });
    expect(c?.subfunctions['54']?.routes).toMatchObject([
      { stages: [{ recipe: 'sartiq-upscale', options: { scaleFactor: 4 } }] },
    ]);
    expect(c && 'sartiq' in c).toBe(false);
    await expect(loadConnectionsFile(file, recipes, receiverEnv)).rejects.toThrow(/references \$\{ACME_ID\}, which is not set/);
  });

  it('workers refuse connections loaded for the receiver only, before connecting anywhere', async () => {
    const connections = parseConnections({ connections: [studio()] }, recipes, receiverEnv, receiver);
    const options = { config: loadEnvConfig({}), connections, recipes, logger: pino({ level: 'silent' }) };
    await expect(buildService({ ...options, mode: 'work' })).rejects.toThrow(
      'connection "acme" was loaded for the receiver only; mode work runs workers, which need it in full',
    );
    await expect(buildService({ ...options, mode: 'start' })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });
});
