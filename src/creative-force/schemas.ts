/**
 * zod schemas of everything Creative Force sends us, and the domain types derived from them.
 * Field names follow docs/creative-force-contract.md (which says which are ASSUMED); several
 * numbers arrive as strings.
 */
import { z } from 'zod';
import { AssetContentType } from './contract.ts';

/** An integer that may arrive as a JSON number or a numeric string. */
const intLike = z.union([
  z.number().int(),
  z
    .string()
    .regex(/^-?\d+$/)
    .transform(Number),
]);
const nullableString = z
  .string()
  .nullish()
  .transform((v) => v ?? null);

/**
 * A GUID (8-4-4-4-12 hex digits): how the vendor guide's example payload writes every id but the
 * two numbers. Ids go into gateway paths, Redis keys, job ids and directory names, so nothing else
 * is accepted (no `:`, `/`, dots, or unbounded lengths).
 */
const guid = z.guid();
/** A number id (SubfunctionId, StepId): a non-negative 32-bit integer, as a JSON number or decimal text. */
const numberId = z.union([
  z
    .number()
    .int()
    .min(0)
    .max(2 ** 31 - 1),
  z
    .string()
    .regex(/^\d{1,10}$/, 'must be a number')
    .transform(Number)
    .pipe(z.number().max(2 ** 31 - 1)),
]);
/** A status or type id the guide shows as decimal text ("2000", "1"); not used by the service. */
const codeId = z.union([z.string().max(64), z.number()]);
/** A name or code for people (SubFunctionName, JobCode, ...); Creative Force caps names at 200 characters. */
const text = z.string().max(1000);

/**
 * The ReadyToWork webhook payload (PascalCase, KNOWN). Unknown extra fields are kept out. A field
 * that fails is named in the 400 answer.
 */
export const webhookPayloadSchema = z.object({
  Action: z.string().min(1).max(100),
  TaskId: guid,
  TaskProcessId: guid,
  SubfunctionId: numberId,
  SubFunctionName: text.nullish(),
  JobId: guid.nullish(),
  JobCode: text.nullish(),
  ClientId: guid.nullish(),
  ClientName: text.nullish(),
  ProductId: guid.nullish(),
  ProductCode: text.nullish(),
  StepId: numberId,
  StepName: text.nullish(),
  StepStatusId: codeId.nullish(),
  StepStatusName: text.nullish(),
  ShootingTypeId: codeId.nullish(),
  ShootingTypeName: text.nullish(),
  StyleGuideId: guid.nullish(),
  StyleGuideName: text.nullish(),
});
export type WebhookPayload = z.infer<typeof webhookPayloadSchema>;

export const inputAssetSchema = z.object({
  assetId: z.string().min(1),
  fileName: nullableString,
  positionTagId: z
    .union([z.string(), z.number()])
    .nullish()
    .transform((v) => (v == null ? null : String(v))),
  positionName: nullableString,
  assetAttributeId: intLike.nullish().transform((v) => v ?? 0),
});
export type InputAsset = z.infer<typeof inputAssetSchema>;

export const outputAssetSchema = z.object({
  assetId: z.string().min(1),
  mappingKeyId: nullableString,
  assetAttributeId: intLike.nullish().transform((v) => v ?? 0),
  isRejected: z
    .boolean()
    .nullish()
    .transform((v) => v ?? false),
});
export type OutputAsset = z.infer<typeof outputAssetSchema>;

export const expectedOutputSchema = z.object({
  mappingKeyId: z.string().min(1),
  positionName: nullableString,
  isRequired: z
    .boolean()
    .nullish()
    .transform((v) => v ?? false),
  minQuantity: intLike.nullish().transform((v) => v ?? 0),
  maxQuantity: intLike.nullish().transform((v) => v ?? null),
  isAlternativeAllowed: z
    .boolean()
    .nullish()
    .transform((v) => v ?? false),
  isAlternativeRequired: z
    .boolean()
    .nullish()
    .transform((v) => v ?? false),
  minAlternative: intLike.nullish().transform((v) => v ?? 0),
  maxAlternative: intLike.nullish().transform((v) => v ?? null),
  isRejected: z
    .boolean()
    .nullish()
    .transform((v) => v ?? false),
  outputAssetIds: z
    .array(z.string())
    .nullish()
    .transform((v) => v ?? []),
  assetContentTypeId: intLike
    .nullish()
    .transform((v) => v ?? AssetContentType.Photo)
    .pipe(z.union([z.literal(1), z.literal(2), z.literal(4)])),
});
export type ExpectedOutput = z.infer<typeof expectedOutputSchema>;

/** Get Process Detail (step 2). */
export const processDetailSchema = z.object({
  taskProcessId: z.string().min(1),
  taskId: z.string().min(1),
  productId: nullableString,
  outfitId: nullableString,
  jobId: nullableString,
  clientId: z.string().min(1),
  colorReferenceFiles: z
    .array(z.string())
    .nullish()
    .transform((v) => v ?? []),
  inputAssets: z
    .array(inputAssetSchema)
    .nullish()
    .transform((v) => v ?? []),
  outputAssets: z
    .array(outputAssetSchema)
    .nullish()
    .transform((v) => v ?? []),
  taskProcessExpectedOutputs: z.array(expectedOutputSchema).min(1),
});
export type ProcessDetail = z.infer<typeof processDetailSchema>;

