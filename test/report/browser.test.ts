/**
 * The report in a real browser (Debian chromium + playwright-core): the report of a collected
 * compromise bundle opens from its file with no request beyond the file itself, the timeline
 * draws one item per entry of the bundle's timeline (counted from the bundle with the
 * project's timeline builder, not hard-coded), every filter narrows it to the count the bundle
 * gives, the collector's actions are marked apart, text from the cluster stays text, and the
 * page prints. Screenshots and the PDF are kept in test-artifacts/ (gitignored).
 */
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Page } from 'playwright-core';
import { SEVERITIES } from '../../shared/audit/types.js';
import { runCli } from '../../shared/cli/main.js';
import { readNdjson } from '../../shared/evidence/ndjson.js';
import { reportAssets } from '../../shared/report/assets.js';
import { buildReportModel } from '../../shared/report/model.js';
import { renderReportHtml } from '../../shared/report/render.js';
import { verificationAtSealing } from '../../shared/report/verification.js';
import { buildTimeline } from '../../shared/timeline/build.js';
import type { TimelineEntry } from '../../shared/timeline/types.js';
import { captureIo } from './captureIo.js';
import { launchChromium, type TestBrowser } from './browser.js';
import { collectCompromiseRun, COLLECTOR_SA, type CompromiseRun } from './compromiseRun.js';

const ARTIFACTS = join(process.cwd(), 'test-artifacts');

let dir: string;
let run: CompromiseRun;
let reportFile: string;
let entries: TimelineEntry[];
let browser: TestBrowser;
let page: Page;
const requests: string[] = [];
const problems: string[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'aks-evidence-report-browser-'));
  await mkdir(ARTIFACTS, { recursive: true });
  run = await collectCompromiseRun(dir);
  reportFile = join(dir, 'report.html');
  const io = captureIo(dir);
  expect(await runCli(['report', run.dir, '-o', reportFile, '--expect-sha256', run.sealed.manifestSha256], io)).toBe(0);
  expect(io.out().trim()).toBe(reportFile);
  entries = (await buildTimeline(run.store)).entries;
  browser = await launchChromium();
  browser.context.on('request', (r) => requests.push(r.url()));
  page = await browser.context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  await page.goto(pathToFileURL(reportFile).href);
  await page.waitForSelector('body[data-ready="true"]');
}, 180_000);

