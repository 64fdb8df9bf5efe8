// The webhook sink's signature: HMAC-SHA256, with the worker's key, over `<timestamp>.<body>`, so a
// receiver knows the body came from rotor and a captured request cannot be replayed later (it checks
// the timestamp is recent and dedupes by the CloudEvent id). docs/notifications.md shows a receiver.
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'X-Rotor-Signature';
export const TIMESTAMP_HEADER = 'X-Rotor-Timestamp';
/** How old a signed request a receiver should still take (what the docs advise, and verifySignature uses). */
const MAX_AGE_SECONDS = 300;

function hmac(key: string, timestamp: string, body: string): string {
  return createHmac('sha256', key).update(`${timestamp}.${body}`).digest('hex');
}

/** The two headers that sign `body` at `nowSeconds` (unix seconds). */
export function signatureHeaders(body: string, key: string, nowSeconds: number): Record<string, string> {
  const timestamp = String(Math.floor(nowSeconds));
  return { [TIMESTAMP_HEADER]: timestamp, [SIGNATURE_HEADER]: `sha256=${hmac(key, timestamp, body)}` };
}

/**
 * What a receiver does: null when the headers sign `body` with `key` within five minutes of
 * `nowSeconds`, else why not. Compared in constant time.
 */
export function verifySignature(body: string, key: string, headers: { signature?: string; timestamp?: string }, nowSeconds: number): string | null {
  const { signature, timestamp } = headers;
  if (!signature || !timestamp) return `missing ${SIGNATURE_HEADER} or ${TIMESTAMP_HEADER}`;
  if (!/^\d+$/.test(timestamp) || Math.abs(nowSeconds - Number(timestamp)) > MAX_AGE_SECONDS)
    return `timestamp ${timestamp} is not within ${MAX_AGE_SECONDS} s of now`;
  const expected = Buffer.from(`sha256=${hmac(key, timestamp, body)}`);
  const given = Buffer.from(signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'signature does not match';
  return null;
}
