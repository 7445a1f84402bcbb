/** The Sartiq provider: its connection section, environment settings, client and recipes. */
import { z } from 'zod';
import { httpUrlSetting, intSetting } from '../../config/env-settings.ts';
import { defineProviderModule } from '../provider-module.ts';
import { SartiqClient } from './client.ts';
import { defaultSartiqBaseUrl, type SartiqConfig } from './config.ts';
import { sartiqProvider } from './errors.ts';
import { sartiqRecipes } from './recipes.ts';
import { SartiqTokenStore } from './token-store.ts';

export const sartiqModule = defineProviderModule({
  id: sartiqProvider,
  label: 'Sartiq',
  /** The `sartiq` section of a connection: a service account (password grant), for the sartiq-* recipes. */
  credentialsSchema: z.object({
    email: z.string().min(3),
    password: z.string().min(1),
    organizationId: z.string().min(1).optional(),
  }),
  /** A guess to confirm (docs/providers/sartiq.md, "Result hosts"): results are on Cloudflare R2 behind a CDN. */
  resultHosts: ['*.sartiq.com', '*.r2.cloudflarestorage.com', '*.r2.dev'],
  environment: {
    variables: {
      SARTIQ_API_BASE_URL: httpUrlSetting.default(defaultSartiqBaseUrl),
      SARTIQ_REQUEST_TIMEOUT_MS: intSetting(1_000, 600_000).default(120_000),
    },
    config: (e): SartiqConfig => ({
      baseUrl: e.SARTIQ_API_BASE_URL.replace(/\/+$/, ''),
      requestTimeoutMs: e.SARTIQ_REQUEST_TIMEOUT_MS,
    }),
  },
  shared: ({ redis, config, logger, keyPrefix }) => ({
    tokens: new SartiqTokenStore({ redis, config, logger, keyPrefix: `${keyPrefix}:sartiq-token` }),
  }),
  create: ({ connectionId, credentials, config, shared, results, logger }) =>
    new SartiqClient({ connectionId, credentials, config, tokens: shared.tokens, results, logger }),
  recipes: sartiqRecipes,
});
