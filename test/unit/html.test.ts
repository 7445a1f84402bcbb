import { describe, expect, it } from 'vitest';
import { escapeHtml, html } from '../../src/admin/console/html.ts';

describe('html templates', () => {
  it('escape every interpolated value for text and quoted attributes', () => {
    const value = `<script>alert(1)</script>"onerror='x'&`;
    expect(html`<td title="${value}">${value}</td>`.toString()).toBe(
      '<td title="&lt;script&gt;alert(1)&lt;/script&gt;&quot;onerror=&#39;x&#39;&amp;">&lt;script&gt;alert(1)&lt;/script&gt;&quot;onerror=&#39;x&#39;&amp;</td>',
    );
    expect(escapeHtml('&amp;')).toBe('&amp;amp;');
  });

  it('insert HTML built by html as it is, arrays one after another, and nothing for null, undefined and booleans', () => {
    const rows = ['a<', 'b'].map((v) => html`<li>${v}</li>`);
    expect(html`<ul>${rows}</ul>`.toString()).toBe('<ul><li>a&lt;</li><li>b</li></ul>');
    expect(html`${null}${undefined}${false}${true}${0}`.toString()).toBe('0');
  });
});
