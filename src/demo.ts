/**
 * `cf-ai-connector demo`: one full Cloud Automation cycle against the built-in Creative Force
 * simulator. Starts what it needs (a Redis as in CI when none answers, the simulator with a
 * sample studio and task, the service), sends a signed webhook, prints each step as it happens,
 * writes the submitted images to ./demo-output, and exits 0 when the submission was accepted.
 * `adcreative` runs an AdCreative.ai photoshoot against its simulator; `pipeline` and `video` are
 * the worked examples 1 and 2 of docs/recipes.md against the Sartiq simulator.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';
import sharp from 'sharp';
import { loadConnectionsFile } from './config/connections.ts';
import { loadEnvConfig } from './config/env.ts';
import { OutputResultType } from './creative-force/index.ts';
import { createLogger } from './observability/logger.ts';
import { createRecipeRegistry } from './providers/index.ts';
import { webhookPath } from './receiver/webhook-url.ts';
import { buildService } from './service.ts';
import {
  AdCreativeSimulator,
  CreativeForceSimulator,
  SartiqSimulator,
  sampleImage,
  type TaskScenario,
} from './simulators/index.ts';
import { sleep } from './sleep.ts';

const say = (line: string) => process.stdout.write(`${line}\n`);

export type DemoVariant = 'convert' | 'adcreative' | 'rework' | 'pipeline' | 'video';

const demoStudioYaml = `connections:
  - id: demo-studio
    name: Demo Studio
    creativeForce:
      clientId: \${DEMO_CF_CLIENT_ID}
      clientSecret: \${DEMO_CF_CLIENT_SECRET}
      webhookSecrets: [\${DEMO_CF_WEBHOOK_SECRET}]
      signatureScheme: auto
`;

const sartiqSection = `    sartiq:
      email: \${DEMO_SARTIQ_EMAIL}
      password: \${DEMO_SARTIQ_PASSWORD}
      resultHosts: ["127.0.0.1"]
`;

/** The subfunction of each variant, and what the demo says about it. */
const variants: Record<DemoVariant, { yaml: string; describe: string }> = {
  convert: {
    yaml: `    subfunctions:
      "54": { recipe: convert, options: { format: jpeg, quality: 85, maxWidth: 1200 } }
`,
    describe: 'recipe "convert": JPEG, quality 85, at most 1200 px wide',
  },
  adcreative: {
    yaml: `    adcreative:
      applicationId: \${DEMO_ADC_APPLICATION_ID}
      jwtPrivateKey: \${DEMO_ADC_JWT_PRIVATE_KEY}
      apiKey: \${DEMO_ADC_API_KEY}
      apiSecret: \${DEMO_ADC_API_SECRET}
      userId: \${DEMO_ADC_USER_ID}
    subfunctions:
      "54":
        recipe: adcreative-photoshoot
        options:
          prompts: ["{productCode} on a marble table in soft light", "{productCode} on a beach at sunset"]
          pollIntervalMs: 300
`,
    describe: 'recipe "adcreative-photoshoot" against the AdCreative.ai simulator',
  },
  rework: {
    yaml: `${sartiqSection}    subfunctions:
      "54":
        recipe: sartiq-edit
        options: { prompt: "retouch {productCode}, keep the colours", pollIntervalMs: 300 }
`,
    describe: 'recipe "sartiq-edit" against the Sartiq simulator, on a rework with a reviewer annotation',
  },
  // docs/recipes.md, worked example 1.
  pipeline: {
    yaml: `${sartiqSection}    subfunctions:
      "54":
        pipeline:
          - recipe: sartiq-generate
            options: { shotTypeByPosition: { Front: front_full_body, Back: back_full_body }, pollIntervalMs: 300 }
          - recipe: sartiq-upscale
            options: { scaleFactor: 2, pollIntervalMs: 300 }
          - recipe: convert
            options: { format: jpeg, quality: 90, maxWidth: 2000, maxHeight: 2000 }
`,
    describe: 'pipeline sartiq-generate → sartiq-upscale → convert (2000 px sRGB JPEG) against the Sartiq simulator',
  },
  // docs/recipes.md, worked example 2.
  video: {
    yaml: `${sartiqSection}    subfunctions:
      "54":
        route:
          - when: { contentType: video }
            from: { slot: { position: Front } }
            recipe: sartiq-video
            options:
              prompt: "the model turns slowly towards the camera"
              subjectId: 6f1c0a52-2d4b-4c11-9a0e-3b7d5e9f1a20
              productId: 0d9b7c3e-8a14-4f6b-b2c5-71e0a4d3c986
              styleId: a3e5f7b9-1c2d-4e6f-8a9b-0c1d2e3f4a5b
              shotType: front_full_body
              pollIntervalMs: 300
          - recipe: sartiq-generate
            options: { shotTypeByPosition: { Front: front_full_body, Back: back_full_body }, pollIntervalMs: 300 }
`,
    describe: 'routes: the photo slots by sartiq-generate, the video slot by sartiq-video from the generated front still',
  },
};

