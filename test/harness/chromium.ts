// A real headless Chromium (Debian's `chromium`) driven over the DevTools
// protocol on a pipe (--remote-debugging-pipe: JSON messages ending in NUL on
// file descriptors 3 and 4), so tests can load a page at a phone's width,
// measure it, read its DOM and take screenshots without any npm dependency.
// Start it once per test file; each page is a new tab.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';

export const CHROMIUM = process.env.CHROMIUM ?? 'chromium';

interface Pending {
  resolve(result: Record<string, unknown>): void;
  reject(err: Error): void;
  method: string;
}

type EventListener = (params: Record<string, unknown>, sessionId: string | undefined) => void;

export class Chromium {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Set<EventListener & { method: string }>();
  private buffer = '';
  private stderr = '';

  private constructor(
    private readonly proc: ChildProcess,
    private readonly profile: string,
  ) {
    const input = proc.stdio[4] as Readable;
    input.setEncoding('utf8');
    input.on('data', (chunk: string) => this.receive(chunk));
    proc.stderr?.on('data', (c: Buffer) => {
      this.stderr = (this.stderr + c.toString()).slice(-20_000);
    });
    proc.once('exit', () => {
      for (const p of this.pending.values()) p.reject(new Error(`chromium exited during ${p.method}:\n${this.stderr}`));
      this.pending.clear();
    });
  }

  static async launch(): Promise<Chromium> {
    const profile = mkdtempSync(join(tmpdir(), 'mailrelay-chromium-'));
    const proc = spawn(
      CHROMIUM,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--disable-default-apps',
        '--disable-extensions',
        '--no-first-run',
        '--hide-scrollbars',
        `--user-data-dir=${profile}`,
        '--remote-debugging-pipe',
        'about:blank',
      ],
      // Its own process group: close() ends the helpers (zygotes, crash handler) with it.
      { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'], detached: true },
    );
    const browser = new Chromium(proc, profile);
    await new Promise<void>((resolve, reject) => {
      proc.once('error', reject);
      proc.once('spawn', () => resolve());
    });
    await browser.send('Browser.getVersion');
    return browser;
  }

  /** One DevTools command; `sessionId` addresses a page. */
  send(method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    const message = JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) });
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, method });
      (this.proc.stdio[3] as Writable).write(`${message}\0`);
    });
  }

  on(method: string, listener: EventListener): () => void {
    const l = Object.assign(listener, { method });
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  /** A new tab at the given size (mobile: a touch phone's viewport), loaded with `url`. */
  async open(url: string, viewport: { width: number; height: number; mobile?: boolean }): Promise<Page> {
    const { targetId } = (await this.send('Target.createTarget', { url: 'about:blank' })) as { targetId: string };
    const { sessionId } = (await this.send('Target.attachToTarget', { targetId, flatten: true })) as { sessionId: string };
    const page = new Page(this, targetId, sessionId);
    await this.send('Page.enable', {}, sessionId);
    await this.send('Runtime.enable', {}, sessionId);
    await this.send(
      'Emulation.setDeviceMetricsOverride',
      { width: viewport.width, height: viewport.height, deviceScaleFactor: 1, mobile: viewport.mobile ?? false },
      sessionId,
    );
    await page.goto(url);
    return page;
  }

  async close(): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      const exited = new Promise((r) => this.proc.once('exit', r));
      this.signalGroup('SIGTERM');
      const timer = setTimeout(() => this.signalGroup('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    // The helpers can outlive the browser process and go on writing into the profile (seen: ENOTEMPTY
    // after ten tries of removing it): they are ended before it is removed.
    this.signalGroup('SIGKILL');
    rmSync(this.profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
  }

  /** Signals every process of Chromium's group; none left is not an error. */
  private signalGroup(signal: NodeJS.Signals): void {
    try {
      process.kill(-this.proc.pid!, signal);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  }

  private receive(chunk: string): void {
    this.buffer += chunk;
    for (let end = this.buffer.indexOf('\0'); end >= 0; end = this.buffer.indexOf('\0')) {
      const message = JSON.parse(this.buffer.slice(0, end)) as {
        id?: number;
        result?: Record<string, unknown>;
        error?: { message: string };
        method?: string;
        params?: Record<string, unknown>;
        sessionId?: string;
      };
      this.buffer = this.buffer.slice(end + 1);
      if (message.id !== undefined) {
        const p = this.pending.get(message.id);
        this.pending.delete(message.id);
        if (message.error) p?.reject(new Error(`${p.method}: ${message.error.message}`));
        else p?.resolve(message.result ?? {});
      } else if (message.method) {
        for (const l of this.listeners) if (l.method === message.method) l(message.params ?? {}, message.sessionId);
      }
    }
  }
}

export class Page {
  /** Dialogs (alert, confirm) the page opened: an injected script would show here. */
  readonly dialogs: string[] = [];

  constructor(
    private readonly browser: Chromium,
    readonly targetId: string,
    readonly sessionId: string,
  ) {
    browser.on('Page.javascriptDialogOpening', (params, session) => {
      if (session !== sessionId) return;
      this.dialogs.push(String(params.message));
      void browser.send('Page.handleJavaScriptDialog', { accept: true }, sessionId);
    });
  }

  async goto(url: string): Promise<void> {
    const loaded = new Promise<void>((resolve) => {
      const off = this.browser.on('Page.loadEventFired', (_p, session) => {
        if (session !== this.sessionId) return;
        off();
        resolve();
      });
    });
    const result = (await this.browser.send('Page.navigate', { url }, this.sessionId)) as { errorText?: string };
    if (result.errorText) throw new Error(`navigating to ${url}: ${result.errorText}`);
    await loaded;
  }

  /** Evaluates an expression in the page (DevTools evaluation is not subject to the page's CSP) and returns its value. */
  async evaluate<T>(expression: string): Promise<T> {
    const r = (await this.browser.send('Runtime.evaluate', { expression, returnByValue: true }, this.sessionId)) as {
      result: { value?: T };
      exceptionDetails?: { text: string; exception?: { description?: string } };
    };
    if (r.exceptionDetails) throw new Error(`${expression}: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
    return r.result.value as T;
  }

  /** A PNG at the viewport's width: of the whole page, or (full false) of the viewport. */
  async screenshot(full = true): Promise<Buffer> {
    const { data } = (await this.browser.send('Page.captureScreenshot', { format: 'png', captureBeyondViewport: full }, this.sessionId)) as { data: string };
    return Buffer.from(data, 'base64');
  }

  async close(): Promise<void> {
    await this.browser.send('Target.closeTarget', { targetId: this.targetId });
  }
}
