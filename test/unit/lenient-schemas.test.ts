import { describe, expect, it } from 'vitest';
import { idLike, numberLike, optionalText } from '../../src/providers/lenient-schemas.ts';

describe('lenient provider values', () => {
  it('numberLike takes a number or a numeric string, and nothing else', () => {
    expect(numberLike.parse(42)).toBe(42);
    expect(numberLike.parse(' -3.5 ')).toBe(-3.5);
    expect(numberLike.safeParse('12px').success).toBe(false);
    expect(numberLike.safeParse(true).success).toBe(false);
  });

  it('optionalText turns missing, null and blank into null, and trims the rest', () => {
    expect(optionalText.parse(undefined)).toBeNull();
    expect(optionalText.parse(null)).toBeNull();
    expect(optionalText.parse('  \t')).toBeNull();
    expect(optionalText.parse(' no credits left \n')).toBe('no credits left');
  });

  it('idLike takes a non-blank string (trimmed) or an integer, as a string', () => {
    expect(idLike.parse(' 4f1c ')).toBe('4f1c');
    expect(idLike.parse(17)).toBe('17');
    expect(idLike.safeParse('   ').success).toBe(false);
    expect(idLike.safeParse(1.5).success).toBe(false);
  });
});
