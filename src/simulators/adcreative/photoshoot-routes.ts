/**
 * The Product Photoshoot endpoints that are particular to it (AdCreative's "Product Photoshoot
 * API" page): PresetKeys, Recommendations and the AdCreative start. Its CheckUserProgress,
 * CheckApplicationAllProgresses and Download are shared with the image features, in result-routes.ts.
 */
import { randomUUID } from 'node:crypto';
import { fileTooLarge, noCredits, standardError, unknownForeground } from './error-bodies.ts';
import { photoshootFeature } from './features.ts';
import { FieldReader } from './field-reader.ts';
import { adCreativeSimulatorPaths } from './paths.ts';
import { presetKey, presets } from './presets.ts';
import { type PromptObject, parsePromptObjects, sceneColor } from './prompt-objects.ts';
import { removeBackground, renderScene } from './render-images.ts';
import { queryValue, type Route, refuseOtherApplication } from './route.ts';
import { sameId } from './state.ts';
import { bindFields, bindUpload } from './upload-form.ts';

const paths = adCreativeSimulatorPaths.productGeneration;

/** Documented `renderKind` values the Product Photoshoot accepts. */
const photoshootRenderKinds: readonly number[] = [0, 1, 2, 4, 8, 16, 31, 32, 64, 128, 256, 512, 992, 1023];

/** Documented output sizes: 1674×628 with safe margins, 1200×628 with `DisableSafeMargin=true`. */
const sceneSize = { withMargin: { width: 1674, height: 628 }, withoutMargin: { width: 1200, height: 628 } };

const presetKeysRoute: Route = {
  method: 'GET',
  path: paths.presetKeys,
  handle: (ctx, req) => {
    const reader = new FieldReader((name) => queryValue(req.url, name));
    const applicationId = reader.guid('applicationId');
    reader.guid('userId');
    const problem = reader.problem() ?? refuseOtherApplication(req, applicationId);
    if (problem) return problem;
    return { status: 200, body: presets.map((p) => presetKey(p, ctx.baseUrl, adCreativeSimulatorPaths.presetPreviews)) };
  },
};

const recommendationsRoute: Route = {
  method: 'POST',
  path: paths.recommendations,
  upload: true,
  handle: async (ctx, req) => {
    const bound = await bindUpload(ctx, req, {
      fileField: 'productImage',
      tooLarge: fileTooLarge,
      bind: (reader) => ({ applicationId: reader.guid('applicationId'), userId: reader.guid('userId') }),
    });
    if (!bound.ok) return bound.reply;
    const { fields, file } = bound.value;
    const refused = refuseOtherApplication(req, fields.applicationId);
    if (refused) return refused;
    if (ctx.state.takeForegroundRefusal()) return unknownForeground();
    const asset = { assetId: randomUUID(), applicationId: req.applicationId, png: await removeBackground(file.data) };
    ctx.state.assets.set(asset.assetId, asset);
    const productName = productNameOf(file.fileName);
    return {
      status: 200,
      body: {
        productInfo: { productName, productDescription: `A ${productName} photographed on a plain background.` },
        backgroundRemovedImageAssetId: asset.assetId,
        recommendedPrompts: [
          `on a sleek glass surface, the ${productName} in soft studio light`,
          `on a velvet cushion inside a luxurious boutique`,
          `on a marble counter next to green leaves`,
          `on a vibrant graffiti wall in an urban alley`,
        ],
        recommendedPresetIds: presets.slice(1, 7).map((p) => p.id),
      },
    };
  },
};

/** The product name the simulator "recognizes": the file name without extension, as words. */
function productNameOf(fileName: string): string {
  const words = fileName
    .replace(/\.[^.]*$/, '')
    .replace(/[-_.\s]+/g, ' ')
    .trim();
  return words === '' ? 'product' : words;
}

const startRoute: Route = {
  method: 'POST',
  path: paths.start,
  handle: (ctx, req) => {
    const bound = bindFields(req, (reader) => {
      const renderKind = reader.integer('renderKind');
      if (!Number.isNaN(renderKind) && !photoshootRenderKinds.includes(renderKind)) {
        reader.fail('renderKind', `renderKind must be one of ${photoshootRenderKinds.join(', ')}.`);
      }
      const promptText = reader.text('PromptObjectsString');
      const parsed = promptText === '' ? undefined : parsePromptObjects(promptText);
      if (parsed && !parsed.ok) for (const message of parsed.errors) reader.fail('PromptObjectsString', message);
      // Validated only: the simulator's scenes do not depend on the style reference.
      reader.flag('UseSameStyleReferenceImage', true);
      return {
        applicationId: reader.guid('applicationId'),
        userId: reader.guid('userId'),
        productImageAssetId: reader.guid('productImageAssetId'),
        prompts: parsed?.ok ? parsed.prompts : [],
        productName: reader.text('productName'),
        productDescription: reader.text('productDescription'),
        disableSafeMargin: reader.flag('DisableSafeMargin', false),
      };
    });
    if (!bound.ok) return bound.reply;
    const { fields, form } = bound.value;
    const refused = refuseOtherApplication(req, fields.applicationId);
    if (refused) return refused;
    const asset = ctx.state.assets.get(fields.productImageAssetId.toLowerCase());
    if (!asset || !sameId(asset.applicationId, req.applicationId)) {
      return standardError(404, {
        [`business: ${photoshootFeature.area}/AdCreative`]: [`Image asset ${fields.productImageAssetId} was not found.`],
      });
    }
    const application = ctx.state.applications.require(req.applicationId);
    if (application.credits <= 0) {
      return noCredits(
        photoshootFeature.area,
        'AdCreative',
        application.applicationId,
        'Bad request error occurred while starting the image product generation',
      );
    }
    application.credits--;
    const size = fields.disableSafeMargin ? sceneSize.withoutMargin : sceneSize.withMargin;
    // One task per prompt object. The page's only example sends six prompt objects and answers
    // `"totalTaskCount": 6` with six tasks ("Completion when: progress = 100 and all 6 tasks return
    // renderState = 5"); it never says how many tasks fewer prompts give, so the simulator does not
    // invent more. Each task is a separate Download ("Use imageProductGeneratorProcessId +
    // taskId"), and a Download may cost credits ("Error decreasing Api Key Credits"): tests count them.
    const prompts: PromptObject[] = fields.prompts;
    const process = ctx.state.startProcess({
      feature: photoshootFeature,
      applicationId: application.applicationId,
      userId: fields.userId,
      taskCount: prompts.length,
      render: (index) => renderScene(asset.png, { ...size, color: sceneColor(prompts[index] as PromptObject) }),
      form: form.textFields(),
      now: req.now,
    });
    return { status: 200, body: process.startBody() };
  },
};

/** The Product Photoshoot routes of this file. */
export const photoshootRoutes: readonly Route[] = [presetKeysRoute, recommendationsRoute, startRoute];
