/** A stack whose connection has a Sartiq (simulator) account, and what the Sartiq tests share. */
import { randomBytes } from 'node:crypto';
import { SartiqSimulator, sampleImage, type TaskScenario } from '../../src/simulators/index.ts';
import { type Stack, startStack } from './stack.ts';

type StackOptions = Omit<NonNullable<Parameters<typeof startStack>[1]>, 'sartiq'>;

/** The Sartiq simulator with an account, and a stack whose connection uses it. */
export async function startSartiqStack(name: string, options: StackOptions, predictionDurationMs = 300) {
  const sartiq = await SartiqSimulator.start({ predictionDurationMs });
  const credentials = { email: `${name}@studio.example`, password: randomBytes(12).toString('hex') };
  sartiq.addAccount(credentials);
  const stack = await startStack(name, { ...options, sartiq: { baseUrl: sartiq.baseUrl, credentials } });
  return { sartiq, stack };
}

/** The ids a video from an uploaded image must carry (Sartiq ids are UUIDs). */
export const videoMetadata = {
  subjectId: '6f1c0a52-2d4b-4c11-9a0e-3b7d5e9f1a20',
  productId: '0d9b7c3e-8a14-4f6b-b2c5-71e0a4d3c986',
  styleId: 'a3e5f7b9-1c2d-4e6f-8a9b-0c1d2e3f4a5b',
};

/** A 400x600 JPEG input of a position, labelled with it. */
export const positionInput = async (positionName: string) => ({
  positionName,
  fileName: `${positionName.toLowerCase()}.jpg`,
  body: await sampleImage({ width: 400, height: 600, format: 'jpeg', label: positionName }),
});

/** Starts the service, sends the webhook of a new task and waits for its submission. */
export async function submitTask(stack: Stack, scenario: TaskScenario) {
  const { sim } = stack;
  const { port } = await stack.startService('start');
  const task = sim.addTask(scenario);
  await sim.sendWebhook(stack.webhookUrl(port), task.taskProcessId, stack.secret);
  await stack.waitFor('the submission', () => sim.submissions(task.taskProcessId).length > 0, 60_000);
  const submission = sim.submissions(task.taskProcessId)[0]?.body;
  /** The bytes of the submitted assets, in order. */
  const bodies = (submission?.submitAssets ?? []).flatMap((s) => s.assets).map((a) => sim.uploadedObject(a.assetId));
  return { task, submission, bodies };
}
