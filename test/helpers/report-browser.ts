// A `rotor report` page (or the demo's error-rate page) opened from its file in Debian's chromium,
// headless through puppeteer-core: what its charts drew, named vega mark by mark, what it asked the
// network for, its text, and a screenshot in test-artifacts/.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { launch } from 'puppeteer-core';
import { CHROMIUM_ARGS, chromiumPath } from '../../sandbox/browser';
import { repoRoot } from '../../sandbox/tools';

const ARTIFACTS = join(repoRoot, 'test-artifacts');

/** What the page's functions use of the DOM (tsconfig has no DOM library). */
type Box = { width: number; height: number };
type El = { getBoundingClientRect(): Box };
type InPage = { document: { querySelectorAll(s: string): El[]; body: { innerText: string } } };

export interface OpenedPage {
  /** Per named mark (a layer's `name`): the shapes vega drew for it, and how many take room on the page. */
  marks: Record<string, { shapes: number; sized: number }>;
  /** How many SVG charts, and script or img elements, the page holds. */
  svgs: number;
  scriptsOrImages: number;
  /** Every URL the page asked for (itself first). */
  requests: string[];
  text: string;
}

/** Opens `file`, reads what it drew of `names`, screenshots it to test-artifacts/<screenshot>.png, and closes chromium. */
export async function openInChromium(file: string, screenshot: string, names: string[]): Promise<OpenedPage> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const browser = await launch({ executablePath: chromiumPath(), headless: true, args: [...CHROMIUM_ARGS] });
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1000, height: 900 });
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
    const seen = await page.evaluate((names: string[]) => {
      const { document } = globalThis as unknown as InPage;
      const marks = Object.fromEntries(
        names.map((name) => {
          const shapes = [...document.querySelectorAll(`svg g.${name}_marks > *`)];
          const sized = shapes.filter((s) => {
            const r = s.getBoundingClientRect();
            return r.width > 0 || r.height > 0;
          });
          return [name, { shapes: shapes.length, sized: sized.length }];
        }),
      );
      return {
        marks,
        svgs: document.querySelectorAll('svg').length,
        scriptsOrImages: document.querySelectorAll('script, img').length,
        text: document.body.innerText,
      };
    }, names);
    await page.screenshot({ path: join(ARTIFACTS, `${screenshot}.png`), fullPage: true });
    return { ...seen, requests };
  } finally {
    await browser.close();
  }
}