/** Accepts a bare array or an object holding exactly one array (ASSUMED response shape). */
function arrayOrWrapped<T extends z.ZodType>(item: T) {
  return z.preprocess((value) => {
    if (Array.isArray(value) || value === null || typeof value !== 'object') return value;
    const arrays = Object.values(value).filter(Array.isArray);
    return arrays.length === 1 ? arrays[0] : value;
  }, z.array(item));
}

export const assetUrlSchema = z.object({
  assetId: z.string().min(1),
  fileName: z.string().min(1),
  fileUrl: z.url(),
  fileLength: intLike.nullish().transform((v) => v ?? null),
});
export type AssetUrl = z.infer<typeof assetUrlSchema>;
export const bulkGetAssetsResponseSchema = arrayOrWrapped(assetUrlSchema);

export const fileUrlSchema = z.object({
  fileId: z.string().min(1),
  fileName: z.string().min(1),
  fileUrl: z.url(),
  fileLength: intLike.nullish().transform((v) => v ?? null),
  md5: z
    .string()
    .nullish()
    .transform((v) => v ?? null),
});
export type FileUrl = z.infer<typeof fileUrlSchema>;
export const bulkGetFilesResponseSchema = arrayOrWrapped(fileUrlSchema);

/** S3 headers of a pre-signed batch: an object map or an array of `{ key, value }` (KNOWN). */
const presignHeadersSchema = z
  .union([
    z.record(z.string(), z.string()),
    z
      .array(z.object({ key: z.string().min(1), value: z.string() }))
      .transform((list) => Object.fromEntries(list.map((h) => [h.key, h.value]))),
  ])
  .nullish()
  .transform((v) => v ?? {});

export const presignResponseSchema = z.object({
  headers: presignHeadersSchema,
  files: z
    .array(
      z.object({
        localId: z.string().min(1),
        contentType: z.string().min(1),
        tempFileId: z.string().nullish(),
        tempAssetId: z.string().min(1),
        presignedUrl: z.url(),
      }),
    )
    .nullish()
    .transform((v) => v ?? []),
  errorFiles: z
    .array(
      z.object({ localId: z.string(), fileName: z.string().nullish(), errorCode: z.union([z.string(), z.number()]).nullish() }),
    )
    .nullish()
    .transform((v) => v ?? []),
});
export type PresignResponse = z.infer<typeof presignResponseSchema>;

export const submitResponseSchema = z.object({
  assets: z
    .array(z.object({ assetId: z.string(), fileId: z.string().nullish() }))
    .nullish()
    .transform((v) => v ?? []),
});
export type SubmitResponse = z.infer<typeof submitResponseSchema>;

export const tokenResponseSchema = z.object({
  access_token: z.string().min(1),
  expires_in: intLike.pipe(z.number().int().positive()),
  token_type: z.string().optional(),
  scope: z.string().optional(),
});

export const annotationSchema = z.object({
  annotationId: z.string(),
  assetId: nullableString,
  comment: nullableString,
  markingFileId: nullableString,
});
export type Annotation = z.infer<typeof annotationSchema>;
export const annotationsResponseSchema = arrayOrWrapped(annotationSchema);

/** Product and job are passed to recipes as opaque records: only a few fields are read. */
export const looseRecordSchema = z.record(z.string(), z.unknown());

export const outfitProductSchema = z.object({ productId: z.string(), roleId: intLike });
export const outfitProductsResponseSchema = arrayOrWrapped(outfitProductSchema);
export const stylingAssetSchema = z.object({
  productId: z.string(),
  positionTagId: z.union([z.string(), z.number()]).nullish(),
  fileId: z.string(),
});
export const stylingAssetsResponseSchema = arrayOrWrapped(stylingAssetSchema);

/** One asset of a Submit Output body (KNOWN shape). */
export interface SubmitAsset {
  oldOutputAssetId: string | null;
  assetId: string;
  outputResultTypeId: 1 | 2 | 3;
  assetAttributeId: 0 | 1 | 2 | 4;
  resourceIds: string[] | null;
  specId: string | null;
}
export interface SubmitOutputBody {
  submitAssets: { mappingKeyId: string; assets: SubmitAsset[] }[];
}

/** Error bodies of the gateway: business errors or ASP.NET ProblemDetails (KNOWN). */
export const gatewayErrorBodySchema = z.union([
  z.object({ errors: z.array(z.object({ code: z.union([z.string(), z.number()]).optional(), message: z.string().optional() })) }),
  z.object({
    errors: z.record(z.string(), z.array(z.string())),
    title: z.string().optional(),
    status: z.number().optional(),
    traceId: z.string().optional(),
  }),
  z.object({ error: z.string(), error_description: z.string().optional() }),
]);
