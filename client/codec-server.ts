// `rotor codec-server`: Temporal's remote codec protocol over HTTP, with the worker's keys, so the
// Web UI (and `temporal workflow show --codec-endpoint`) can show what the codec encrypted.
//   POST /encode, POST /decode (also under a namespace prefix, /{namespace}/decode, as the Temporal
//   CLI may template it), body and answer in proto3 JSON:
//     { "payloads": [ { "metadata": { "encoding": "<base64>", ... }, "data": "<base64>" } ] }
//   CORS for the allowed origins (the Web UI's): a browser request from any other origin is refused.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { codecFromEnv, CodecKeyError, KEY_VAR, KEYS_FILE_VAR } from '../temporal/codec';
import { normalizeOrigin } from './cli-args';

/** A payload in proto3 JSON: every bytes field (each metadata value, the data) base64. */
interface JsonPayload {
  metadata?: Record<string, string> | null;
  data?: string | null;
}

export interface CodecServerOptions {
  codec: PayloadCodec;
  /** 0: any free port. */
  port: number;
  host: string;
  /** The origins (scheme://host:port) whose pages may call it: the Web UI's. */
  origins: string[];
  /** One line per refused or failed request (never payload contents). */
  log?: (line: string) => void;
}

export interface CodecServer {
  /** http://host:port, the value of --ui-codec-endpoint. */
  url: string;
  port: number;
  /** Lets pages of one more origin call it (the Web UI's, once its port is known). */
  allowOrigin(origin: string): void;
  close(): Promise<void>;
}

/** The largest request body it reads: the Web UI sends a page of payloads at once. */
const MAX_BODY = 16 * 1024 * 1024;
const ROUTE = /^(?:\/[^/]+)?\/(encode|decode)\/?$/;
/** Standard or URL-safe base64, as proto3 JSON parsers accept. */
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

class BadRequest extends Error {
  constructor(
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

function bytesFromBase64(value: unknown, where: string): Uint8Array {
  if (typeof value !== 'string' || !BASE64.test(value)) throw new BadRequest(`${where} must be a base64 string (proto3 JSON bytes)`);
  return Buffer.from(value, 'base64'); // Node's base64 decoder reads both alphabets
}

/** proto3 JSON to a Payload; what is malformed is named by its place in the request. */
function payloadFromJson(json: unknown, index = 0): Payload {
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw new BadRequest(`payloads[${index}] must be an object with metadata and data`);
  const { metadata, data } = json as JsonPayload;
  if (metadata !== undefined && metadata !== null && (typeof metadata !== 'object' || Array.isArray(metadata)))
    throw new BadRequest(`payloads[${index}].metadata must be an object of base64 strings`);
  return {
    metadata: Object.fromEntries(Object.entries(metadata ?? {}).map(([k, v]) => [k, bytesFromBase64(v, `payloads[${index}].metadata.${k}`)])),
    data: data === undefined || data === null ? new Uint8Array() : bytesFromBase64(data, `payloads[${index}].data`),
  };
}

/** A Payload to proto3 JSON (standard base64, padded). */
function payloadToJson(payload: Payload): JsonPayload {
  return {
    metadata: Object.fromEntries(Object.entries(payload.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? new Uint8Array()).toString('base64')])),
    data: Buffer.from(payload.data ?? new Uint8Array()).toString('base64'),
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(new BadRequest(`the request body is over ${MAX_BODY} bytes`, 413));
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body?: unknown): void {
  if (body === undefined) {
    res.writeHead(status, { 'Content-Length': '0' }).end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) }).end(text);
}