afterAll(async () => {
  await browser?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Entries drawn now: one vis point each, counted once the drawing settles on `expected`. */
const DRAWN = `document.querySelectorAll('#timeline .vis-item.vis-point').length`;
async function drawnEntries(p: Page, expected: number): Promise<number> {
  await p.waitForFunction(`${DRAWN} === ${expected}`, undefined, { timeout: 10_000 }).catch(() => undefined);
  return Number(await p.evaluate(DRAWN));
}
const shown = async (p: Page): Promise<number> => Number(await p.locator('#tl-shown').textContent());
/** Rows of the table (entries matching the filters in the visible range), once it lists `expected`. */
async function tableRows(p: Page, expected: number): Promise<number> {
  await p.waitForFunction(`document.querySelectorAll('#tl-table tbody tr').length === ${expected}`, undefined, { timeout: 10_000 }).catch(() => undefined);
  return p.locator('#tl-table tbody tr').count();
}
const select = async (id: string, value: string): Promise<void> => {
  await page.selectOption(id, value);
};
async function clearFilters(): Promise<void> {
  await page.click('#tl-reset');
}
const rank = (e: TimelineEntry): number => (e.severity ? SEVERITIES.indexOf(e.severity) + 1 : 0);

describe('the report of a collected compromise bundle, in chromium', () => {
  test('the bundle gives a timeline worth testing: every source of activity, the collector, and entries of several users', async () => {
    const sources = new Set(entries.map((e) => e.source));
    for (const s of ['audit', 'events', 'containerlogs', 'commandhistory', 'collector', 'rbacfindings', 'workloadfindings', 'suspiciouspods']) expect(sources).toContain(s);
    expect(entries.filter((e) => e.source === 'commandhistory')).toHaveLength(run.manifest.sources.commandhistory!.records);
    expect(entries.filter((e) => e.source === 'collector')).toHaveLength(run.manifest.actions.length);
    expect(new Set(entries.map((e) => e.actor).filter(Boolean)).size).toBeGreaterThan(3);
    // One entry per audited request: the raw events, not again as their auditevents_CL rows.
    const ids = new Set<string>();
    for (const a of run.manifest.artifacts.filter((x) => x.source === 'audit' && x.path.endsWith('.audit.ndjson.gz'))) {
      for await (const e of readNdjson(run.store, a.path)) ids.add((e as { auditID: string }).auditID);
    }
    expect(ids.size).toBeGreaterThan(10);
    expect(entries.filter((e) => e.type === 'AuditEvent')).toHaveLength(ids.size);
  });

  test('opens from its file with no request of any kind beyond the file, and no script or policy error', () => {
    expect(requests).toEqual([pathToFileURL(reportFile).href]);
    expect(problems).toEqual([]);
  });

  test('the header names the case, run, cluster, requester and reason; verification passed with the expected hash', async () => {
    const header = await page.locator('header.top').innerText();
    expect(header).toContain('case-report');
    expect(header).toContain('aks-prod');
    expect(header).toContain(run.manifest.runId);
    expect(header).toContain('soc-analyst@contoso.example');
    expect(await page.locator('#verification-status').getAttribute('data-status')).toBe('passed');
    const checks = await page.locator('#verification table').innerText();
    expect(checks).toMatch(/passed\s+Independently recorded hash/);
    expect(checks).toContain(run.sealed.manifestSha256);
    expect(await page.locator('#case').innerText()).toContain('Defender for Containers: anonymous access granted cluster-admin');
  });

  test('the timeline draws one item per entry of the bundle', async () => {
    await page.click('#tl-fit');
    expect(await shown(page)).toBe(entries.length);
    expect(await drawnEntries(page, entries.length)).toBe(entries.length);
    expect(await tableRows(page, Math.min(entries.length, 500))).toBe(Math.min(entries.length, 500));
    expect(Number(await page.locator('#tl-inview').textContent())).toBe(entries.length);
    expect(Number(await page.locator('body').getAttribute('data-total'))).toBe(entries.length);
  });

  test("the collector's own actions are marked apart, and can be hidden", async () => {
    await clearFilters();
    const collector = entries.filter((e) => e.collector).length;
    // Its recorded execs (and its requests in the audit log, when the export window holds them).
    expect(collector).toBeGreaterThanOrEqual(run.manifest.actions.length);
    expect(await page.locator('#tl-table tbody tr.is-collector').count()).toBe(collector);
    // Its lane alone, fitted: its execs (a burst of milliseconds) are drawn apart, each marked.
    await select('#f-source', 'collector');
    const own = entries.filter((e) => e.source === 'collector').length;
    expect(await drawnEntries(page, own)).toBe(own);
    await page.waitForFunction(`document.querySelectorAll('#timeline .vis-item.vis-point.collector').length > 0`, undefined, { timeout: 10_000 }).catch(() => undefined);
    expect(await page.locator('#timeline .vis-item.vis-point.collector').count()).toBeGreaterThan(0);
    expect(await page.locator('#timeline .vis-item.vis-point:not(.collector)').count()).toBe(0);
    await clearFilters();
    await page.uncheck('#f-collector');
    expect(await shown(page)).toBe(entries.length - collector);
    expect(await drawnEntries(page, entries.length - collector)).toBe(entries.length - collector);
    await page.check('#f-collector');
  });

  test.each([
    ['#f-user', 'system:anonymous', (e: TimelineEntry) => e.actor === 'system:anonymous'],
    ['#f-user', COLLECTOR_SA, (e: TimelineEntry) => e.actor === COLLECTOR_SA],
    ['#f-namespace', 'kube-sys-tools', (e: TimelineEntry) => e.namespace === 'kube-sys-tools'],
    ['#f-pod', 'kube-sys-tools/node-agent-x9z8y', (e: TimelineEntry) => e.namespace === 'kube-sys-tools' && e.pod === 'node-agent-x9z8y'],
    ['#f-source', 'commandhistory', (e: TimelineEntry) => e.source === 'commandhistory'],
    ['#f-severity', '4', (e: TimelineEntry) => rank(e) >= 4],
  ])('filter %s = %s narrows the timeline to the entries the bundle has', async (id, value, keep) => {
    await clearFilters();
    const expected = entries.filter(keep).length;
    expect(expected).toBeGreaterThan(0);
    expect(expected).toBeLessThan(entries.length);
    await select(id, value);
    expect(await shown(page)).toBe(expected);
    expect(await drawnEntries(page, expected)).toBe(expected);
    expect(await tableRows(page, expected)).toBe(expected);
  });

  test('filters combine, text search narrows, and clearing brings everything back', async () => {
    await clearFilters();
    await select('#f-user', 'system:anonymous');
    await select('#f-severity', '4');
    const both = entries.filter((e) => e.actor === 'system:anonymous' && rank(e) >= 4).length;
    expect(await shown(page)).toBe(both);
    await clearFilters();
    await page.fill('#f-text', 'nsenter');
    const text = entries.filter((e) => `${e.summary} ${e.object ?? ''}`.toLowerCase().includes('nsenter')).length;
    expect(text).toBeGreaterThan(0);
    expect(await shown(page)).toBe(text);
    await clearFilters();
    expect(await shown(page)).toBe(entries.length);
  });

  test('clicking a timeline item selects its row; zoom buttons change the visible range', async () => {
    await clearFilters();
    await page.click('#tl-fit');
    const axis = async () => (await page.locator('#timeline .vis-time-axis .vis-text').allTextContents()).join('|');
    const before = await axis();
    expect(before).not.toBe('');
    await page.click('#tl-in');
    await page.click('#tl-in');
    const after = await axis();
    expect(after).not.toBe(before);
    await page.click('#tl-fit');
    // The collector's lane, fitted: its execs are drawn apart as dots (not one cluster box).
    await select('#f-source', 'collector');
    await page.waitForSelector('#timeline .vis-item.vis-dot', { timeout: 10_000 });
    // vis-timeline takes a tap (Hammer.js: press and release within 250 ms); on a loaded machine a
    // click can arrive slower than that, so it is tried a few times.
    for (let attempt = 0; attempt < 5 && (await page.locator('#tl-table tbody tr.selected').count()) === 0; attempt++) {
      await page.locator('#timeline .vis-item.vis-dot').first().click({ force: true });
      await page.waitForSelector('#tl-table tbody tr.selected', { timeout: 2_000 }).catch(() => undefined);
    }
    expect(await page.locator('#tl-table tbody tr.selected').count()).toBe(1);
    // And the other way: a row selects its item on the timeline.
    await page.locator('#tl-table tbody tr').nth(1).click();
    // The selection moves when the page has handled the click (later on a loaded machine).
    await page.waitForFunction(`document.querySelectorAll('#tl-table tbody tr.selected').length === 1`, undefined, { timeout: 5_000 }).catch(() => undefined);
    expect(await page.locator('#tl-table tbody tr.selected').count()).toBe(1);
    expect(await page.locator('#timeline .vis-item.vis-point.vis-selected').count()).toBe(1);
  });

  test('findings by severity name RBAC granting paths; exec commands list the collector, the audit log and shell history', async () => {
    const findings = await page.locator('#findings').innerText();
    expect(findings).toContain('ClusterRoleBinding anonymous-admin → ClusterRole cluster-admin');
    expect(findings).toContain('system:anonymous');
    const exec = await page.locator('#exec').innerText();
    expect(exec).toContain('nsenter -t 1 -m -u -i -n sh');
    expect(exec).toContain('<aks-evidence shell-history script: read-only>');
    expect(await page.locator('#exec tr.is-collector').count()).toBeGreaterThanOrEqual(run.manifest.actions.length);
    expect(exec).toContain('not the collector');
  });

  test('coverage lists every source and every gap of the manifest', async () => {
    const coverage = await page.locator('#coverage').innerText();
    for (const name of Object.keys(run.manifest.sources)) expect(coverage).toContain(name);
    const gaps = Object.values(run.manifest.sources).reduce((n, s) => n + s.gaps.length, 0) + run.manifest.gaps.length;
    expect(gaps).toBeGreaterThan(0);
    expect((await page.locator('#coverage details tbody tr').count()) + (await page.locator('#coverage > table.grid').nth(1).locator('tbody tr').count())).toBe(gaps);
  });

  test('the first view is the activity inside the collection window; the table lists what is in view', async () => {
    await page.reload();
    await page.waitForSelector('body[data-ready="true"]');
    await page.waitForTimeout(500); // the timeline's own first drawing must not move the window
    expect(await page.locator('#timeline .vis-timeline').isVisible()).toBe(true);
    const inView = Number(await page.locator('#tl-inview').textContent());
    expect(inView).toBeGreaterThan(0);
    expect(inView).toBeLessThan(entries.length); // old objects' creation times are outside the first view
    expect(await tableRows(page, inView)).toBe(inView);
    await page.click('#tl-fit');
    expect(await tableRows(page, entries.length)).toBe(entries.length);
    await page.reload();
    await page.waitForSelector('body[data-ready="true"]');
  });

  test('screenshots and a printed PDF are kept as test artifacts', async () => {
    await page.evaluate("window.scrollTo(0, document.getElementById('timeline-section').offsetTop - 48)");
    await page.screenshot({ path: join(ARTIFACTS, 'report-timeline.png') });
    await page.screenshot({ path: join(ARTIFACTS, 'report.png'), fullPage: true });
    const pdf = await page.pdf({ path: join(ARTIFACTS, 'report.pdf'), landscape: true, printBackground: true });
    expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
    for (const f of ['report-timeline.png', 'report.png']) {
      const png = await readFile(join(ARTIFACTS, f));
      expect(png.subarray(1, 4).toString()).toBe('PNG');
      expect((await stat(join(ARTIFACTS, f))).size).toBeGreaterThan(20_000);
    }
    // Printing opens every collapsed section and hides the controls.
    expect(await page.locator('details').count()).toBeGreaterThan(0);
    expect(await page.locator('details:not([open])').count()).toBe(0);
    await page.emulateMedia({ media: 'print' });
    expect(await page.locator('.filters').isVisible()).toBe(false);
    await page.emulateMedia({ media: 'screen' });
  });

  test('text from the cluster stays text: markup in a command or a log line is shown, never run or fetched', async () => {
    const model = await buildReportModel(run.store, { kind: 'sealing', verification: verificationAtSealing(run.manifest, run.store.location), generatorVersion: 'test' });
    const hostile = '<img src="https://attacker.example/x.png" onerror="window.__pwned=1"><script>window.__pwned=2</script>';
    model.timeline.items.push({
      t: run.manifest.endedAt,
      s: 'commandhistory',
      y: 'ShellCommand',
      a: `root${hostile}`,
      n: 'prod',
      p: `api${hostile}`,
      m: `curl ${hostile}`,
      e: 'sources/commandhistory/all.rows.ndjson.gz:1',
    });
    model.exec.history.push({ time: run.manifest.endedAt, approximateTime: false, where: `prod/api ${hostile}`, command: `echo ${hostile}` });
    model.findings.rbac.push({ ...model.findings.rbac[0]!, subject: `User ${hostile}`, grantPath: hostile });
    const file = join(dir, 'hostile.html');
    await writeFile(file, renderReportHtml(model, await reportAssets()));
    const seen: string[] = [];
    const hostilePage = await browser.context.newPage();
    hostilePage.on('request', (r) => seen.push(r.url()));
    hostilePage.on('dialog', (d) => void d.dismiss());
    await hostilePage.goto(pathToFileURL(file).href);
    await hostilePage.waitForSelector('body[data-ready="true"]');
    await hostilePage.fill('#f-text', 'attacker.example');
    expect(await shown(hostilePage)).toBe(1);
    await hostilePage.locator('#tl-table tbody tr').first().hover();
    await hostilePage.locator('#timeline .vis-item.vis-dot').first().hover({ force: true });
    expect(await hostilePage.evaluate('window.__pwned')).toBeUndefined();
    expect(await hostilePage.locator('img').count()).toBe(0);
    expect(await hostilePage.locator('#exec').innerText()).toContain('echo <img src="https://attacker.example/x.png"');
    expect(seen).toEqual([pathToFileURL(file).href]);
    await hostilePage.close();
  });
});
