/**
 * Everything the simulated Creative Force knows: seeded task processes with their inputs, files,
 * product, job, annotations and outfit; the temporary assets minted by pre-signed upload calls;
 * and the records tests inspect (submissions, status updates).
 */
import { randomUUID } from 'node:crypto';
import { AssetContentType } from '../../creative-force/contract.ts';
import type { ExpectedOutput } from '../../creative-force/schemas.ts';
import { contentTypeOf } from './content-types.ts';
import { type FakeS3, inputObjectKey } from './s3.ts';
import type {
  FileSeed,
  PresignCall,
  RecordedSubmission,
  SeededTask,
  SlotSeed,
  StatusUpdate,
  StoredOutput,
  TaskScenario,
} from './types.ts';

/** An asset CF can hand out through bulk-get-assets (an input or an accepted output). */
export interface SimAsset {
  assetId: string;
  fileName: string;
  objectKey: string;
  positionTagId: string | null;
  positionName: string | null;
  assetAttributeId: number;
}

/** A file CF can hand out through bulk-get-files. */
export interface SimFile {
  fileId: string;
  fileName: string;
  objectKey: string;
}

/** A temporary asset minted by the pre-signed upload call; single-use in Submit Output. */
export interface TempAsset {
  tempAssetId: string;
  tempFileId: string;
  localId: string;
  fileName: string;
  contentType: string;
  declaredLength: number;
  clientId: string;
  objectKey: string;
  uploaded: boolean;
  /** The task process whose accepted submission used it. */
  usedBy: string | null;
}

/** A slot as seeded; `isRejected`/`outputAssetIds` are derived from outputs unless pinned. */
export interface SimSlot {
  base: ExpectedOutput;
  pinnedRejected: boolean | undefined;
  pinnedOutputAssetIds: string[] | undefined;
}

/** A seeded task process. */
export interface SimTask {
  taskProcessId: string;
  taskId: string;
  clientId: string;
  clientName: string;
  productId: string;
  productCode: string;
  jobId: string;
  jobCode: string;
  outfitId: string | null;
  subfunctionId: number;
  subfunctionName: string;
  stepId: number;
  styleGuideId: string;
  styleGuideName: string;
  inputAssetIds: string[];
  colorReferenceFileIds: string[];
  slots: SimSlot[];
  outputs: StoredOutput[];
  /** `submitted` after an accepted submission, until outputs are rejected again. */
  state: 'inProgress' | 'submitted';
}

/** One annotation as the annotations endpoint returns it. */
export interface SimAnnotation {
  annotationId: string;
  assetId: string | null;
  comment: string | null;
  markingFileId: string | null;
}

/** Fills the simulator defaults of a seeded slot (photo, exactly one required main, no alternates). */
export function slotFromSeed(seed: SlotSeed): SimSlot {
  const isAlternativeAllowed = seed.isAlternativeAllowed ?? false;
  return {
    base: {
      mappingKeyId: seed.mappingKeyId,
      positionName: seed.positionName ?? null,
      isRequired: seed.isRequired ?? true,
      minQuantity: seed.minQuantity ?? 1,
      maxQuantity: seed.maxQuantity === undefined ? 1 : seed.maxQuantity,
      isAlternativeAllowed,
      isAlternativeRequired: seed.isAlternativeRequired ?? false,
      minAlternative: seed.minAlternative ?? 0,
      maxAlternative: seed.maxAlternative === undefined ? (isAlternativeAllowed ? null : 0) : seed.maxAlternative,
      isRejected: false,
      outputAssetIds: [],
      assetContentTypeId: seed.assetContentTypeId ?? AssetContentType.Photo,
    },
    pinnedRejected: seed.isRejected,
    pinnedOutputAssetIds: seed.outputAssetIds,
  };
}

const stepNames: Readonly<Record<number, string>> = {
  25: 'Cloud Automation',
  26: 'Cloud Automation (L1)',
  27: 'Cloud Automation (L2)',
  28: 'Cloud Automation (L3)',
  29: 'Cloud Automation (L4)',
  40: 'Cloud Automation (L5)',
};

