// Issue 18: the operations dashboard in a real browser (headless Chromium) against the whole product (gateway,
// api, scheduler on a private redis-server) with simulated devices over real UDP. Screenshots of every view
// land in test-results/dashboard/.
import type { Browser, Page } from 'playwright-core';
import { SimulatedDevice, type SimulatedDeviceOptions } from '@lwm2m/simulator';
import { UdpTransport } from '@lwm2m/udp';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { startTestServer, type TestServer } from '../support/single-node';
import { launchChromium, shot } from './browser';

const ADMIN = 'admin-key-0001';
const READER = 'read-key-00001';

let server: TestServer;
let browser: Browser;
const devices: SimulatedDevice[] = [];

beforeAll(async () => {
  [server, browser] = await Promise.all([
    startTestServer({ apiKeys: `ops=${ADMIN}:admin,viewer=${READER}:read` }),
    launchChromium(),
  ]);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await Promise.all(devices.map((d) => d.close()));
  await server?.stop();
});

async function device(
  endpoint: string,
  opts: Partial<SimulatedDeviceOptions> = {},
): Promise<SimulatedDevice> {
  const transport = await UdpTransport.bind({ port: 0, address: '127.0.0.1' });
  const dev = new SimulatedDevice({
    endpoint,
    transport,
    server: { address: '127.0.0.1', port: server.coapPort },
    lifetime: 300,
    sensorIntervalMs: 150,
    observeTickMs: 50,
    updateAt: 0,
    ...opts,
  });
  devices.push(dev);
  // start(): registers and moves the temperature every sensorIntervalMs (what the chart shows); a sleeper
  // only registers (its test puts it to sleep at once).
  if (opts.queueMode) await dev.register();
  else await dev.start();
  return dev;
}

/** A laptop-sized page; a step that waits longer than 10 s fails with the locator it waited for. */
async function newPage(): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1366, height: 800 } });
  page.setDefaultTimeout(10_000);
  onTestFailed(() => shot(page, `failed-${expect.getState().currentTestName?.slice(30, 60) ?? 'test'}`));
  return page;
}

/** Signs in with the keyboard only: Tab to the key's field, type, Enter. */
async function signIn(page: Page, key: string): Promise<void> {
  await page.goto(server.http);
  await page.getByLabel('API key').waitFor();
  await page.keyboard.press('Tab');
  await page.keyboard.type(key);
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Fleet' }).waitFor();
}

/** Form controls without an accessible name (a <label> or aria-label): none expected. */
function unlabelledControls(page: Page): Promise<string[]> {
  // Runs in the page; typed by hand because the project's tsconfig has no DOM lib (a `lib="dom"` reference
  // would change the Node types of every file).
  interface Control {
    labels: { length: number } | null;
    getAttribute(name: string): string | null;
    outerHTML: string;
  }
  return page.evaluate(() => {
    const doc = (globalThis as unknown as { document: { querySelectorAll(s: string): Iterable<Control> } })
      .document;
    return [...doc.querySelectorAll('input, select, textarea')]
      .filter((el) => el.labels?.length === 0 && !el.getAttribute('aria-label'))
      .map((el) => el.outerHTML.slice(0, 80));
  });
}

/** The points the chart has drawn (its svg carries the count). */
async function chartPoints(page: Page): Promise<number> {
  const n = await page.locator('figure.chart svg').first().getAttribute('data-points');
  return Number(n ?? 0);
}

