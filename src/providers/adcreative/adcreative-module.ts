/** The AdCreative.ai provider: its connection section, environment settings, client and recipes. */
import { z } from 'zod';
import { httpUrlSetting, intSetting, pathSetting } from '../../config/env-settings.ts';
import { defineProviderModule } from '../provider-module.ts';
import { AdCreativeClient } from './client.ts';
import { type AdCreativeConfig, defaultAdCreativeBaseUrl, defaultAdCreativePaths } from './config.ts';
import { adCreativeProvider } from './errors.ts';
import { backgroundRemoveRecipe, faceEnhanceRecipe, upscaleRecipe } from './image-jobs.ts';
import { AdCreativeJwtStore } from './jwt-store.ts';
import { photoshootRecipe } from './photoshoot.ts';

export const adCreativeModule = defineProviderModule({
  id: adCreativeProvider,
  label: 'AdCreative.ai',
  /** The `adcreative` section of a connection, for the adcreative-* recipes. */
  credentialsSchema: z.object({
    applicationId: z.string().min(1),
    jwtPrivateKey: z.string().min(1),
    apiKey: z.string().min(1),
    apiSecret: z.string().min(1),
    userId: z.string().min(1),
  }),
  environment: {
    variables: {
      ADCREATIVE_API_BASE_URL: httpUrlSetting.default(defaultAdCreativeBaseUrl),
      ADCREATIVE_REQUEST_TIMEOUT_MS: intSetting(1_000, 600_000).default(120_000),
      ADCREATIVE_PATH_REFRESH_JWT: pathSetting.default(defaultAdCreativePaths.refreshJwt),
      ADCREATIVE_PATH_BACKGROUND_REMOVE_DOWNLOAD: pathSetting.default(defaultAdCreativePaths.backgroundRemove.download),
      ADCREATIVE_PATH_UPSCALE_PROGRESS: pathSetting.default(defaultAdCreativePaths.upscale.checkUserProgress),
      ADCREATIVE_PATH_UPSCALE_DOWNLOAD: pathSetting.default(defaultAdCreativePaths.upscale.download),
      ADCREATIVE_PATH_FACE_ENHANCE_DOWNLOAD: pathSetting.default(defaultAdCreativePaths.faceEnhance.download),
      ADCREATIVE_IMAGE_JOB_PROCESS_ID_PARAM: z
        .string()
        .regex(/^\w+$/)
        .default(defaultAdCreativePaths.backgroundRemove.processIdParam),
    },
    config: (e): AdCreativeConfig => ({
      baseUrl: e.ADCREATIVE_API_BASE_URL.replace(/\/+$/, ''),
      requestTimeoutMs: e.ADCREATIVE_REQUEST_TIMEOUT_MS,
      paths: {
        ...defaultAdCreativePaths,
        refreshJwt: e.ADCREATIVE_PATH_REFRESH_JWT,
        backgroundRemove: {
          ...defaultAdCreativePaths.backgroundRemove,
          download: e.ADCREATIVE_PATH_BACKGROUND_REMOVE_DOWNLOAD,
          processIdParam: e.ADCREATIVE_IMAGE_JOB_PROCESS_ID_PARAM,
        },
        upscale: {
          ...defaultAdCreativePaths.upscale,
          checkUserProgress: e.ADCREATIVE_PATH_UPSCALE_PROGRESS,
          download: e.ADCREATIVE_PATH_UPSCALE_DOWNLOAD,
          processIdParam: e.ADCREATIVE_IMAGE_JOB_PROCESS_ID_PARAM,
        },
        faceEnhance: {
          ...defaultAdCreativePaths.faceEnhance,
          download: e.ADCREATIVE_PATH_FACE_ENHANCE_DOWNLOAD,
          processIdParam: e.ADCREATIVE_IMAGE_JOB_PROCESS_ID_PARAM,
        },
      },
    }),
  },
  shared: ({ redis, config, logger, keyPrefix }) => ({
    jwt: new AdCreativeJwtStore({ redis, config, logger, keyPrefix: `${keyPrefix}:adc-jwt` }),
  }),
  create: ({ connectionId, credentials, config, shared, logger }) =>
    new AdCreativeClient({ connectionId, credentials, config, jwt: shared.jwt, logger }),
  recipes: [photoshootRecipe, backgroundRemoveRecipe, upscaleRecipe, faceEnhanceRecipe],
});
