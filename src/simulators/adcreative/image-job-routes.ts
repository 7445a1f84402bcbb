/**
 * The start calls of Background Remover, Image Upscaler and Face Enhancer: multipart
 * `applicationId`, `userId`, `uploadedImage` (Face Enhancer also `ariaRatio`, `maxFaceCount`),
 * answering a progress object of one task. Paths and names are not documented in the simulator's
 * source: they are those of the ImageFeatureWire the simulator was started with.
 */

import type { Reply } from '../harness/http-io.ts';
import { fileTooLarge, noCredits, unknownForeground, validationError } from './error-bodies.ts';
import { type ImageJobKind, imageJobFeatures } from './features.ts';
import type { FieldReader } from './field-reader.ts';
import type { ImageFeatureWire } from './image-feature-wire.ts';
import { enhanceFaces, removeBackground, upscale } from './render-images.ts';
import { type Route, refuseOtherApplication } from './route.ts';
import { bindUpload } from './upload-form.ts';

/** How each feature binds its extra fields and renders its one image. */
interface Behaviour {
  bindExtra: (reader: FieldReader, names: ImageFeatureWire['names']) => void;
  render: (image: Buffer) => Promise<Buffer>;
  /** The answer to a file over the limit, under the wire's name of the file field. */
  tooLarge: (limit: string, fileField: string) => Reply;
}

const behaviours: Record<ImageJobKind, Behaviour> = {
  'background-remove': { bindExtra: () => {}, render: removeBackground, tooLarge: fileTooLarge },
  upscale: { bindExtra: () => {}, render: upscale, tooLarge: plainTooLarge },
  'face-enhance': {
    bindExtra: (reader, { ariaRatio: ratioName, maxFaceCount: countName }) => {
      const ariaRatio = reader.decimal(ratioName, 0.5);
      if (ariaRatio <= 0 || ariaRatio > 1) reader.fail(ratioName, `The value '${ariaRatio}' is not valid for ${ratioName}.`);
      const maxFaceCount = reader.integer(countName, 10);
      if (maxFaceCount < 1) reader.fail(countName, `The value '${maxFaceCount}' is not valid for ${countName}.`);
    },
    render: enhanceFaces,
    tooLarge: plainTooLarge,
  },
};

/** Upscaler and Face Enhancer do not remove backgrounds: an oversized file is a binding error. */
function plainTooLarge(limit: string, fileField: string): Reply {
  return validationError({ [fileField]: [`File exceeds limit of ${limit}`] });
}

function startRoute(kind: ImageJobKind, wire: ImageFeatureWire): Route {
  const feature = imageJobFeatures[kind];
  const behaviour = behaviours[kind];
  const { names } = wire;
  return {
    method: 'POST',
    path: wire.paths[kind].start,
    upload: true,
    handle: async (ctx, req) => {
      const bound = await bindUpload(ctx, req, {
        fileField: names.uploadedImage,
        tooLarge: (limit) => behaviour.tooLarge(limit, names.uploadedImage),
        bind: (reader) => {
          const fields = { applicationId: reader.guid(names.applicationId), userId: reader.guid(names.userId) };
          behaviour.bindExtra(reader, names);
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

/** The start routes of the three image features, on `wire`. */
export function imageJobRoutes(wire: ImageFeatureWire): Route[] {
  return (Object.keys(imageJobFeatures) as ImageJobKind[]).map((kind) => startRoute(kind, wire));
}