/** Whether a variant needs the Sartiq simulator. */
const usesSartiq = (variant: DemoVariant) => variant === 'rework' || variant === 'pipeline' || variant === 'video';

/** The rework variant's task: 1_Front's output rejected, with the reviewer's comment and marking; 2_Back's kept. */
async function reworkState(): Promise<Pick<TaskScenario, 'outputAssets' | 'annotations'>> {
  const rejected = randomUUID();
  return {
    outputAssets: [
      { assetId: rejected, mappingKeyId: '1_Front', isRejected: true },
      { assetId: randomUUID(), mappingKeyId: '2_Back' },
    ],
    annotations: [
      {
        assetId: rejected,
        comment: 'Remove the crease on the left sleeve',
        marking: {
          fileName: 'marking.png',
          body: await sampleImage({ width: 600, height: 800, format: 'png', color: '#ff0000' }),
        },
      },
    ],
  };
}

/** Starts the Sartiq simulator with an account; returns the env entries the yaml references. */
async function startSartiq(): Promise<{ sim: SartiqSimulator; env: Record<string, string> }> {
  const sim = await SartiqSimulator.start({ predictionDurationMs: 1_500 });
  const account = { email: 'demo@studio.example', password: randomBytes(16).toString('hex') };
  sim.addAccount(account);
  say(`- Sartiq simulator on ${sim.baseUrl}`);
  return {
    sim,
    env: {
      SARTIQ_API_BASE_URL: sim.baseUrl,
      // The simulator serves its results on 127.0.0.1 (off in production).
      PROVIDER_RESULT_ALLOW_LOOPBACK: 'true',
      DEMO_SARTIQ_EMAIL: account.email,
      DEMO_SARTIQ_PASSWORD: account.password,
    },
  };
}

async function redisAnswers(url: string): Promise<boolean> {
  const probe = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 1000,
  });
  probe.on('error', () => {});
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? res(address.port) : rej(new Error('no port'))));
    });
  });
}

/** Uses REDIS_URL when it answers, else starts a throw-away redis-server like CI does. */
async function ensureRedis(): Promise<{ url: string; child?: ChildProcess }> {
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  if (await redisAnswers(url)) return { url };
  const port = await freePort();
  say(`- no Redis at ${url}; starting redis-server on port ${port}`);
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  const local = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 50; i++) {
    if (await redisAnswers(local)) return { url: local, child };
    await sleep(100);
  }
  child.kill();
  throw new Error('redis-server did not start; install it (apt-get install redis-server) or set REDIS_URL');
}

