/**
 * Prompt templates: `{productCode}`, `{productName}`, `{styleGuideName}`, `{jobCode}` and, on a
 * rework, `{reviewerComments}` are filled from the task. An unknown placeholder is a
 * configuration error, found when the connections file is loaded.
 */
import { z } from 'zod';
import type { TaskContext } from './recipe.ts';

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

/** The values of the fields for one task; `productName` falls back to what the provider recognised. */
export function templateValues(context: TaskContext, recognisedProductName?: string): Record<TemplateField, string> {
  const product = context.product ?? {};
  const name =
    typeof product.productName === 'string' ? product.productName : typeof product.name === 'string' ? product.name : '';
  return {
    productCode: context.event.ProductCode ?? '',
    productName: name || recognisedProductName || context.event.ProductCode || '',
    styleGuideName: context.event.StyleGuideName ?? '',
    jobCode: context.event.JobCode ?? '',
    reviewerComments: (context.annotations ?? [])
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
