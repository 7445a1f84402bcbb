/** The Adobe Firefly provider: its connection section, environment settings, client and recipe. */
import { z } from 'zod';
import { httpUrlSetting, intSetting } from '../../config/env-settings.ts';
import { defineProviderModule } from '../provider-module.ts';
import { BatchGatherer } from './batch-gatherer.ts';
import { FireflyClient } from './client.ts';
import {
  defaultFireflyBaseUrl,
  defaultFireflyImsTokenUrl,
  defaultFireflyInputStorageType,
  defaultFireflyRequestTimeoutMs,
  defaultFireflyScope,
  defaultFireflyStartClockSkewMs,
  type FireflyConfig,
} from './config.ts';
import { fireflyProvider } from './errors.ts';
import { FireflyTokenStore } from './token-store.ts';
import { type FireflyProvider, workflowRecipe } from './workflow-recipe.ts';

export const fireflyModule = defineProviderModule({
  id: fireflyProvider,
  label: 'Adobe Firefly',
  /** The `firefly` section of a connection: Developer Console OAuth Server-to-Server credentials, for firefly-workflow. */
  credentialsSchema: z.object({
    clientId: z.string().min(1),
    clientSecret: z.string().min(1),
    orgId: z.string().min(1),
    /** Sent as x-gw-ims-user-id; which value Adobe expects for S2S credentials is undocumented. */
    userId: z.string().min(1),
  }),
  /** A guess to confirm (docs/providers/firefly.md, "Result hosts"): the storage hosts Adobe supports for inputs. */
  resultHosts: ['*.amazonaws.com', '*.blob.core.windows.net', '*.adobe.io', 'storage.googleapis.com', '*.dropboxusercontent.com'],
  environment: {
    variables: {
      FIREFLY_API_BASE_URL: httpUrlSetting.default(defaultFireflyBaseUrl),
      FIREFLY_IMS_TOKEN_URL: httpUrlSetting.default(defaultFireflyImsTokenUrl),
      FIREFLY_REQUEST_TIMEOUT_MS: intSetting(1_000, 600_000).default(defaultFireflyRequestTimeoutMs),
      /** Comma- or space-separated scopes, sent as written. */
      FIREFLY_IMS_SCOPE: z
        .string()
        .trim()
        .regex(/^[\w.:-]+([\s,]+[\w.:-]+)*$/, 'must be scope names separated by commas or spaces')
        .default(defaultFireflyScope),
      FIREFLY_INPUT_STORAGE_TYPE: z
        .string()
        .regex(/^\w+$/, 'must be letters, digits or _')
        .default(defaultFireflyInputStorageType),
      FIREFLY_START_CLOCK_SKEW_MS: intSetting(0, 3_600_000).default(defaultFireflyStartClockSkewMs),
    },
    config: (e): FireflyConfig => ({
      baseUrl: e.FIREFLY_API_BASE_URL.replace(/\/+$/, ''),
      imsTokenUrl: e.FIREFLY_IMS_TOKEN_URL,
      scope: e.FIREFLY_IMS_SCOPE,
      inputStorageType: e.FIREFLY_INPUT_STORAGE_TYPE,
      requestTimeoutMs: e.FIREFLY_REQUEST_TIMEOUT_MS,
      startClockSkewMs: e.FIREFLY_START_CLOCK_SKEW_MS,
    }),
  },
  shared: ({ redis, config, logger, keyPrefix }) => ({
    tokens: new FireflyTokenStore({ redis, config, logger, keyPrefix: `${keyPrefix}:firefly-token` }),
    batches: new BatchGatherer({ redis, keyPrefix: `${keyPrefix}:ff`, logger }),
  }),
  create: ({ connectionId, credentials, config, shared, results, logger }): FireflyProvider => ({
    client: new FireflyClient({ connectionId, credentials, config, tokens: shared.tokens, results, logger }),
    batches: shared.batches,
  }),
  recipes: [workflowRecipe],
  /** The IMS request tests clientId and clientSecret; orgId and userId go only with API calls. */
  testCredentials: ({ connectionId, credentials, shared, signal }) =>
    shared.tokens.requestToken({ id: connectionId, ...credentials }, signal),
});