/** The step name CF shows for a Cloud Automation step id. */
export function stepNameOf(stepId: number): string {
  return stepNames[stepId] ?? `Step ${stepId}`;
}

/** The in-memory state of the simulated Creative Force. */
export class SimState {
  readonly tasks = new Map<string, SimTask>();
  readonly assets = new Map<string, SimAsset>();
  readonly files = new Map<string, SimFile>();
  readonly products = new Map<string, Record<string, unknown>>();
  readonly jobs = new Map<string, Record<string, unknown>>();
  readonly annotations = new Map<string, SimAnnotation[]>();
  readonly outfits = new Map<string, { productId: string; roleId: number }[]>();
  readonly stylingAssets = new Map<string, { productId: string; positionTagId: string | null; fileId: string }[]>();
  readonly tempAssets = new Map<string, TempAsset>();
  readonly tempAssetByObjectKey = new Map<string, string>();
  /** Workspaces (CF clientIds) of every seeded task: the pre-signed upload call accepts these. */
  readonly workspaces = new Set<string>();
  readonly submissions: RecordedSubmission[] = [];
  readonly rejectedSubmissions: RecordedSubmission[] = [];
  readonly statusUpdates: StatusUpdate[] = [];
  readonly presignCalls: PresignCall[] = [];
  readonly #s3: FakeS3;

  constructor(s3: FakeS3) {
    this.#s3 = s3;
  }

  /** Registers a file (color reference, marking, styling file) and stores its bytes. */
  addFile(seed: FileSeed, now: number): SimFile {
    const fileId = seed.fileId ?? randomUUID();
    const objectKey = inputObjectKey(`files/${fileId}`, seed.fileName);
    this.#s3.putObject(objectKey, contentTypeOf(seed.fileName) ?? 'application/octet-stream', seed.body, now);
    const file = { fileId, fileName: seed.fileName, objectKey };
    this.files.set(fileId, file);
    return file;
  }