/** Starts the AdCreative.ai simulator with an application; returns the env entries the yaml references. */
async function startAdCreative(): Promise<{ sim: AdCreativeSimulator; env: Record<string, string> }> {
  const sim = await AdCreativeSimulator.start({ taskDurationMs: 2_000 });
  const application = {
    applicationId: randomUUID(),
    jwtPrivateKey: randomBytes(32).toString('hex'),
    apiKey: randomBytes(16).toString('hex'),
    apiSecret: randomBytes(16).toString('hex'),
  };
  sim.addApplication(application);
  say(`- AdCreative.ai simulator on ${sim.baseUrl}`);
  return {
    sim,
    env: {
      ADCREATIVE_API_BASE_URL: sim.baseUrl,
      DEMO_ADC_APPLICATION_ID: application.applicationId,
      DEMO_ADC_JWT_PRIVATE_KEY: application.jwtPrivateKey,
      DEMO_ADC_API_KEY: application.apiKey,
      DEMO_ADC_API_SECRET: application.apiSecret,
      DEMO_ADC_USER_ID: randomUUID(),
    },
  };
}

/** The video slot of `demo video`. */
const videoSlot = {
  mappingKeyId: '3_Video',
  positionName: 'Front',
  assetContentTypeId: 2 as const,
  isRequired: true,
  minQuantity: 1,
};

