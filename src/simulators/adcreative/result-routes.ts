/**
 * CheckUserProgress, CheckApplicationAllProgresses and Download of every feature. The Product
 * Photoshoot's are documented, with their names ("userId (Required)",
 * "imageProductGeneratorProcessId (Required)"; CheckApplicationAllProgresses' "applicationId
 * Required"; Download's "applicationId", "taskId", "imageProductGeneratorProcessId",
 * "lowResolution", "format"); the image features' are NOT documented: the simulator serves them
 * with the paths and names of its ImageFeatureWire (by default those of the Photoshoot, the
 * process named `imageRenderProcessId`).
 */
import { imageContentNotFound, noCredits } from './error-bodies.ts';
import { type FeatureSpec, type ImageJobKind, imageJobFeatures, photoshootFeature } from './features.ts';
import { FieldReader } from './field-reader.ts';
import type { ImageFeatureName, ImageFeatureWire } from './image-feature-wire.ts';
import { adCreativeSimulatorPaths } from './paths.ts';
import { downloadFormats, encodeDownload } from './render-images.ts';
import { queryValue, type Route, refuseOtherApplication } from './route.ts';
import { sameId } from './state.ts';

/** Where a feature's results are read, and the query names they take. */
interface ResultEndpoints {
  feature: FeatureSpec;
  progress: string;
  download: string;
  allProgresses: string;
  processParam: string;
  names: Pick<Readonly<Record<ImageFeatureName, string>>, 'applicationId' | 'userId' | 'taskId' | 'lowResolution' | 'format'>;
}

/** The Product Photoshoot's documented query names. */
const photoshootNames: ResultEndpoints['names'] = {
  applicationId: 'applicationId',
  userId: 'userId',
  taskId: 'taskId',
  lowResolution: 'lowResolution',
  format: 'format',
};

function progressRoute({ feature, progress, processParam, names }: ResultEndpoints): Route {
  return {
    method: 'GET',
    path: progress,
    handle: (ctx, req) => {
      const reader = new FieldReader((name) => queryValue(req.url, name));
      const userId = reader.guid(names.userId);
      const processId = reader.guid(processParam);
      const problem = reader.problem();
      if (problem) return problem;
      // An array filtered by user and process: an unknown process gives an empty array.
      const process = ctx.state.findProcess(processId, feature, req.applicationId);
      const body =
        process && sameId(process.userId, userId)
          ? [process.progressBody(req.now, (task) => ctx.state.publicImageUrl(ctx.baseUrl, process, task))]
          : [];
      return { status: 200, body };
    },
  };
}

/**
 * CheckApplicationAllProgresses: "Checks the progress of all user-level image generations within a
 * specific application", one progress object per process of the application's users. The page does
 * not say in which order, nor for how long processes stay listed: the simulator lists every process
 * of the feature in the order they were started, and keeps them all.
 */
function allProgressesRoute({ feature, allProgresses, names }: ResultEndpoints): Route {
  return {
    method: 'GET',
    path: allProgresses,
    handle: (ctx, req) => {
      const reader = new FieldReader((name) => queryValue(req.url, name));
      const applicationId = reader.guid(names.applicationId);
      const problem = reader.problem() ?? refuseOtherApplication(req, applicationId);
      if (problem) return problem;
      const body = [...ctx.state.processes.values()]
        .filter((p) => p.feature.kind === feature.kind && sameId(p.applicationId, applicationId))
        .map((p) => p.progressBody(req.now, (task) => ctx.state.publicImageUrl(ctx.baseUrl, p, task)));
      return { status: 200, body };
    },
  };
}

function downloadRoute({ feature, download, processParam, names }: ResultEndpoints): Route {
  return {
    method: 'GET',
    path: download,
    handle: async (ctx, req) => {
      const reader = new FieldReader((name) => queryValue(req.url, name));
      const applicationId = reader.guid(names.applicationId);
      const taskId = reader.guid(names.taskId);
      const processId = reader.guid(processParam);
      const lowResolution = reader.flag(names.lowResolution, false);
      const format = reader.integer(names.format, 0);
      if (!Number.isNaN(format) && !downloadFormats.some((f) => f === format)) {
        reader.fail(names.format, `The value '${format}' is not valid for ${names.format}.`);
      }
      const problem = reader.problem() ?? refuseOtherApplication(req, applicationId);
      if (problem) return problem;
      const process = ctx.state.findProcess(processId, feature, req.applicationId);
      const index = process?.taskIndex(taskId) ?? -1;
      if (!process?.isTaskDone(index, req.now)) return imageContentNotFound(feature.area);
      const application = ctx.state.applications.require(req.applicationId);
      if (application.credits <= 0) {
        return noCredits(
          feature.area,
          'Download',
          application.applicationId,
          'Bad request error occurred while getting image content stream',
        );
      }
      const encoded = await encodeDownload(await process.image(index), {
        format: format as (typeof downloadFormats)[number],
        lowResolution,
      });
      ctx.state.downloads.push({ kind: feature.kind, processId: process.processId, taskId: taskId.toLowerCase(), format });
      return {
        status: 200,
        headers: {
          'content-type': encoded.contentType,
          'content-disposition': `attachment; filename="${taskId.toLowerCase()}.${encoded.extension}"`,
        },
        body: encoded.body,
      };
    },
  };
}

/** CheckUserProgress, CheckApplicationAllProgresses and Download of the Product Photoshoot and, on `wire`, the three image features. */
export function resultRoutes(wire: ImageFeatureWire): Route[] {
  const endpoints: ResultEndpoints[] = [
    {
      feature: photoshootFeature,
      progress: adCreativeSimulatorPaths.productGeneration.progress,
      download: adCreativeSimulatorPaths.productGeneration.download,
      allProgresses: adCreativeSimulatorPaths.productGeneration.allProgresses,
      processParam: 'imageProductGeneratorProcessId',
      names: photoshootNames,
    },
    ...(Object.keys(imageJobFeatures) as ImageJobKind[]).map((kind) => ({
      feature: imageJobFeatures[kind],
      progress: wire.paths[kind].progress,
      download: wire.paths[kind].download,
      allProgresses: wire.paths[kind].allProgresses,
      processParam: wire.processIdParam,
      names: wire.names,
    })),
  ];
  return endpoints.flatMap((e) => [progressRoute(e), allProgressesRoute(e), downloadRoute(e)]);
}
