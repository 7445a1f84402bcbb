/** Where Creative Force sends a connection's webhooks: the route, and the URL a studio enters. */

/** The route of the webhook receiver. */
export const webhookRoutePath = '/webhooks/creative-force/:connectionId';

/** The path of a connection's webhooks (connection ids are URL-safe: see the connections file). */
export function webhookPath(connectionId: string): string {
  return webhookRoutePath.replace(':connectionId', connectionId);
}

/**
 * The URL a studio enters as the Webhook URL of each subfunction of the connection:
 * `${PUBLIC_URL}/webhooks/creative-force/<connection id>`; undefined without PUBLIC_URL.
 */
export function webhookUrl(publicUrl: string | undefined, connectionId: string): string | undefined {
  return publicUrl === undefined ? undefined : `${publicUrl}${webhookPath(connectionId)}`;
}