export async function runDemo(variant: DemoVariant = 'convert'): Promise<number> {
  const outDir = resolve('demo-output');
  const redis = await ensureRedis();
  const sim = await CreativeForceSimulator.start();
  const adcreative = variant === 'adcreative' ? await startAdCreative() : undefined;
  const sartiq = usesSartiq(variant) ? await startSartiq() : undefined;
  const secret = randomBytes(32).toString('base64');
  const app = { clientId: 'demo-client', clientSecret: randomBytes(16).toString('hex') };
  sim.addApp(app);
  const task = sim.addTask({
    productCode: 'AW2130146',
    inputs: [
      {
        positionName: 'Front',
        fileName: 'AW2130146_front.tif',
        body: await sampleImage({ width: 3000, height: 4000, format: 'tiff', label: 'Front' }),
      },
      {
        positionName: 'Back',
        fileName: 'AW2130146_back.jpg',
        body: await sampleImage({ width: 3000, height: 4000, format: 'jpeg', label: 'Back' }),
      },
    ],
    slots: [
      {
        mappingKeyId: '1_Front',
        positionName: 'Front',
        isRequired: true,
        minQuantity: 1,
        maxQuantity: 1,
        isAlternativeAllowed: variant === 'adcreative',
        maxAlternative: 3,
      },
      { mappingKeyId: '2_Back', positionName: 'Back', isRequired: false, minQuantity: 0, maxQuantity: 1 },
      ...(variant === 'video' ? [videoSlot] : []),
    ],
    ...(variant === 'rework' ? await reworkState() : {}),
  });
  say(
    `- Creative Force simulator on ${sim.baseUrl}; task process ${task.taskProcessId} with slots 1_Front (required), 2_Back (optional)${variant === 'video' ? ' and 3_Video (a video, required)' : ''}`,
  );

  const env = {
    ...process.env,
    REDIS_URL: redis.url,
    HOST: '127.0.0.1',
    PORT: '0',
    CF_API_BASE_URL: sim.apiBaseUrl,
    CF_TOKEN_URL: sim.tokenUrl,
    QUEUE_PREFIX: `{cfc-demo-${randomUUID().slice(0, 8)}}`,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    DEMO_CF_CLIENT_ID: app.clientId,
    DEMO_CF_CLIENT_SECRET: app.clientSecret,
    DEMO_CF_WEBHOOK_SECRET: secret,
    ...adcreative?.env,
    ...sartiq?.env,
  };
  const config = loadEnvConfig(env);
  const recipes = createRecipeRegistry();
  // The same path a studio's file takes: YAML with ${ENV} references for the secrets.
  const connectionsFile = join(tmpdir(), `cf-ai-connector-demo-${process.pid}.yaml`);
  await writeFile(connectionsFile, demoStudioYaml + variants[variant].yaml);
  const connections = await loadConnectionsFile(connectionsFile, recipes, env);
  await rm(connectionsFile, { force: true });
  const started = Date.now();
  const service = await buildService({
    config,
    connections,
    recipes,
    mode: 'start',
    logger: createLogger(config.logLevel),
    onStep: ({ step, resumed }) =>
      say(`  [${((Date.now() - started) / 1000).toFixed(2)}s] ${step}${resumed ? ' (resumed from checkpoint)' : ''}`),
  });
  let code = 1;
  try {
    const port = await service.start();
    const url = `http://127.0.0.1:${port}${webhookPath('demo-studio')}`;
    say(`- service listening on ${url} (${variants[variant].describe})`);
    say('- sending a signed ReadyToWork, as Creative Force does when the task reaches the step:');
    const answer = await sim.sendWebhook(url, task.taskProcessId, secret);
    say(`  the service answered ${answer.status} ${JSON.stringify(answer.body)}`);
    const deadline = Date.now() + 120_000;
    while (
      sim.submissions(task.taskProcessId).length === 0 &&
      sim.statusUpdates(task.taskProcessId).length === 0 &&
      Date.now() < deadline
    ) {
      await sleep(100);
    }
    const [submission] = sim.submissions(task.taskProcessId);
    const failure = sim.statusUpdates(task.taskProcessId)[0];
    if (!submission) {
      say(failure ? `- FAILED: Creative Force was told "${failure.message}"` : '- FAILED: no submission within 120 s');
      return 1;
    }
    await rm(outDir, { recursive: true, force: true });
    await mkdir(outDir, { recursive: true });
    say('- Submit Output accepted by Creative Force:');
    for (const slot of submission.body.submitAssets) {
      if (slot.assets.length === 0) say(`  ${slot.mappingKeyId}: (empty)`);
      for (const [i, asset] of slot.assets.entries()) {
        const object = sim.uploadedObject(asset.assetId);
        if (!object) {
          if (asset.outputResultTypeId === OutputResultType.KeepOldAsset) say(`  ${slot.mappingKeyId}: kept as it was`);
          continue;
        }
        if (object.contentType.startsWith('video/')) {
          const file = join(outDir, `${slot.mappingKeyId}-${i + 1}.mp4`);
          await writeFile(file, object.body);
          say(`  ${slot.mappingKeyId}: ${object.contentType}, ${object.body.length} bytes -> ${file}`);
          continue;
        }
        const meta = await sharp(object.body).metadata();
        const file = join(outDir, `${slot.mappingKeyId}-${i + 1}.${meta.format === 'jpeg' ? 'jpg' : meta.format}`);
        await writeFile(file, object.body);
        say(`  ${slot.mappingKeyId}: ${meta.format} ${meta.width}x${meta.height}, ${object.body.length} bytes -> ${file}`);
      }
    }
    for (const generation of sartiq?.sim.generations() ?? []) {
      const references = (generation.body.reference_images as string[] | undefined) ?? [];
      say(`- Sartiq ${generation.endpoint} received prompt "${String(generation.body.prompt)}"`);
      for (const reference of references) {
        const bytes = await sartiq?.sim.fileAt(reference);
        say(`  and a reference image: the reviewer's marking, uploaded (${bytes?.length ?? 0} bytes)`);
      }
    }
    say(
      `- done in ${((Date.now() - started) / 1000).toFixed(1)} s; ${sim.callLog().length} Creative Force calls, at most ${sim.maxRequestsInWindow(1000)} in any second`,
    );
    code = 0;
  } finally {
    await service.queue.queue.obliterate({ force: true }).catch(() => {});
    await service.stop();
    await sim.close();
    await adcreative?.sim.close();
    if (sartiq) {
      const made = sartiq.sim
        .generations()
        .map((g) =>
          typeof g.body.prediction_id === 'string' ? `${g.endpoint} from prediction ${g.body.prediction_id}` : g.endpoint,
        );
      say(`- Sartiq was asked for ${made.length} generations (${made.join(', ')})`);
      await sartiq.sim.close();
    }
    redis.child?.kill();
  }
  return code;
}
