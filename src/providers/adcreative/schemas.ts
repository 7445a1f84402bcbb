/**
 * zod schemas of what AdCreative.ai sends us, and the domain types derived from them. REST JSON is
 * camelCase (AdCreative.ai API docs). Parsing is lenient where the sources are thin: numbers and
 * booleans may arrive as strings, unknown fields are dropped, and fields not shown in every
 * documented sample get defaults instead of failing the call.
 */
import { z } from 'zod';
import { numberLike, optionalText } from '../lenient-schemas.ts';

/** The renderState of a finished task: the only documented state value ("Enums and Descriptions"). */
export const completedRenderState = 5;

/** A boolean that may arrive as a JSON boolean or a string such as "true" / "false". */
const booleanLike = z.union([z.boolean(), z.stringbool()]);
const stringList = z
  .array(z.string())
  .nullish()
  .transform((v) => v ?? []);

/** An ISO 8601 date-time as epoch milliseconds; one without an offset is UTC (a .NET DateTime). */
const dateTime = z.string().transform((value, ctx) => {
  const ms = Date.parse(/(Z|[+-]\d\d:?\d\d)$/i.test(value) ? value : `${value}Z`);
  if (!Number.isNaN(ms)) return ms;
  ctx.issues.push({ code: 'custom', message: 'not an ISO 8601 date-time', input: value });
  return z.NEVER;
});

/** GenerateJwtToken and RefreshJwtToken answers; a refresh may or may not rotate the refresh token. */
export const jwtResponseSchema = z.object({
  accessToken: z.string().min(1),
  /** Absolute expiry, epoch ms. */
  accessTokenExpiration: dateTime,
  refreshToken: z.string().min(1).nullish(),
  /** Absolute expiry of the refresh token, epoch ms. */
  refreshTokenExpiration: dateTime.nullish(),
});

/** A preset style of Product Photoshoot (`PresetKeys`). */
export const presetSchema = z.object({
  id: z.string().min(1),
  previewName: optionalText,
  promptText: optionalText,
  tags: stringList,
  /** Category names, e.g. "monochrome". */
  categories: z
    .array(z.object({ name: z.string() }))
    .nullish()
    .transform((v) => (v ?? []).map((category) => category.name)),
  isOldPreset: booleanLike.nullish().transform((v) => v ?? false),
});
export type AdCreativePreset = z.output<typeof presetSchema>;
export const presetKeysResponseSchema = z.array(presetSchema);

/** Product Photoshoot `Recommendations`, flattened; `productName`/`productDescription` are '' when not extracted. */
export const recommendationsResponseSchema = z
  .object({
    productInfo: z.object({ productName: z.string().nullish(), productDescription: z.string().nullish() }).nullish(),
    backgroundRemovedImageAssetId: z.string().min(1),
    recommendedPrompts: stringList,
    recommendedPresetIds: stringList,
  })
  .transform((body) => ({
    productName: body.productInfo?.productName?.trim() ?? '',
    productDescription: body.productInfo?.productDescription?.trim() ?? '',
    backgroundRemovedImageAssetId: body.backgroundRemovedImageAssetId,
    recommendedPrompts: body.recommendedPrompts,
    recommendedPresetIds: body.recommendedPresetIds,
  }));
export type Recommendations = z.output<typeof recommendationsResponseSchema>;

/** One task of a render process. */
export interface RenderTask {
  taskId: string;
  /** Only `completedRenderState` (5) is known; any other value means not finished. */
  renderState: number;
  /** Public result URL, known once the task is done (progress answers only). */
  publicImageUrl: string | null;
}

const taskUrlSchema = z.object({ taskId: z.string().min(1), renderState: numberLike, publicImageUrl: optionalText });

/**
 * A progress object, from a start call (`tasks`: map taskId → renderState) or from
 * CheckUserProgress (`taskUrls[]`), normalised to one shape with `done` and `failed` computed.
 */
export const renderProgressSchema = z
  .object({
    imageRenderProcessId: z.string().min(1),
    userId: optionalText,
    requestRenderState: numberLike.nullish(),
    totalTaskCount: numberLike.nullish(),
    completedTaskCount: numberLike.nullish(),
    progress: numberLike,
    isSuccessful: booleanLike.nullish(),
    errorMessage: optionalText,
    tasks: z.record(z.string(), numberLike).nullish(),
    taskUrls: z.array(taskUrlSchema).nullish(),
  })
  .transform((body) => {
    const tasks: RenderTask[] =
      body.taskUrls ??
      Object.entries(body.tasks ?? {}).map(([taskId, renderState]) => ({ taskId, renderState, publicImageUrl: null }));
    const finished = tasks.filter((task) => task.renderState === completedRenderState).length;
    const isSuccessful = body.isSuccessful ?? false;
    return {
      processId: body.imageRenderProcessId,
      /** The user the process was started for; null when not sent. */
      userId: body.userId,
      /** Same scale as renderState as far as known; null when not sent. */
      requestRenderState: body.requestRenderState ?? null,
      totalTaskCount: body.totalTaskCount ?? tasks.length,
      completedTaskCount: body.completedTaskCount ?? finished,
      /** 0–100. */
      progress: body.progress,
      isSuccessful,
      errorMessage: body.errorMessage,
      tasks,
      /** Progress is 100 and every task (at least one) is completed. */
      done: body.progress >= 100 && tasks.length > 0 && finished === tasks.length,
      /** AdCreative reported a failure: not successful, with an error message. */
      failed: !isSuccessful && body.errorMessage !== null,
    };
  });
export type RenderProgress = z.output<typeof renderProgressSchema>;

/** Just enough of a progress object to find the one of a process in a CheckUserProgress array. */
export const progressEntryIdSchema = z.object({ imageRenderProcessId: z.string() });

const messageList = z.union([z.array(z.string()), z.string().transform((message) => [message])]);

/**
 * The standard error body (`errors` keyed by "<layer>: <function>", traceId in `extensions`) and
 * the validation one (`errors` keyed by field, traceId top-level): AdCreative's "Error Handling" page.
 */
export const standardErrorBodySchema = z.object({
  errors: z.record(z.string(), messageList).nullish(),
  title: optionalText,
  traceId: optionalText,
  extensions: z.object({ traceId: optionalText }).nullish(),
});

/** The background-removal error list, e.g. `{ errors: [{ title, code: "unknown_foreground" }] }` (Photoshoot page). */
export const problemListSchema = z.object({
  errors: z.array(z.object({ title: optionalText, code: optionalText, detail: optionalText })),
});
export type AdCreativeProblem = z.output<typeof problemListSchema>['errors'][number];
