// Helpers for the browser tests: a static file server (node:http) that counts the bytes it sends
// per file, and Debian's headless Chromium driven by playwright-core.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { tempDir } from './cli.js';

export const CHROMIUM = process.env['WHITTLE_CHROMIUM'] ?? '/usr/bin/chromium';

/** Why the browser tests cannot run here, or undefined when they can. */
export function browserMissing(): string | undefined {
  if (!existsSync(CHROMIUM)) return `no Chromium at ${CHROMIUM}: install it (apt-get install -y chromium) or set WHITTLE_CHROMIUM to run the browser tests`;
  return undefined;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
};

export interface StaticServer {
  url: string;
  /** Bytes sent per request path. */
  sent: Map<string, number>;
  close(): Promise<void>;
}

/**
 * Serves `root` on 127.0.0.1; `overrides` replace the body of a path (e.g. a damaged model under
 * another prefix: '/bad/model.wtl'), and '/PREFIX/x' falls back to '/x'.
 */
export async function serveStatic(root: string, overrides: ReadonlyMap<string, Uint8Array> = new Map()): Promise<StaticServer> {
  const sent = new Map<string, number>();
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    let body = overrides.get(path);
    if (body === undefined) {
      const rel = normalize(path.replace(/^\/bad\//, '/')).replace(/^\/+/, '') || 'index.html';
      const file = join(root, rel);
      if (!file.startsWith(root) || !existsSync(file) || !statSync(file).isFile()) {
        res.writeHead(404).end();
        return;
      }
      body = readFileSync(file);
    }
    sent.set(path, (sent.get(path) ?? 0) + body.length);
    res.writeHead(200, { 'content-type': TYPES[extname(path)] ?? 'application/octet-stream', 'content-length': body.length, 'cache-control': 'no-store' });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}`, sent, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** A fresh headless Chromium profile; close it when done. */
export async function launchChromium(): Promise<BrowserContext> {
  const { chromium } = await import('playwright-core');
  const profile = tempDir();
  return chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1100, height: 900 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/**
 * Opens the page `whittle export --web` wrote at `url` in a new tab, collecting its console and
 * page errors, and waits until it has left its loading state (ready or failed).
 */
export async function openExportedPage(browser: BrowserContext, url: string): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (err) => errors.push(err.message));
  await page.goto(url);
  await page.waitForFunction("document.body.dataset.state !== 'loading'", undefined, { timeout: 40_000 });
  return { page, errors };
}
