#!/usr/bin/env node
// The leak check (after the tests, from scripts/run-tests.mjs): every secret value the tests used must
// be absent from every workflow history their servers kept and from the worker's and the CLI's output
// (test/helpers/leak.ts records both in .rotor/leak/). Searched raw, as base64 at each of the three
// alignments a value can have inside a larger base64 text (Temporal's payloads are base64 JSON), and
// as hex. A hit names the file and the value's first characters, never the value; it fails the build.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Values shorter than this are too common to mean a leak (key names, "true"). */
const MIN_LENGTH = 12;

/** The forms a value takes inside text: raw, hex, and the base64 run it leaves at each alignment. */
export function forms(value) {
  const bytes = Buffer.from(value, 'utf8');
  const out = [value, bytes.toString('hex'), bytes.toString('hex').toUpperCase()];
  for (let shift = 0; shift < 3; shift++) {
    // `shift` bytes before it: the characters that mix with its neighbours are dropped at both ends.
    const b64 = Buffer.concat([Buffer.alloc(shift), bytes]).toString('base64');
    const start = shift === 0 ? 0 : 4;
    const end = b64.length - 4;
    if (end - start >= 8) out.push(b64.slice(start, end));
  }
  return out;
}

export function leakCheck(dir) {
  let names;
  try {
    names = readdirSync(dir);
  } catch {
    return { checked: 0, values: 0, hits: [] };
  }
  const values = new Set();
  for (const name of names.filter((n) => n.startsWith('values-'))) {
    for (const v of JSON.parse(readFileSync(join(dir, name), 'utf8'))) if (v.length >= MIN_LENGTH) values.add(v);
  }
  const evidence = names.filter((n) => n.startsWith('history-') || n.startsWith('text-'));
  const searched = [...values].map((v) => ({ v, forms: forms(v) }));
  const hits = [];
  for (const name of evidence) {
    const text = readFileSync(join(dir, name), 'utf8');
    for (const { v, forms: f } of searched) {
      const form = f.find((x) => text.includes(x));
      if (form !== undefined)
        hits.push({
          file: name,
          value: `${v.slice(0, 4)}... (${v.length} characters)`,
          as: form === v ? 'raw' : /^[0-9a-fA-F]+$/.test(form) ? 'hex' : 'base64',
        });
    }
  }
  return { checked: evidence.length, values: values.size, hits };
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop())) {
  const dir = process.argv[2] ?? join(process.cwd(), '.rotor', 'leak');
  const { checked, values, hits } = leakCheck(dir);
  if (hits.length) {
    console.error(`[leak-check] FAILED: ${hits.length} secret value(s) found where none may be:`);
    for (const h of hits) console.error(`  ${h.file}: ${h.value} as ${h.as}`);
    process.exit(1);
  }
  console.error(`[leak-check] ${values} secret value(s) searched in ${checked} histories and logs: none found`);
}
