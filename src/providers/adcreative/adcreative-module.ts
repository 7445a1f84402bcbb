/** The AdCreative.ai provider: its connection section, environment settings, client and recipes. */
import { z } from 'zod';
import { httpUrlSetting, intSetting, pathSetting } from '../../config/env-settings.ts';
import { defineProviderModule } from '../provider-module.ts';
import { StartClaims } from '../start-claims.ts';
import { AdCreativeClient } from './client.ts';
import {
  type AdCreativeConfig,
  type AdCreativeImageJobNames,
  defaultAdCreativeBaseUrl,
  defaultAdCreativePaths,
  defaultImageJobNames,
  type ImageJobNameKey,
  imageJobNameKeys,
} from './config.ts';
import { adCreativeProvider } from './errors.ts';
import { backgroundRemoveRecipe, faceEnhanceRecipe, upscaleRecipe } from './image-jobs.ts';
import { AdCreativeJwtStore } from './jwt-store.ts';
import { photoshootRecipe } from './photoshoot.ts';

/** A form field or query parameter name as ASP.NET binds them. */
const wireName = z.string().regex(/^\w+$/, 'must be letters, digits or _');

/**
 * ADCREATIVE_IMAGE_JOB_NAMES: comma-separated `name=sent` pairs renaming some of imageJobNameKeys,
 * e.g. `uploadedImage=image,taskId=renderTaskId`; the others keep their own name.
 */
const imageJobNamesSetting = z
  .string()
  .default('')
  .transform((text, ctx): AdCreativeImageJobNames => {
    const names: Record<ImageJobNameKey, string> = { ...defaultImageJobNames };
    for (const pair of text
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean)) {
      const [key = '', sent = '', ...rest] = pair.split('=').map((part) => part.trim());
      if (!(imageJobNameKeys as readonly string[]).includes(key) || rest.length > 0 || !wireName.safeParse(sent).success) {
        ctx.addIssue({
          code: 'custom',
          message: `"${pair}" is not name=sent with name one of ${imageJobNameKeys.join(', ')} and sent made of letters, digits or _`,
        });
        continue;
      }
      names[key as ImageJobNameKey] = sent;
    }
    return names;
  });

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
      ADCREATIVE_PATH_BACKGROUND_REMOVE_START: pathSetting.default(defaultAdCreativePaths.backgroundRemove.start),
      ADCREATIVE_PATH_BACKGROUND_REMOVE_PROGRESS: pathSetting.default(defaultAdCreativePaths.backgroundRemove.checkUserProgress),
      ADCREATIVE_PATH_BACKGROUND_REMOVE_DOWNLOAD: pathSetting.default(defaultAdCreativePaths.backgroundRemove.download),
      ADCREATIVE_PATH_BACKGROUND_REMOVE_LISTING: pathSetting.default(defaultAdCreativePaths.backgroundRemove.allProgresses),
      ADCREATIVE_PATH_UPSCALE_START: pathSetting.default(defaultAdCreativePaths.upscale.start),
      ADCREATIVE_PATH_UPSCALE_PROGRESS: pathSetting.default(defaultAdCreativePaths.upscale.checkUserProgress),
      ADCREATIVE_PATH_UPSCALE_DOWNLOAD: pathSetting.default(defaultAdCreativePaths.upscale.download),
      ADCREATIVE_PATH_UPSCALE_LISTING: pathSetting.default(defaultAdCreativePaths.upscale.allProgresses),
      ADCREATIVE_PATH_FACE_ENHANCE_START: pathSetting.default(defaultAdCreativePaths.faceEnhance.start),
      ADCREATIVE_PATH_FACE_ENHANCE_PROGRESS: pathSetting.default(defaultAdCreativePaths.faceEnhance.checkUserProgress),
      ADCREATIVE_PATH_FACE_ENHANCE_DOWNLOAD: pathSetting.default(defaultAdCreativePaths.faceEnhance.download),
      ADCREATIVE_PATH_FACE_ENHANCE_LISTING: pathSetting.default(defaultAdCreativePaths.faceEnhance.allProgresses),
      ADCREATIVE_IMAGE_JOB_PROCESS_ID_PARAM: wireName.default(defaultAdCreativePaths.backgroundRemove.processIdParam),
      ADCREATIVE_IMAGE_JOB_NAMES: imageJobNamesSetting,
    },
    config: (e): AdCreativeConfig => ({
      baseUrl: e.ADCREATIVE_API_BASE_URL.replace(/\/+$/, ''),
      requestTimeoutMs: e.ADCREATIVE_REQUEST_TIMEOUT_MS,
      paths: {
        ...defaultAdCreativePaths,
        refreshJwt: e.ADCREATIVE_PATH_REFRESH_JWT,
        backgroundRemove: {
          start: e.ADCREATIVE_PATH_BACKGROUND_REMOVE_START,
          checkUserProgress: e.ADCREATIVE_PATH_BACKGROUND_REMOVE_PROGRESS,
          download: e.ADCREATIVE_PATH_BACKGROUND_REMOVE_DOWNLOAD,
          allProgresses: e.ADCREATIVE_PATH_BACKGROUND_REMOVE_LISTING,
          processIdParam: e.ADCREATIVE_IMAGE_JOB_PROCESS_ID_PARAM,
        },
        upscale: {
          start: e.ADCREATIVE_PATH_UPSCALE_START,
          checkUserProgress: e.ADCREATIVE_PATH_UPSCALE_PROGRESS,
          download: e.ADCREATIVE_PATH_UPSCALE_DOWNLOAD,
          allProgresses: e.ADCREATIVE_PATH_UPSCALE_LISTING,
          processIdParam: e.ADCREATIVE_IMAGE_JOB_PROCESS_ID_PARAM,
        },
        faceEnhance: {
          start: e.ADCREATIVE_PATH_FACE_ENHANCE_START,
          checkUserProgress: e.ADCREATIVE_PATH_FACE_ENHANCE_PROGRESS,
          download: e.ADCREATIVE_PATH_FACE_ENHANCE_DOWNLOAD,
          allProgresses: e.ADCREATIVE_PATH_FACE_ENHANCE_LISTING,
          processIdParam: e.ADCREATIVE_IMAGE_JOB_PROCESS_ID_PARAM,
        },
      },
      imageJobNames: e.ADCREATIVE_IMAGE_JOB_NAMES,
    }),
  },
  shared: ({ redis, config, logger, keyPrefix }) => ({
    jwt: new AdCreativeJwtStore({ redis, config, logger, keyPrefix: `${keyPrefix}:adc-jwt` }),
    claims: new StartClaims({ redis, keyPrefix: `${keyPrefix}:start-claims` }),
  }),
  create: ({ connectionId, credentials, config, shared, logger }) =>
    new AdCreativeClient({ connectionId, credentials, config, jwt: shared.jwt, claims: shared.claims, logger }),
  recipes: [photoshootRecipe, backgroundRemoveRecipe, upscaleRecipe, faceEnhanceRecipe],
  /** The JWT request tests applicationId and jwtPrivateKey; apiKey and apiSecret go only with API calls. */
  testCredentials: ({ connectionId, credentials, shared, signal }) =>
    shared.jwt.requestToken({ id: connectionId, ...credentials }, signal),
});
