/**
 * The start calls of Background Remover, Image Upscaler and Face Enhancer (their AdCreative API
 * pages): multipart `applicationId`, `userId`, `uploadedImage` (Face Enhancer also `ariaRatio`,
 * `maxFaceCount`), answering a progress object of one task.
 */

import type { Reply } from '../harness/http-io.ts';
import { fileTooLarge, noCredits, unknownForeground, validationError } from './error-bodies.ts';
import { type ImageJobKind, imageJobFeatures } from './features.ts';
import type { FieldReader } from './field-reader.ts';
import { enhanceFaces, removeBackground, upscale } from './render-images.ts';
import { type Route, refuseOtherApplication } from './route.ts';
import { bindUpload } from './upload-form.ts';

/** How each feature binds its extra fields and renders its one image. */
interface Behaviour {
  bindExtra: (reader: FieldReader) => void;
  render: (image: Buffer) => Promise<Buffer>;
  tooLarge: (limit: string) => Reply;
}

const behaviours: Record<ImageJobKind, Behaviour> = {
  'background-remove': { bindExtra: () => {}, render: removeBackground, tooLarge: fileTooLarge },
  upscale: { bindExtra: () => {}, render: upscale, tooLarge: plainTooLarge },
  'face-enhance': {
    bindExtra: (reader) => {
      const ariaRatio = reader.decimal('ariaRatio', 0.5);
      if (ariaRatio <= 0 || ariaRatio > 1) reader.fail('ariaRatio', `The value '${ariaRatio}' is not valid for ariaRatio.`);
      const maxFaceCount = reader.integer('maxFaceCount', 10);
      if (maxFaceCount < 1) reader.fail('maxFaceCount', `The value '${maxFaceCount}' is not valid for maxFaceCount.`);
    },
    render: enhanceFaces,
    tooLarge: plainTooLarge,
  },
};

/** Upscaler and Face Enhancer do not remove backgrounds: an oversized file is a binding error. */
function plainTooLarge(limit: string): Reply {
  return validationError({ uploadedImage: [`File exceeds limit of ${limit}`] });
}

function startRoute(kind: ImageJobKind): Route {
  const feature = imageJobFeatures[kind];
  const behaviour = behaviours[kind];
  return {
    method: 'POST',
    path: feature.paths.start,
    upload: true,
    handle: async (ctx, req) => {
      const bound = await bindUpload(ctx, req, {
        fileField: 'uploadedImage',
        tooLarge: behaviour.tooLarge,
        bind: (reader) => {
          const fields = { applicationId: reader.guid('applicationId'), userId: reader.guid('userId') };
          behaviour.bindExtra(reader);
          return fields;
        },
      });
      if (!bound.ok) return bound.reply;
      const { fields, form, file } = bound.value;
      const refused = refuseOtherApplication(req, fields.applicationId);
      if (refused) return refused;
      if (kind === 'background-remove' && ctx.state.takeForegroundRefusal()) return unknownForeground();
      const application = ctx.state.applications.require(req.applicationId);
      if (application.credits <= 0) {
        return noCredits(
          feature.area,
          'AdCreative',
          application.applicationId,
          'Bad request error occurred while starting the render',
        );
      }
      application.credits--;
      const process = ctx.state.startProcess({
        feature,
        applicationId: application.applicationId,
        userId: fields.userId,
        taskCount: 1,
        render: () => behaviour.render(file.data),
        form: form.textFields(),
        now: req.now,
      });
      return { status: 200, body: process.startBody() };
    },
  };
}

/** The start routes of the three image features. */
export const imageJobRoutes: readonly Route[] = (Object.keys(imageJobFeatures) as ImageJobKind[]).map(startRoute);
