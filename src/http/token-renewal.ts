/**
 * The one retry after a 401 that every bearer-token client makes (the Creative Force gateway and
 * the AI providers): a server that refuses the token has not processed the request, so the token
 * is dropped and the request sent once more with a new one. What a second 401, or any other
 * answer, means is the caller's to say.
 */

/** The bearer tokens of one connection. */
export interface BearerTokens {
  /** A token valid now. */
  getToken(signal: AbortSignal | undefined): Promise<string>;
  /** Drops a token the server refused (401). */
  invalidate(token: string): Promise<void>;
}

/** One request sent with a bearer token. */
export interface TokenRenewalCall<Answer> {
  tokens: BearerTokens;
  /** The caller's signal, for the token requests. */
  signal: AbortSignal | undefined;
  /** Sends one attempt with `token`; resolves with its answer, whatever its status. */
  send(token: string): Promise<Answer>;
  /** The HTTP status of an answer. */
  statusOf(answer: Answer): number;
  /** Called when a first 401 leads to the renewal (to log it). */
  onRenewal(): void;
}

/** Sends the request and, after a first 401, once more with a new token; resolves with the last answer and its token. */
export async function sendWithTokenRenewal<Answer>(call: TokenRenewalCall<Answer>): Promise<{ answer: Answer; token: string }> {
  for (let renewed = false; ; renewed = true) {
    const token = await call.tokens.getToken(call.signal);
    const answer = await call.send(token);
    if (renewed || call.statusOf(answer) !== 401) return { answer, token };
    call.onRenewal();
    await call.tokens.invalidate(token);
  }
}
