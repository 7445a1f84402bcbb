import { describe, expect, it } from 'vitest';
import { studioMessage } from '../../src/cycle/steps/update-process-status.ts';
import { ConnectorError } from '../../src/errors.ts';

describe('studioMessage, the failure message sent to Creative Force', () => {
  it("is the error's own words and code, never what the remote system answered", () => {
    const err = new ConnectorError('CF_REJECTED', 'Creative Force POST /x answered 400', {
      remoteText: 'GEN-4 InvalidData client_secret=hunter2',
      details: { cfErrorCode: 'GEN-4' },
    });
    expect(err.message).toBe('Creative Force POST /x answered 400: GEN-4 InvalidData client_secret=hunter2');
    expect(studioMessage(err)).toBe(
      'cf-ai-connector could not complete this task: Creative Force POST /x answered 400 (GEN-4) [CF_REJECTED].',
    );
  });

  it('quotes a remote error code only when it is a plain token', () => {
    const err = new ConnectorError('CF_REJECTED', 'Creative Force POST /x answered 400', {
      details: { cfErrorCode: 'GEN-4 see https://example.com/?secret=1' },
    });
    expect(studioMessage(err)).toBe(
      'cf-ai-connector could not complete this task: Creative Force POST /x answered 400 [CF_REJECTED].',
    );
  });

  it('removes URLs, pre-signed or not', () => {
    const err = new ConnectorError(
      'ASSET_DOWNLOAD_FAILED',
      'download of https://bucket.s3.amazonaws.com/in/front.jpg?X-Amz-Signature=abc failed: 403 AccessDenied',
    );
    const message = studioMessage(err);
    expect(message).toMatch(
      /^cf-ai-connector could not complete this task: download of \(link removed\) failed: 403 AccessDenied \[ASSET_DOWNLOAD_FAILED\]\. /,
    );
    expect(message).not.toMatch(/https?:|amazonaws|X-Amz/);
  });

  it('says nothing of an error that is not ours, and stays within 1000 characters', () => {
    expect(studioMessage(new Error('boom at https://internal/'))).toBe(
      'cf-ai-connector failed on an unexpected error; the operator has the details in the logs.',
    );
    expect(studioMessage(new ConnectorError('SLOT_UNFILLABLE', 'x'.repeat(2000))).length).toBe(1000);
  });
});