describe('the dashboard in headless Chromium', () => {
  it('serves the page at / with a strict CSP and refuses a wrong key at sign-in', async () => {
    const res = await fetch(`${server.http}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(await res.text()).toContain('<div id="app">');
    const page = await newPage();
    await page.goto(server.http);
    await page.getByLabel('API key').fill('wrong-key-0000');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/not accepted/);
    await shot(page, '0-sign-in');
    await page.close();
  });

  it('signs in, sees devices appear live, reads /3/0 with names, writes /3/0/15, observes and charts', async () => {
    const page = await newPage();
    await signIn(page, ADMIN);
    await page.getByText('live', { exact: true }).waitFor();
    // Devices that register after the page opened appear without a reload (the event stream).
    await device('dash-1');
    await device('dash-2', { lwm2mVersion: '1.2' });
    await page.locator('tr[data-endpoint="dash-2"]').waitFor();
    // The totals are the api's, counted at most once per 5 s: the page reads them again by itself.
    await expect
      .poll(() => page.getByTestId('totals').textContent(), { timeout: 15_000 })
      .toMatch(/2 registered in all: 2 online, 0 asleep, 0 offline\. This page: 2 devices/);
    await shot(page, '1-fleet');
    expect(await unlabelledControls(page)).toEqual([]);

    await page.getByRole('link', { name: 'dash-1' }).click();
    await page.getByRole('heading', { name: 'Device dash-1' }).waitFor();
    // The object tree is named by the models.
    await page.getByText('/3 Device').waitFor();
    await page.getByRole('button', { name: 'Read /3/0', exact: true }).click();
    const readout = page.locator('table.readout').first();
    await readout.waitFor();
    await expect.poll(() => readout.textContent()).toContain('Manufacturer');
    expect(await page.getByTestId('oplog').textContent()).toMatch(/Read \/3\/0: 200/);

    await page.getByLabel('Value for /3/0/15').fill('Europe/Paris');
    await page.getByRole('button', { name: 'Write /3/0/15' }).click();
    await expect.poll(() => page.getByTestId('oplog').textContent()).toMatch(/Write \/3\/0\/15: 20\d/);
    await page.getByRole('button', { name: 'Read /3/0/15', exact: true }).click();
    await expect.poll(() => page.getByTestId('value-/3/0/15').textContent()).toBe('Europe/Paris');

    await page.getByRole('button', { name: 'Observe /3303/0/5700' }).click();
    await page.getByRole('button', { name: 'Cancel observation of /3303/0/5700' }).first().waitFor();
    await expect
      .poll(() => page.getByTestId('notifications').locator('tbody tr').count(), { timeout: 10_000 })
      .toBeGreaterThan(1);
    const before = await chartPoints(page);
    await expect.poll(() => chartPoints(page), { timeout: 10_000 }).toBeGreaterThan(before + 1);
    await shot(page, '2-device');
    expect(await unlabelledControls(page)).toEqual([]);

    // The audit trail (admin) names the key that wrote.
    await page.getByRole('button', { name: 'Refresh' }).click();
    await expect.poll(() => page.getByTestId('audit').textContent()).toContain('ops');

    await page.getByRole('link', { name: 'Live events' }).click();
    await page.getByLabel('Type').selectOption('notification');
    await expect.poll(() => page.locator('tr[data-type="notification"]').count()).toBeGreaterThan(0);
    expect(await page.locator('tbody tr:not([data-type="notification"])').count()).toBe(0);
    await shot(page, '3-events');

    await page.getByRole('link', { name: 'Cluster & metrics' }).click();
    await page.getByRole('heading', { name: 'Activity' }).waitFor();
    await expect.poll(() => page.locator('figure.chart svg').count(), { timeout: 12_000 }).toBe(1);
    await shot(page, '4-cluster');

    // Groups and campaigns come from other features: their view, or a clear "not available" on a 404.
    await page.getByRole('link', { name: 'Groups' }).click();
    await page.locator('.notice, [data-testid="groups"], p.muted').first().waitFor();
    await shot(page, '5-groups');
    await page.getByRole('link', { name: 'Firmware campaigns' }).click();
    await page.locator('.notice, [data-testid="campaigns"], p.muted').first().waitFor();
    await shot(page, '6-campaigns');
    await page.getByRole('link', { name: 'Bootstrap' }).click();
    await page.getByLabel('Endpoint').fill('dash-1');
    await page.getByRole('button', { name: 'Show' }).click();
    await page.getByText('No bootstrap configuration for "dash-1".').waitFor();
    await shot(page, '7-bootstrap');
    await page.close();
  }, 60_000);

  it('shows the 504 of a device that went to sleep, then its read queued until it wakes', async () => {
    const sleepy = await device('dash-sleepy', { lwm2mVersion: '1.1', queueMode: true, sleepMs: 3_600_000 });
    sleepy.sleep();
    const page = await newPage();
    await signIn(page, ADMIN);
    await page.goto(`${server.http}/#/devices/dash-sleepy`);
    await page.getByRole('heading', { name: 'Device dash-sleepy' }).waitFor();
    await page.getByLabel('Wait for the device').selectOption('2s');
    await page.getByRole('button', { name: 'Read /3/0/0', exact: true }).click();
    // A spinner while the api waits, then the 504.
    await page.getByRole('status').filter({ hasText: 'Read /3/0/0' }).first().waitFor();
    await expect.poll(() => page.getByTestId('oplog').textContent(), { timeout: 8_000 }).toMatch(/504/);
    await page.getByRole('button', { name: 'Read /3/0/1', exact: true }).click();
    await expect
      .poll(() => page.getByTestId('oplog').textContent())
      .toMatch(/queued for the sleeping device/);
    await page.locator('[data-testid="requests"] tr[data-state="queued"]').waitFor();
    await expect.poll(() => page.getByTestId('device-state').textContent()).toBe('asleep');
    await shot(page, '8-queued');
    // It wakes up: the queued read is delivered and the page shows it succeeded.
    await sleepy.wakeUp();
    await page.locator('[data-testid="requests"] tr[data-state="succeeded"]').waitFor({ timeout: 15_000 });
    await page.close();
  }, 45_000);

  it('shows fleet-wide totals by state beyond one page, and the recent group requests with their progress', async () => {
    // 8 more devices that only register: with those of the tests before, more than a page of 10.
    for (let i = 0; i < 8; i++) await device(`dash-many-${i}`, { queueMode: true, sleepMs: 3_600_000 });
    const api = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${server.http}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${ADMIN}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    /** The fleet's states as the api reports them item by item. */
    const fleetStates = async () => {
      const items = (await api('GET', '/api/v1/devices?limit=1000')).body.items as Array<{ state: string }>;
      return ['online', 'asleep', 'offline'].map((s) => items.filter((d) => d.state === s).length);
    };
    // One on the second page asleep (an unanswered read marks it: TS 1.2 Core 6.5), so the totals hold a
    // state the first page does not show.
    const zz = await device('dash-zz', { queueMode: true, sleepMs: 3_600_000 });
    zz.sleep();
    expect((await api('GET', '/api/v1/devices/dash-zz/data/3/0/0?timeout=500ms')).status).toBe(504);
    await expect.poll(async () => (await api('GET', '/api/v1/devices/dash-zz')).body.state).toBe('asleep');
    const page = await newPage();
    await signIn(page, READER);
    await page.getByLabel('Per page').selectOption('10');
    await expect.poll(() => page.locator('tbody tr[data-endpoint]').count()).toBe(10);
    const shown = async () =>
      Promise.all(
        ['online', 'asleep', 'offline'].map(async (s) =>
          Number(await page.locator(`[data-state-total="${s}"]`).textContent()),
        ),
      );
    // Polled until the page's totals (api-counted, up to 5 s old) agree with the devices' own states.
    await expect
      .poll(async () => JSON.stringify(await shown()) === JSON.stringify(await fleetStates()), {
        timeout: 20_000,
        interval: 500,
      })
      .toBe(true);
    const totals = await shown();
    expect(totals.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(12);
    expect(totals[1]).toBeGreaterThanOrEqual(1);
    expect(await page.locator('tbody tr[data-endpoint] .badge.asleep').count()).toBe(0);
    expect(await page.getByTestId('totals').textContent()).toMatch(
      /registered in all.*This page: 10 devices \(more/,
    );
    await shot(page, '10-fleet-totals');

    // A group request started through the api (not from this page) is in the page's list, with its progress.
    expect(
      (await api('POST', '/api/v1/groups', { name: 'dash-grp', endpoints: ['dash-1', 'dash-2'] })).status,
    ).toBe(201);
    const started = await api('POST', '/api/v1/groups/dash-grp/read', { path: '/3/0/0' });
    expect(started.status).toBe(202);
    await page.getByRole('link', { name: 'Groups' }).click();
    const row = page.locator(`[data-testid="recent-group-requests"] [data-id="${String(started.body.id)}"]`);
    await row.waitFor();
    await expect.poll(() => row.getAttribute('data-state'), { timeout: 15_000 }).toBe('completed');
    await expect.poll(() => row.textContent()).toMatch(/read \/3\/0\/0.*on dash-grp.*2\/2 succeeded/);
    // Filtered by state, the running ones only: it is not there.
    await page.getByRole('combobox', { name: /^State/ }).selectOption('running');
    await expect.poll(() => row.count()).toBe(0);
    await page.getByRole('combobox', { name: /^State/ }).selectOption('completed');
    await row.waitFor();
    await shot(page, '11-group-requests');
    await page.close();
  }, 60_000);

  it('offers a read-only key no button that writes', async () => {
    const page = await newPage();
    await signIn(page, READER);
    expect(await page.locator('.who').textContent()).toContain('(read)');
    await page.goto(`${server.http}/#/devices/dash-1`);
    await page.getByRole('button', { name: 'Read /3/0', exact: true }).waitFor();
    for (const name of [
      /^Write/,
      /^Observe/,
      /^Execute/,
      /^Create/,
      /^Delete/,
      /^Cancel/,
      /^Attributes/,
      /^De-register/,
    ]) {
      expect(await page.getByRole('button', { name }).count(), String(name)).toBe(0);
    }
    expect(await page.getByRole('textbox', { name: /^Value for/ }).count()).toBe(0);
    // Nor the admin-only views and panels.
    expect(await page.getByRole('link', { name: 'Bootstrap' }).count()).toBe(0);
    expect(await page.getByRole('heading', { name: 'Audit' }).count()).toBe(0);
    // Reading still works, and the live stream opened with a read key's token.
    await page.getByRole('button', { name: 'Read /3/0', exact: true }).click();
    await expect.poll(() => page.getByTestId('oplog').textContent()).toMatch(/Read \/3\/0: 200/);
    await page.getByText('live', { exact: true }).waitFor();
    await shot(page, '9-read-only');
    await page.close();
  });
});
