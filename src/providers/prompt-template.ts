/**
 * Prompt templates: `{productCode}`, `{productName}`, `{styleGuideName}`, `{jobCode}` and, on a
 * rework, `{reviewerComments}` are filled from the task. An unknown placeholder is a
 * configuration error, found when the connections file is loaded.
 */
import { z } from 'zod';
import type { ReviewerNote, SlotRequest, TaskContext } from './recipe.ts';

export const templateFields = ['productCode', 'productName', 'styleGuideName', 'jobCode', 'reviewerComments'] as const;
export type TemplateField = (typeof templateFields)[number];

const placeholder = /\{(\w+)\}/g;

/** The placeholders a template uses that are not known fields (empty when it is valid). */
export function unknownPlaceholders(template: string): string[] {
  return [...template.matchAll(placeholder)]
    .map((m) => m[1] ?? '')
    .filter((name) => !(templateFields as readonly string[]).includes(name));
}

/** A template in a recipe's options: not empty, and only known placeholders. */
export const templateSchema = z
  .string()
  .min(1)
  .refine((t) => unknownPlaceholders(t).length === 0, {
    message: 'unknown placeholder; use {productCode}, {productName}, {styleGuideName}, {jobCode} or {reviewerComments}',
  });

export function usesField(templates: readonly string[], field: TemplateField): boolean {
  return templates.some((t) => t.includes(`{${field}}`));
}

/**
 * The reviewers' notes that concern a drop box: those on the rejected assets it redoes, and those
 * that name no asset (about the task as a whole). Without `request`, every note of the task.
 */
export function notesFor(context: TaskContext, request?: SlotRequest): ReviewerNote[] {
  const notes = context.annotations ?? [];
  if (!request) return notes;
  const redone = new Set(request.replaces.map((o) => o.assetId));
  return notes.filter((note) => note.assetId === null || redone.has(note.assetId));
}

/**
 * The values of the fields for one task; `productName` falls back to what the provider recognised.
 * With `request`, `{reviewerComments}` holds only the comments that concern its drop box (notesFor).
 */
export function templateValues(
  context: TaskContext,
  recognisedProductName?: string,
  request?: SlotRequest,
): Record<TemplateField, string> {
  const product = context.product ?? {};
  const name =
    typeof product.productName === 'string' ? product.productName : typeof product.name === 'string' ? product.name : '';
  return {
    productCode: context.event.ProductCode ?? '',
    productName: name || recognisedProductName || context.event.ProductCode || '',
    styleGuideName: context.event.StyleGuideName ?? '',
    jobCode: context.event.JobCode ?? '',
    reviewerComments: notesFor(context, request)
      .map((note) => note.comment?.trim())
      .filter(Boolean)
      .join('; '),
  };
}

export function fillTemplate(template: string, values: Record<TemplateField, string>): string {
  return template
    .replace(placeholder, (_m, name: string) => values[name as TemplateField] ?? '')
    .replace(/\s+/g, ' ')
    .trim();
}

/**
 * A prompt from an optional template, with the reviewers' comments added as `Reviewer feedback: …`
 * when `addComments` is set, there are comments, and the template does not place
 * `{reviewerComments}` itself. Undefined when there is neither template nor comment.
 */
export function promptWithComments(
  template: string | undefined,
  values: Record<TemplateField, string>,
  addComments: boolean,
): string | undefined {
  const filled = template === undefined ? '' : fillTemplate(template, values);
  const comments = values.reviewerComments;
  const placed = template !== undefined && usesField([template], 'reviewerComments');
  if (!addComments || comments === '' || placed) return template === undefined ? undefined : filled;
  const feedback = `Reviewer feedback: ${comments}`;
  return filled === '' ? feedback : `${/[.!?]$/.test(filled) ? filled : `${filled}.`} ${feedback}`;
}
