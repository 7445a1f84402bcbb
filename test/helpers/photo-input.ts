/** An input asset for a seeded task: a labelled sample photo (labelled, so it is not one flat colour). */
import { sampleImage } from '../../src/simulators/index.ts';

export async function photoInput(positionName: string, width = 300, height = 400) {
  return {
    positionName,
    fileName: `${positionName.toLowerCase()}.jpg`,
    body: await sampleImage({ width, height, format: 'jpeg', label: positionName }),
  };
}