  /** Registers an asset and stores its bytes. */
  #addAsset(asset: Omit<SimAsset, 'objectKey'>, body: Buffer, now: number): SimAsset {
    const objectKey = inputObjectKey(`assets/${asset.assetId}`, asset.fileName);
    this.#s3.putObject(objectKey, contentTypeOf(asset.fileName) ?? 'application/octet-stream', body, now);
    const stored = { ...asset, objectKey };
    this.assets.set(asset.assetId, stored);
    return stored;
  }

  /** Adds an annotation to a task (annotations are keyed by taskId). */
  addAnnotation(
    taskId: string,
    seed: { annotationId?: string; assetId?: string | null; comment?: string | null; marking?: FileSeed },
    now: number,
  ): SimAnnotation {
    const marking = seed.marking ? this.addFile(seed.marking, now) : undefined;
    const annotation = {
      annotationId: seed.annotationId ?? randomUUID(),
      assetId: seed.assetId ?? null,
      comment: seed.comment ?? null,
      markingFileId: marking?.fileId ?? null,
    };
    const list = this.annotations.get(taskId) ?? [];
    list.push(annotation);
    this.annotations.set(taskId, list);
    return annotation;
  }

  /** Seeds a task process and everything it references. */
  addTask(scenario: TaskScenario, now: number): SeededTask {
    const taskProcessId = scenario.taskProcessId ?? randomUUID();
    if (this.tasks.has(taskProcessId)) throw new Error(`task process ${taskProcessId} is already seeded`);
    if (scenario.slots.length === 0) throw new Error('a task process needs at least one slot');
    const mappingKeyIds = scenario.slots.map((s) => s.mappingKeyId);
    if (new Set(mappingKeyIds).size !== mappingKeyIds.length) throw new Error('mappingKeyIds of a task must be unique');

    const taskId = scenario.taskId ?? randomUUID();
    const clientId = scenario.clientId ?? randomUUID();
    const productId = scenario.productId ?? randomUUID();
    const productCode = scenario.productCode ?? 'AW2130146';
    const jobId = scenario.jobId ?? randomUUID();
    const jobCode = scenario.jobCode ?? 'Summer 2026';
    const clientName = scenario.clientName ?? 'Acme Studio';

    const inputAssetIds = scenario.inputs.map((input) => {
      const asset = this.#addAsset(
        {
          assetId: input.assetId ?? randomUUID(),
          fileName: input.fileName,
          positionTagId: input.positionTagId ?? null,
          positionName: input.positionName ?? null,
          assetAttributeId: input.assetAttributeId ?? 0,
        },
        input.body,
        now,
      );
      return asset.assetId;
    });
    const colorReferenceFileIds = (scenario.colorReferences ?? []).map((seed) => this.addFile(seed, now).fileId);

    const outputs: StoredOutput[] = (scenario.outputAssets ?? []).map((seed) => {
      if (!mappingKeyIds.includes(seed.mappingKeyId)) throw new Error(`output asset names unknown slot ${seed.mappingKeyId}`);
      const fileName = seed.fileName ?? 'earlier-output.jpg';
      const asset = this.#addAsset(
        {
          assetId: seed.assetId ?? randomUUID(),
          fileName,
          positionTagId: null,
          positionName: null,
          assetAttributeId: seed.assetAttributeId ?? 0,
        },
        seed.body ?? Buffer.from([0]),
        now,
      );
      return {
        assetId: asset.assetId,
        fileId: randomUUID(),
        mappingKeyId: seed.mappingKeyId,
        assetAttributeId: asset.assetAttributeId,
        isRejected: seed.isRejected ?? false,
        contentType: contentTypeOf(fileName) ?? 'application/octet-stream',
      };
    });

    let outfitId = scenario.outfitId ?? null;
    if (scenario.outfitProducts && scenario.outfitProducts.length > 0) {
      outfitId ??= randomUUID();
      const members = scenario.outfitProducts.map((p) => {
        const memberId = p.productId ?? randomUUID();
        if (memberId !== productId) {
          this.products.set(memberId, {
            productId: memberId,
            productCode: p.productCode ?? `P-${memberId.slice(0, 8)}`,
            clientId,
          });
        }
        const styling = (p.stylingAssets ?? []).map((s) => ({
          productId: memberId,
          positionTagId: s.positionTagId ?? null,
          fileId: this.addFile({ fileName: s.fileName, body: s.body }, now).fileId,
        }));
        if (styling.length > 0) this.stylingAssets.set(memberId, [...(this.stylingAssets.get(memberId) ?? []), ...styling]);
        return { productId: memberId, roleId: p.roleId };
      });
      this.outfits.set(outfitId, members);
    }

    this.products.set(productId, {
      productId,
      productCode,
      clientId,
      outfitId,
      name: `Product ${productCode}`,
      ...(scenario.product ?? {}),
    });
    this.jobs.set(jobId, { jobId, jobCode, clientId, name: jobCode, ...(scenario.job ?? {}) });

    const annotationIds = (scenario.annotations ?? []).map((seed) => this.addAnnotation(taskId, seed, now).annotationId);

    const task: SimTask = {
      taskProcessId,
      taskId,
      clientId,
      clientName,
      productId,
      productCode,
      jobId,
      jobCode,
      outfitId,
      subfunctionId: scenario.subfunctionId ?? 54,
      subfunctionName: scenario.subfunctionName ?? 'Mannequin to On Model',
      stepId: scenario.stepId ?? 25,
      styleGuideId: scenario.styleGuideId ?? randomUUID(),
      styleGuideName: scenario.styleGuideName ?? 'Apparel: Pants and Skirts',
      inputAssetIds,
      colorReferenceFileIds,
      slots: scenario.slots.map(slotFromSeed),
      outputs,
      state: 'inProgress',
    };
    this.tasks.set(taskProcessId, task);
    this.workspaces.add(clientId);
    return {
      taskProcessId,
      taskId,
      clientId,
      productId,
      jobId,
      outfitId,
      subfunctionId: task.subfunctionId,
      stepId: task.stepId,
      inputAssetIds,
      colorReferenceFileIds,
      mappingKeyIds,
      outputAssetIds: outputs.map((o) => o.assetId),
      annotationIds,
    };
  }

  /** The task process or a thrown error naming it (for the test-facing API). */
  requireTask(taskProcessId: string): SimTask {
    const task = this.tasks.get(taskProcessId);
    if (!task) throw new Error(`unknown task process ${taskProcessId}`);
    return task;
  }

  /** A slot as the process detail shows it. */
  slotView(task: SimTask, slot: SimSlot): ExpectedOutput {
    const outputs = task.outputs.filter((o) => o.mappingKeyId === slot.base.mappingKeyId);
    return {
      ...slot.base,
      isRejected: slot.pinnedRejected ?? outputs.some((o) => o.isRejected),
      outputAssetIds: slot.pinnedOutputAssetIds ?? outputs.map((o) => o.assetId),
    };
  }

  /** The Get Process Detail body of a task process (docs/creative-force-contract.md, "Process detail"). */
  processDetail(task: SimTask): Record<string, unknown> {
    return {
      taskProcessId: task.taskProcessId,
      taskId: task.taskId,
      productId: task.productId,
      productCode: task.productCode,
      outfitId: task.outfitId,
      jobId: task.jobId,
      clientId: task.clientId,
      styleGuideId: task.styleGuideId,
      stepId: task.stepId,
      subfunctionId: task.subfunctionId,
      colorReferenceFiles: [...task.colorReferenceFileIds],
      inputAssets: task.inputAssetIds.map((id) => {
        const asset = this.assets.get(id) as SimAsset;
        return {
          assetId: asset.assetId,
          fileName: asset.fileName,
          positionTagId: asset.positionTagId,
          positionName: asset.positionName,
          assetAttributeId: asset.assetAttributeId,
        };
      }),
      outputAssets: task.outputs.map((o) => ({
        assetId: o.assetId,
        mappingKeyId: o.mappingKeyId,
        assetAttributeId: o.assetAttributeId,
        isRejected: o.isRejected,
      })),
      taskProcessExpectedOutputs: task.slots.map((slot) => this.slotView(task, slot)),
    };
  }

  /** Marks accepted outputs rejected and reopens the task process for a rework pass. */
  rejectOutputs(taskProcessId: string, assetIds: string[]): void {
    const task = this.requireTask(taskProcessId);
    for (const assetId of assetIds) {
      const output = task.outputs.find((o) => o.assetId === assetId);
      if (!output) throw new Error(`asset ${assetId} is not an output of task process ${taskProcessId}`);
      output.isRejected = true;
    }
    for (const slot of task.slots) {
      slot.pinnedRejected = undefined;
      slot.pinnedOutputAssetIds = undefined;
    }
    task.state = 'inProgress';
  }

  /** The URL of an asset's bytes, for bulk-get-assets. */
  describeAsset(asset: SimAsset, baseUrl: string, now: number) {
    const object = this.#s3.getObject(asset.objectKey);
    return {
      assetId: asset.assetId,
      fileName: asset.fileName,
      fileUrl: this.#s3.presignGet(baseUrl, asset.objectKey, now),
      fileLength: object?.body.length ?? 0,
    };
  }

  /** The URL, size and MD5 (hex) of a file, for bulk-get-files. */
  describeFile(file: SimFile, baseUrl: string, now: number) {
    const object = this.#s3.getObject(file.objectKey);
    return {
      fileId: file.fileId,
      fileName: file.fileName,
      fileUrl: this.#s3.presignGet(baseUrl, file.objectKey, now),
      fileLength: object?.body.length ?? 0,
      md5: object?.md5 ?? null,
    };
  }

  /** Registers an accepted output so bulk-get-assets can serve it on a later rework pass. */
  registerOutputAsset(temp: TempAsset, assetAttributeId: number): void {
    this.assets.set(temp.tempAssetId, {
      assetId: temp.tempAssetId,
      fileName: temp.fileName,
      objectKey: temp.objectKey,
      positionTagId: null,
      positionName: null,
      assetAttributeId,
    });
  }
}
