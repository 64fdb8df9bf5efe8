// A real HTTP receiver of rotor's notifications on 127.0.0.1, as a team would run one: it checks each
// webhook request's signature and CloudEvents fields, answers what the test says (a 500 for a while,
// or for ever), and keeps every request for the test to read.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, verifySignature } from '../../activities/notify/signature';

export interface Received {
  path: string;
  contentType: string;
  body: any;
  /** The signature check's verdict: null when valid (webhook requests only). */
  signatureProblem: string | null;
  /** What the receiver answered. */
  status: number;
}

export class NotifyReceiver {
  readonly received: Received[] = [];
  private server!: Server;
  private attempts = new Map<string, number>();

  /** `answer`: the status for a request to `path`, the nth (1-based) for its event id. */
  constructor(
    private readonly key: string,
    private readonly answer: (path: string, nth: number) => number = () => 200,
  ) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req).then((status) => res.writeHead(status).end(status < 300 ? 'ok' : 'not now')));
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return this;
  }

  url(path: string): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${path}`;
  }

  /** The requests to `path` answered with a 2xx. */
  delivered(path: string): Received[] {
    return this.received.filter((r) => r.path === path && r.status < 300);
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage): Promise<number> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const path = req.url ?? '/';
    const contentType = String(req.headers['content-type'] ?? '');
    const body = JSON.parse(text);
    const signatureProblem = contentType.startsWith('application/cloudevents+json')
      ? verifySignature(
          text,
          this.key,
          { signature: req.headers[SIGNATURE_HEADER.toLowerCase()] as string, timestamp: req.headers[TIMESTAMP_HEADER.toLowerCase()] as string },
          Date.now() / 1000,
        )
      : null;
    const id = `${path} ${body.id ?? body.text}`;
    const nth = (this.attempts.get(id) ?? 0) + 1;
    this.attempts.set(id, nth);
    // A request whose signature fails is refused, as a receiver must.
    const status = signatureProblem ? 401 : this.answer(path, nth);
    this.received.push({ path, contentType, body, signatureProblem, status });
    return status;
  }
}