export async function startCodecServer(options: CodecServerOptions): Promise<CodecServer> {
  const { codec } = options;
  const origins = new Set(options.origins.map(normalizeOrigin));
  const log = options.log ?? (() => undefined);

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://codec').pathname;
    const route = ROUTE.exec(path)?.[1] as 'encode' | 'decode' | undefined;
    const origin = req.headers.origin;
    res.setHeader('Vary', 'Origin');
    if (origin !== undefined) {
      // A browser's request: only the Web UI's pages may read what this decrypts.
      if (!origins.has(origin)) {
        log(`refused ${req.method} ${path} from origin ${origin}: allowed are ${[...origins].join(', ')} (--origin)`);
        return send(res, 403, { error: `origin ${origin} is not allowed; start rotor codec-server with --origin ${origin}` });
      }
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Allow-Methods', 'POST');
      res.setHeader('Access-Control-Allow-Headers', 'content-type,x-namespace');
      res.setHeader('Access-Control-Max-Age', '600');
    }
    if (!route) return send(res, 404, { error: `no ${path} here; POST /encode or /decode` });
    if (req.method === 'OPTIONS') return send(res, 200);
    if (req.method !== 'POST') {
      res.setHeader('Allow', 'POST, OPTIONS');
      return send(res, 405, { error: `${req.method} ${path} is not served; POST it` });
    }
    let payloads: Payload[];
    try {
      let body: unknown;
      try {
        body = JSON.parse(await readBody(req));
      } catch (err) {
        if (err instanceof BadRequest) throw err;
        throw new BadRequest('the body is not JSON; send {"payloads":[{"metadata":{...},"data":"..."}]}');
      }
      const list = (body as { payloads?: unknown } | null)?.payloads;
      if (!Array.isArray(list)) throw new BadRequest('the body has no payloads array; send {"payloads":[{"metadata":{...},"data":"..."}]}');
      payloads = list.map((p, i) => payloadFromJson(p, i));
    } catch (err) {
      const status = err instanceof BadRequest ? err.status : 400;
      log(`refused POST ${path}: ${(err as Error).message}`);
      return send(res, status, { error: (err as Error).message });
    }
    try {
      const converted = route === 'encode' ? await codec.encode(payloads) : await codec.decode(payloads);
      return send(res, 200, { payloads: converted.map(payloadToJson) });
    } catch (err) {
      log(`${route} failed: ${(err as Error).message}`);
      return send(res, 422, { error: (err as Error).message });
    }
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err) => {
      log(`error on ${req.method} ${req.url}: ${(err as Error).message}`);
      if (!res.headersSent) send(res, 500, { error: 'internal error; see the codec server output' });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    url: `http://${host}:${port}`,
    port,
    allowOrigin: (origin) => void origins.add(normalizeOrigin(origin)),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

export interface CodecServerCommandOptions {
  port: number;
  host: string;
  origin: string[];
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

/**
 * `rotor codec-server`: the keys from the worker's environment, served until SIGINT or SIGTERM.
 * No keys (or bad ones): a CodecKeyError, exit code 2, before anything listens.
 */
export async function runCodecServer(
  opts: CodecServerCommandOptions,
  env: NodeJS.ProcessEnv = process.env,
  out = (line: string) => process.stdout.write(`${line}\n`),
  err = (line: string) => process.stderr.write(`${line}\n`),
): Promise<void> {
  const codec = codecFromEnv(env);
  if (!codec)
    throw new CodecKeyError([`no codec keys: set ${KEYS_FILE_VAR} to a file of id=<base64> lines (chmod 600), or ${KEY_VAR}=id=<base64>, as for the worker`]);
  let server: CodecServer;
  try {
    server = await startCodecServer({ codec, port: opts.port, host: opts.host, origins: opts.origin, log: (line) => err(`[codec-server] ${line}`) });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'EADDRINUSE' ? 'the port is in use' : code === 'EADDRNOTAVAIL' ? 'no such local address' : (e as Error).message;
    throw new Error(`cannot listen on ${opts.host}:${opts.port} (${why}); choose another with --port or --host`);
  }
  out(`codec server listening on ${server.url} (POST /encode, /decode); keys ${codec.keyIds.join(', ')}, encrypting with ${codec.current}`);
  out(`allowed origins: ${opts.origin.join(', ')}`);
  if (!LOOPBACK.test(opts.host)) err(`[codec-server] warning: listening on ${opts.host}; whoever can reach it can decrypt rotor's payloads`);
  out(`Web UI: TEMPORAL_UI_CODEC_ENDPOINT=${server.url} npm run dev-server   (or the namespace's Codec Server setting in the Web UI)`);
  out(`CLI:    temporal workflow show -w <id> --codec-endpoint ${server.url}`);
  out('Ctrl-C stops it');
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await server.close();
  out('codec server stopped');
}
