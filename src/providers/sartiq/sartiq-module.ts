/** The Sartiq provider: its connection section, environment settings, client and recipes. */
import { z } from 'zod';
import { fieldNameSetting, httpUrlSetting, intSetting, namePairsSetting, wordListSetting } from '../../config/env-settings.ts';
import { ConnectorError } from '../../errors.ts';
import { defineProviderModule } from '../provider-module.ts';
import { StartClaims } from '../start-claims.ts';
import { SartiqClient } from './client.ts';
import {
  defaultSartiqBaseUrl,
  defaultSartiqLostStarts,
  defaultSartiqStatuses,
  defaultSartiqUploadFields,
  type SartiqConfig,
  type SartiqStatusWords,
  sartiqStartKinds,
} from './config.ts';
import { sartiqProvider } from './errors.ts';
import { sartiqRecipes } from './recipes.ts';
import { SartiqTokenStore } from './token-store.ts';

const statuses = defaultSartiqStatuses;
const lostStarts = defaultSartiqLostStarts;

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
      SARTIQ_UPLOAD_FILENAME_FIELD: fieldNameSetting.default(defaultSartiqUploadFields.fileName),
      SARTIQ_UPLOAD_CONTENT_TYPE_FIELD: fieldNameSetting.default(defaultSartiqUploadFields.contentType),
      SARTIQ_GENERATION_COMPLETED_STATUSES: wordListSetting(statuses.generation.completed),
      SARTIQ_GENERATION_FAILED_STATUSES: wordListSetting(statuses.generation.failed),
      SARTIQ_PREDICTION_COMPLETED_STATUSES: wordListSetting(statuses.prediction.completed),
      SARTIQ_PREDICTION_FAILED_STATUSES: wordListSetting(statuses.prediction.failed),
      SARTIQ_REFINE_COMPLETED_STATUSES: wordListSetting(statuses.refine.completed),
      SARTIQ_REFINE_FAILED_STATUSES: wordListSetting(statuses.refine.failed),
      SARTIQ_AGENTIC_COMPLETED_STATUSES: wordListSetting(statuses.agentic.completed),
      SARTIQ_AGENTIC_FAILED_STATUSES: wordListSetting(statuses.agentic.failed),
      SARTIQ_START_CLOCK_SKEW_MS: intSetting(0, 3_600_000).default(lostStarts.clockSkewMs),
      /** `kind=field` pairs; an empty field says no field shows that kind's input. */
      SARTIQ_INPUT_FIELDS: namePairsSetting(sartiqStartKinds, lostStarts.inputFields, z.union([z.literal(''), fieldNameSetting])),
      SARTIQ_GENERATION_STRATEGIES: namePairsSetting(sartiqStartKinds, lostStarts.strategies, fieldNameSetting),
    },
    config: (e): SartiqConfig => {
      if (e.SARTIQ_UPLOAD_FILENAME_FIELD === e.SARTIQ_UPLOAD_CONTENT_TYPE_FIELD) {
        throw new ConnectorError(
          'CONFIG_INVALID',
          'invalid environment: SARTIQ_UPLOAD_FILENAME_FIELD and SARTIQ_UPLOAD_CONTENT_TYPE_FIELD name the same field',
        );
      }
      return {
        baseUrl: e.SARTIQ_API_BASE_URL.replace(/\/+$/, ''),
        requestTimeoutMs: e.SARTIQ_REQUEST_TIMEOUT_MS,
        uploadFields: { fileName: e.SARTIQ_UPLOAD_FILENAME_FIELD, contentType: e.SARTIQ_UPLOAD_CONTENT_TYPE_FIELD },
        statuses: {
          generation: statusWords('GENERATION', e.SARTIQ_GENERATION_COMPLETED_STATUSES, e.SARTIQ_GENERATION_FAILED_STATUSES),
          prediction: statusWords('PREDICTION', e.SARTIQ_PREDICTION_COMPLETED_STATUSES, e.SARTIQ_PREDICTION_FAILED_STATUSES),
          refine: statusWords('REFINE', e.SARTIQ_REFINE_COMPLETED_STATUSES, e.SARTIQ_REFINE_FAILED_STATUSES),
          agentic: statusWords('AGENTIC', e.SARTIQ_AGENTIC_COMPLETED_STATUSES, e.SARTIQ_AGENTIC_FAILED_STATUSES),
        },
        lostStarts: {
          clockSkewMs: e.SARTIQ_START_CLOCK_SKEW_MS,
          inputFields: e.SARTIQ_INPUT_FIELDS,
          strategies: e.SARTIQ_GENERATION_STRATEGIES,
        },
      };
    },
  },
  shared: ({ redis, config, logger, keyPrefix }) => ({
    tokens: new SartiqTokenStore({ redis, config, logger, keyPrefix: `${keyPrefix}:sartiq-token` }),
    claims: new StartClaims({ redis, keyPrefix: `${keyPrefix}:start-claims` }),
  }),
  create: ({ connectionId, credentials, config, shared, results, logger }) =>
    new SartiqClient({ connectionId, credentials, config, tokens: shared.tokens, claims: shared.claims, results, logger }),
  recipes: sartiqRecipes,
  testCredentials: ({ connectionId, credentials, shared, signal }) =>
    shared.tokens.requestToken({ id: connectionId, ...credentials }, signal),
});

/** The words of SARTIQ_<kind>_COMPLETED_STATUSES and _FAILED_STATUSES; a word in both is refused. */
function statusWords(kind: string, completed: string[], failed: string[]): SartiqStatusWords {
  const both = completed.filter((word) => failed.some((other) => other.toLowerCase() === word.toLowerCase()));
  if (both.length > 0) {
    throw new ConnectorError(
      'CONFIG_INVALID',
      `invalid environment: SARTIQ_${kind}_COMPLETED_STATUSES and SARTIQ_${kind}_FAILED_STATUSES both list ${both.join(', ')}`,
    );
  }
  return { completed, failed };
}
