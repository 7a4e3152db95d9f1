import { createHash } from 'node:crypto';
import type { Severity } from '../audit/types.js';
import { SEVERITIES } from '../audit/types.js';
import { isHistoryCommand } from '../timeline/collector.js';
import type { ReportAssets } from './assets.js';
import { REPORT_SCRIPT } from './pageScript.js';
import { REPORT_STYLE } from './pageStyle.js';
import type { CheckStatus, ReportModel } from './types.js';

/**
 * One self-contained HTML document from a report model: styles, the timeline library, the
 * page script and the data are all inline. A Content-Security-Policy allows only these
 * scripts (by hash) and no connection of any kind, so the page cannot fetch anything even if
 * a bundle carried something that looked like markup. Every value from the bundle is escaped.
 */

const esc = (value: unknown): string => String(value ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);

/** JSON inside <script type="application/json">: nothing in it may close the element or open a comment. */
const scriptJson = (value: unknown): string =>
  JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');

/** Inline script text: `</script` cannot appear in it. */
const scriptText = (code: string): string => code.replace(/<\/(script)/gi, '<\\/$1');

const hashOf = (code: string): string => `'sha256-${createHash('sha256').update(code, 'utf8').digest('base64')}'`;

/** Lane names of the timeline. */
export const LANE_NAMES: Record<string, string> = {
  collector: 'Collector actions',
  audit: 'API audit log',
  commandhistory: 'Shell history',
  events: 'Kubernetes events',
  suspiciouspods: 'Pod settings',
  workloadfindings: 'Workload findings',
  rbacfindings: 'RBAC findings',
  containerlogs: 'Container logs',
};

const SOURCE_TITLES: Record<string, string> = {
  ...LANE_NAMES,
  collector: 'Collector',
  serviceaccounts: 'Service accounts',
  rbacbindings: 'RBAC bindings',
  cronjobs: 'CronJobs',
  networkpolicies: 'Network policies',
  snapshot: 'API snapshot',
  audit: 'API audit log',
};

const CHECK_LABEL: Record<CheckStatus, string> = {
  passed: 'passed',
  failed: 'FAILED',
  warning: 'warning',
  'not-configured': 'not configured',
  'not-checked': 'not checked',
};

const fmtNumber = (n: number): string => n.toLocaleString('en-US');
/** A comma-separated list, the first `max` items and how many more (the full list is in the bundle). */
function shortList(text: string, max = 12): string {
  const items = text.split(',').filter(Boolean);
  return items.length > max + 3 ? `${items.slice(0, max).join(', ')} and ${items.length - max} more` : items.join(', ');
}
const utc = (t: string | undefined): string => (t ? t.replace('T', ' ').replace(/(\.\d{3})\d*Z$/, '$1Z') : '');
const sevPill = (s: Severity | undefined): string => (s ? `<span class="pill sev-${s}">${s}</span>` : '');
const pill = (cls: string, text: string): string => `<span class="pill ${cls}">${esc(text)}</span>`;

function duration(start: string, end: string): string {
  const ms = Date.parse(end) - Date.parse(start);
  if (!Number.isFinite(ms) || ms < 0) return '';
  if (ms < 1000) return '< 1 s';
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s} s`;
  const m = Math.floor(s / 60);
  return m < 120 ? `${m} min ${s % 60} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

function since(seconds: number): string {
  if (seconds % 86400 === 0) return `${seconds / 86400} d`;
  if (seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}

function facts(rows: [string, string | undefined][]): string {
  const body = rows
    .filter((r): r is [string, string] => r[1] !== undefined && r[1] !== '')
    .map(([k, v]) => `<dt>${esc(k)}</dt><dd>${v}</dd>`)
    .join('');
  return `<dl class="facts">${body}</dl>`;
}

function table(
  head: string[],
  rows: string[][],
  options: { numeric?: number[]; scroll?: boolean; id?: string; className?: (i: number) => string; widths?: (string | undefined)[] } = {},
): string {
  const num = new Set(options.numeric ?? []);
  const cols = options.widths ? `<colgroup>${options.widths.map((w) => (w ? `<col style="width:${w}">` : '<col>')).join('')}</colgroup>` : '';
  const th = head.map((h, i) => `<th${num.has(i) ? ' class="num"' : ''}>${esc(h)}</th>`).join('');
  const tb = rows
    .map((r, ri) => `<tr${options.className ? ` class="${options.className(ri)}"` : ''}>${r.map((c, i) => `<td${num.has(i) ? ' class="num"' : ''}>${c}</td>`).join('')}</tr>`)
    .join('\n');
  const t = `<table class="grid${options.widths ? ' fixed' : ''}"${options.id ? ` id="${options.id}"` : ''}>${cols}<thead><tr>${th}</tr></thead><tbody>${tb}</tbody></table>`;
  return options.scroll ? `<div class="table-scroll">${t}</div>` : t;
}

function severityCounts(list: { severity: Severity }[]): Record<Severity, number> {
  const out = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
  for (const x of list) out[x.severity]++;
  return out;
}

function header(m: ReportModel): string {
  const man = m.manifest;
  const cluster = man.cluster.name ?? man.cluster.server;
  const v = m.verification;
  const badge = v.status === 'passed' ? '✔ Verified' : v.status === 'failed' ? '✖ Verification failed' : 'Not verified in this document';
  return `<header class="top"><div class="wrap">
<div class="kicker">aks-evidence · forensic evidence report${m.kind === 'sealing' ? ' · written at sealing' : ''}</div>
<h1>Case ${esc(man.caseId)} — ${esc(cluster)}</h1>
<div class="sub"><span>Run ${esc(man.runId)}</span><span>Collected ${esc(utc(man.startedAt))} → ${esc(utc(man.endedAt))}</span>${man.request.requester ? `<span>Requested by ${esc(man.request.requester)}</span>` : ''}</div>
<div class="banner ${v.status}" id="verification-status" data-status="${v.status}">${badge}<span style="font-weight:400">${esc(v.headline)}</span></div>
</div></header>`;
}

function nav(): string {
  const links: [string, string][] = [
    ['case', 'Case'],
    ['verification', 'Verification'],
    ['coverage', 'Coverage & gaps'],
    ['timeline-section', 'Timeline'],
    ['findings', 'Findings'],
    ['exec', 'Exec & commands'],
    ['artifacts', 'Artifacts'],
  ];
  return `<nav class="toc"><div class="wrap">${links.map(([id, t]) => `<a href="#${id}">${t}</a>`).join('')}</div></nav>`;
}

function summaryFigures(m: ReportModel): string {
  const sources = Object.values(m.manifest.sources);
  const byStatus = (s: string) => sources.filter((x) => x.status === s).length;
  const gapCount = m.gaps.runLevel.length + Object.values(m.gaps.bySource).reduce((n, g) => n + g.length, 0);
  const all = [...m.findings.rbac.filter((f) => !f.expected), ...m.findings.workloads, ...m.findings.pods, ...m.findings.audit];
  const sev = severityCounts(all);
  const records = sources.reduce((n, s) => n + s.records, 0);
  const fig = (k: string, v: string, d: string) => `<div class="figure"><div class="k">${esc(k)}</div><div class="v">${v}</div><div class="d">${d}</div></div>`;
  return `<div class="figures">
${fig('Verification', pill(`st-${m.verification.status}`, m.verification.status === 'not-checked' ? 'not checked' : m.verification.status), m.verification.status === 'not-checked' ? 'written at sealing: run aks-evidence verify' : `${m.verification.checks.filter((c) => c.status === 'passed').length} of ${m.verification.checks.length} checks passed`)}
${fig('Sources', String(sources.length), `${byStatus('complete')} complete · ${byStatus('partial')} partial · ${byStatus('failed')} failed · ${byStatus('skipped')} skipped`)}
${fig('Records', fmtNumber(records), `${fmtNumber(m.artifacts.length)} artifacts`)}
${fig('Gaps', fmtNumber(gapCount), `${m.gaps.runLevel.length} run-level`)}
${fig('Findings', `${sev.critical + sev.high}`, `${sev.critical} critical · ${sev.high} high · ${sev.medium} medium`)}
${fig('Collector execs', String(m.exec.collector.length), 'read-only shell-history reads')}
</div>`;
}

function caseSection(m: ReportModel): string {
  const man = m.manifest;
  const r = man.request;
  const c = man.cluster;
  const col = man.collector;
  const left = facts([
    ['Case', esc(man.caseId)],
    ['Run', `<code>${esc(man.runId)}</code>`],
    ['Incident', r.incidentId ? `<code>${esc(r.incidentId)}</code>` : undefined],
    ['Requested by', esc(r.requester ?? 'not recorded')],
    ['Reason', esc(r.reason ?? 'not recorded')],
    ['Collection started', `${esc(utc(man.startedAt))}`],
    ['Collection ended', `${esc(utc(man.endedAt))} <span class="muted">(${esc(duration(man.startedAt, man.endedAt))})</span>`],
    ['Window', `logs and audit events since ${esc(since(r.sinceSeconds))} before the run`],
    ['Sources requested', esc(r.sources.join(', '))],
    ['Namespaces', r.namespaces?.length ? esc(r.namespaces.join(', ')) : r.excludeNamespaces?.length ? `all except ${esc(r.excludeNamespaces.join(', '))}` : 'all'],
    ['Priority pods', r.priorityPods?.length ? esc(r.priorityPods.join(', ')) : undefined],
  ]);
  const right = facts([
    ['Cluster', esc(c.name ?? '')],
    ['API server', `<code>${esc(c.server)}</code>`],
    ['Resource id', c.resourceId ? `<code>${esc(c.resourceId)}</code>` : undefined],
    ['Kubernetes version', c.kubernetesVersion ? esc(c.kubernetesVersion) : undefined],
    ['Collector', `${esc(col.tool)} ${esc(col.version)}${col.gitCommit ? ` <span class="muted">(commit ${esc(col.gitCommit.slice(0, 12))})</span>` : ''}`],
    ['Runtime', `${esc(col.runtime)} on ${esc(col.host)}`],
    ['Collector identity', esc(col.identity ?? 'not recorded')],
    ['Evidence location', `<code>${esc(m.location)}</code>`],
    ['Report written', `${esc(utc(m.generatedAt))} by aks-evidence ${esc(m.generator.version)}${m.kind === 'sealing' ? ' (at sealing, before the manifest)' : ''}`],
  ]);
  return `<section class="card" id="case"><h2>Case</h2><p class="lead">Who asked for this collection, why, and what was collected from where. All times are UTC.</p>
${summaryFigures(m)}
<div class="cols" style="margin-top:14px">${left}${right}</div></section>`;
}

function verificationSection(m: ReportModel): string {
  const v = m.verification;
  const rows = v.checks.map((c) => [pill(`st-${c.status}`, CHECK_LABEL[c.status]), esc(c.name), esc(c.detail)]);
  const problems = v.problems.length
    ? `<h3>Problems <span class="count">(${v.problems.length})</span></h3><ul class="plain">${v.problems.map((p) => `<li class="problem">${esc(p)}</li>`).join('')}</ul>`
    : '';
  const warnings = v.warnings.length ? `<h3>Warnings</h3><ul class="plain">${v.warnings.map((p) => `<li>${esc(p)}</li>`).join('')}</ul>` : '';
  return `<section class="card" id="verification"><h2>Verification</h2>
<p class="lead">${esc(v.headline)}${v.verifiedAt ? ` Checked ${esc(utc(v.verifiedAt))}.` : ''}</p>
${v.manifestSha256 ? facts([['Manifest SHA-256', `<code>${esc(v.manifestSha256)}</code>`]]) : ''}
${table(['Status', 'Check', 'Detail'], rows)}
${problems}${warnings}
<p class="muted small">Re-check at any time: <code>aks-evidence verify ${esc(m.location)}</code>. A check that is "not configured" was not asked for; "not checked" means this document could not run it.</p>
</section>`;
}

function gapRows(gaps: ReportModel['gaps']['runLevel']): string[][] {
  return gaps.map((g) => [
    esc(SOURCE_TITLES[g.source] ?? g.source),
    `<code>${esc(g.reason)}</code>`,
    esc(g.resource ?? [g.namespace, g.pod, g.container].filter(Boolean).join('/')),
    esc(g.detail),
  ]);
}

const GAP_WIDTHS = ['160px', '190px', '300px', undefined];

function coverageSection(m: ReportModel): string {
  const rows = Object.entries(m.manifest.sources)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, s]) => [
      `${esc(SOURCE_TITLES[name] ?? name)} <span class="muted small">${esc(name)}</span>`,
      pill(`st-${s.status}`, s.status),
      fmtNumber(s.records),
      fmtNumber(s.rawObjects),
      fmtNumber(s.artifacts.length),
      s.gaps.length ? `<a href="#gaps-${esc(name)}">${fmtNumber(s.gaps.length)}</a>` : '0',
      s.apiRequests !== undefined ? fmtNumber(s.apiRequests) : '',
      esc(s.startedAt && s.endedAt ? duration(s.startedAt, s.endedAt) : ''),
    ]);
  const runLevel = m.gaps.runLevel.length
    ? `<h3>Run-level gaps <span class="count">(${m.gaps.runLevel.length})</span></h3>${table(['Source', 'Reason', 'Concerning', 'Detail'], gapRows(m.gaps.runLevel), { widths: GAP_WIDTHS })}`
    : '<h3>Run-level gaps</h3><p class="muted">None.</p>';
  const perSource = Object.entries(m.gaps.bySource)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, gaps]) => {
      const reasons = new Map<string, number>();
      for (const g of gaps) reasons.set(g.reason, (reasons.get(g.reason) ?? 0) + 1);
      const why = [...reasons].map(([r, n]) => `${n} ${r}`).join(', ');
      return `<details id="gaps-${esc(name)}"${gaps.length <= 10 ? ' open' : ''}><summary>${esc(SOURCE_TITLES[name] ?? name)} — ${fmtNumber(gaps.length)} gap(s) <span class="muted">(${esc(why)})</span></summary>
${table(['Source', 'Reason', 'Concerning', 'Detail'], gapRows(gaps), { scroll: gaps.length > 15, widths: GAP_WIDTHS })}</details>`;
    })
    .join('\n');
  return `<section class="card" id="coverage"><h2>Coverage and gaps</h2>
<p class="lead">What each source collected, and every piece of evidence that should exist but could not be collected, with the reason.</p>
${table(['Source', 'Status', 'Records', 'Raw objects', 'Artifacts', 'Gaps', 'API requests', 'Took'], rows, { numeric: [2, 3, 4, 5, 6] })}
${runLevel}
<h3>Gaps per source <span class="count">(${fmtNumber(Object.values(m.gaps.bySource).reduce((n, g) => n + g.length, 0))})</span></h3>
${perSource || '<p class="muted">None.</p>'}
</section>`;
}

function timelineSection(m: ReportModel): string {
  const tl = m.timeline;
  const omittedTotal = Object.values(tl.omitted).reduce((n, x) => n + x, 0);
  const omitted = omittedTotal
    ? `<div class="note warn">This report embeds ${fmtNumber(tl.maxItems)} timeline entries; ${fmtNumber(omittedTotal)} more in the bundle were left out (lowest-ranked first: container log lines, then the collector's own execs and reads): ${Object.entries(
        tl.omitted,
      )
        .map(([s, n]) => `${esc(SOURCE_TITLES[s] ?? s)} ${fmtNumber(n)}`)
        .join(', ')}. Every entry: <code>aks-evidence timeline ${esc(m.location)} --format csv</code>.</div>`
    : '';
  const notes = tl.notes.length ? `<ul class="plain muted small">${tl.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>` : '';
  const sevOptions = [
    ['', 'any'],
    ['1', 'info and above'],
    ['2', 'low and above'],
    ['3', 'medium and above'],
    ['4', 'high and above'],
    ['5', 'critical'],
  ]
    .map(([v, t]) => `<option value="${v}">${t}</option>`)
    .join('');
  return `<section class="card" id="timeline-section"><h2>Timeline</h2>
<p class="lead">Everything the bundle dates, on one time axis (UTC): API audit events with their labels, Kubernetes events, shell history, findings, container logs, and the collector's own actions (purple squares, so they are not mistaken for the attacker's). Drag to move, Ctrl + wheel to zoom, hover a dot for its text, click it for its row below.</p>
${omitted}
<div class="filters">
<label>Source<select id="f-source"><option value="">all sources</option></select></label>
<label>Severity<select id="f-severity">${sevOptions}</select></label>
<label>User / service account<select id="f-user"><option value="">anyone</option></select></label>
<label>Namespace<select id="f-namespace"><option value="">all namespaces</option></select></label>
<label>Pod<select id="f-pod"><option value="">all pods</option></select></label>
<label>Text<input type="search" id="f-text" placeholder="command, object, rule…"></label>
<label class="check"><input type="checkbox" id="f-collector" checked> collector's own actions</label>
</div>
<div class="toolbar"><button type="button" id="tl-fit">Fit all</button><button type="button" id="tl-in">Zoom in</button><button type="button" id="tl-out">Zoom out</button><button type="button" id="tl-reset">Clear filters</button>
<span class="counter"><b id="tl-shown">0</b> of <span id="tl-total">0</span> entries match the filters · <b id="tl-inview">0</b> in the visible range</span></div>
<div id="timeline"></div>
<div class="legend"><span><i style="background:#7f1d1d"></i>critical</span><span><i style="background:#d92d20"></i>high</span><span><i style="background:#f79009"></i>medium</span><span><i style="background:#2e90fa"></i>low</span><span><i style="background:#98a2b3"></i>info / none</span><span><i style="background:#6b21a8;border-radius:0"></i>collector's own action</span><span>~ time not recorded by the source (collection time)</span></div>
${notes}
<h3>Entries in the visible range <span class="count">(zoom or drag the timeline to change it; "Fit all" lists every entry that matches the filters)</span></h3>
<div class="table-scroll"><table class="grid" id="tl-table"><colgroup><col style="width:190px"><col style="width:130px"><col style="width:100px"><col style="width:15%"><col style="width:15%"><col><col style="width:150px"></colgroup><thead><tr><th>Time (UTC)</th><th>Source</th><th>Severity</th><th>Actor</th><th>Namespace/pod</th><th>What</th><th>Evidence</th></tr></thead><tbody></tbody></table></div>
<button type="button" id="tl-more" class="no-print" hidden></button>
</section>`;
}

function truncatedNote(m: ReportModel, key: string): string {
  const n = m.findings.truncated[key];
  return n ? `<p class="note warn">${fmtNumber(n)} more row(s) are in the bundle than this report lists.</p>` : '';
}

const RBAC_HEAD = ['Severity', 'Finding', 'Subject', 'Scope', 'Granted by', 'Workloads running as it'];
const RBAC_WIDTHS = ['90px', '200px', '210px', '110px', undefined, '230px'];

function findingsSection(m: ReportModel): string {
  const f = m.findings;
  const rbacShown = f.rbac.filter((x) => !x.expected);
  const rbacExpected = f.rbac.filter((x) => x.expected);
  const all = [...rbacShown, ...f.workloads, ...f.pods, ...f.audit];
  const counts = severityCounts(all);
  const bar = `<div class="sevbar">${[...SEVERITIES]
    .reverse()
    .map((s) => `${sevPill(s)} <span>${fmtNumber(counts[s])}</span>`)
    .join(' &nbsp; ')}</div>`;
  const rbacRow = (x: ReportModel['findings']['rbac'][number]): string[] => [
    sevPill(x.severity),
    `<b>${esc(x.title)}</b><div class="muted small"><code>${esc(x.ruleId)}</code></div>`,
    esc(x.subject),
    esc(x.scope),
    `<code>${esc(x.grantPath)}</code><div class="muted small">${esc(shortList(x.verbs))} on ${esc(shortList(x.resources))}</div>`,
    x.workloads.length
      ? x.workloads.slice(0, 5).map(esc).join('<br>') + (x.workloads.length > 5 ? `<br><span class="muted">and ${x.workloads.length - 5} more</span>` : '')
      : '<span class="muted">none</span>',
  ];
  const rbac = `<h3>RBAC: who can do what <span class="count">(${rbacShown.length})</span></h3>
${rbacShown.length ? table(RBAC_HEAD, rbacShown.map(rbacRow), { scroll: rbacShown.length > 25, widths: RBAC_WIDTHS }) : '<p class="muted">None.</p>'}
${rbacExpected.length ? `<details><summary>Documented defaults of Kubernetes / AKS <span class="muted">(${rbacExpected.length}, expected)</span></summary>${table(RBAC_HEAD, rbacExpected.map(rbacRow), { scroll: rbacExpected.length > 25, widths: RBAC_WIDTHS })}</details>` : ''}
${truncatedNote(m, 'rbac')}`;
  const audit = `<h3>Audit log detections <span class="count">(${f.audit.length})</span></h3>
${
  f.audit.length
    ? table(
        ['Severity', 'Time (UTC)', 'Detection', 'User', 'Request', 'Client', 'Answer'],
        f.audit.map((x) => [
          sevPill(x.severity),
          `<span class="mono nowrap">${esc(utc(x.time))}</span>`,
          `<b>${esc(x.title)}</b><div class="muted small"><code>${esc(x.ruleId)}</code></div>`,
          esc(x.user),
          esc(x.action),
          esc(x.sourceIp ?? ''),
          x.responseCode !== undefined ? String(x.responseCode) : '',
        ]),
        { scroll: f.audit.length > 25, widths: ['90px', '170px', '240px', '200px', undefined, '120px', '70px'] },
      )
    : '<p class="muted">None (no audit events in this bundle, or none matched a rule).</p>'
}
${truncatedNote(m, 'audit')}`;
  const workloads = `<h3>Dangerous workload settings <span class="count">(${f.workloads.length})</span></h3>
${
  f.workloads.length
    ? table(
        ['Severity', 'Finding', 'Object', 'Field', 'Details'],
        f.workloads.map((x) => [
          sevPill(x.severity),
          `<b>${esc(x.title)}</b><div class="muted small"><code>${esc(x.ruleId)}</code></div>`,
          `${esc(x.object)}${x.container ? `<div class="muted small">container ${esc(x.container)}</div>` : ''}${x.serviceAccount ? `<div class="muted small">runs as ${esc(x.serviceAccount)}</div>` : ''}`,
          `<code>${esc(x.fieldPath)}</code>`,
          esc(x.details),
        ]),
        { scroll: f.workloads.length > 25, widths: ['90px', '220px', '240px', '260px', undefined] },
      )
    : '<p class="muted">None.</p>'
}
${truncatedNote(m, 'workloads')}`;
  const pods = `<h3>Running pods with dangerous settings <span class="count">(${f.pods.length})</span></h3>
${
  f.pods.length
    ? table(
        ['Severity', 'Setting', 'Pod', 'Field', 'Details'],
        f.pods.map((x) => [
          sevPill(x.severity),
          `<code>${esc(x.issue)}</code>`,
          `${esc(x.pod)}${x.container ? `<div class="muted small">container ${esc(x.container)}</div>` : ''}`,
          `<code>${esc(x.fieldPath)}</code>`,
          esc(x.details),
        ]),
        { scroll: f.pods.length > 25, widths: ['90px', '150px', '240px', '260px', undefined] },
      )
    : '<p class="muted">None.</p>'
}
${truncatedNote(m, 'pods')}`;
  return `<section class="card" id="findings"><h2>Findings by severity</h2>
<p class="lead">What the analyzers found in the collected objects and the audit log, highest severity first. RBAC findings name the path that grants each capability.</p>
${bar}${rbac}${audit}${workloads}${pods}</section>`;
}

function commandText(argv: readonly string[]): string {
  if (isHistoryCommand(argv)) return `${argv[0] ?? ''} -c <aks-evidence shell-history script: read-only>`;
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

function execSection(m: ReportModel): string {
  const e = m.exec;
  const collector = e.collector.length
    ? table(
        ['Time (UTC)', 'Pod (container)', 'Command', 'Outcome', 'Took'],
        e.collector.map((a) => [
          `<span class="mono nowrap">${esc(utc(a.at))}</span>`,
          `${esc(a.namespace)}/${esc(a.pod)} <span class="muted">(${esc(a.container)})</span>`,
          `<code>${esc(commandText(a.command))}</code>`,
          `${esc(a.outcome)}${a.exitCode !== undefined ? ` <span class="muted">exit ${a.exitCode}</span>` : ''}${a.detail ? `<div class="muted small">${esc(a.detail)}</div>` : ''}`,
          a.durationMs !== undefined ? `<span class="nowrap">${fmtNumber(a.durationMs)} ms</span>` : '',
        ]),
        { scroll: e.collector.length > 20, className: () => 'is-collector', widths: ['200px', '330px', undefined, '280px', '90px'] },
      )
    : '<p class="muted">None: the collector ran no command in any container.</p>';
  const audit = e.audit.length
    ? table(
        ['Time (UTC)', 'User', 'Exec', 'Whose'],
        e.audit.map((x) => [
          `<span class="mono nowrap">${esc(utc(x.time))}</span>`,
          esc(x.user),
          `<code>${esc(x.what)}</code>`,
          x.collector ? `${pill('collector', 'collector')}<div class="muted small">${esc(x.collectorReason ?? '')}</div>` : '<b>not the collector</b>',
        ]),
        { scroll: e.audit.length > 20, className: (i) => (e.audit[i]?.collector ? 'is-collector' : ''), widths: ['200px', '240px', undefined, '240px'] },
      )
    : '<p class="muted">None in this bundle (no audit events collected, or no exec/attach requests).</p>';
  const history = e.history.length
    ? table(
        ['Time (UTC)', 'Pod (container)', 'User', 'History file', 'Command'],
        e.history.map((x) => [
          `<span class="mono nowrap">${x.approximateTime ? '<span title="no timestamp in the history file: collection time">~</span>' : ''}${esc(utc(x.time))}</span>`,
          esc(x.where),
          esc(x.user ?? ''),
          `<code>${esc(x.file ?? '')}</code>`,
          `<code>${esc(x.command)}</code>`,
        ]),
        { scroll: e.history.length > 25, widths: ['200px', '300px', '90px', '180px', undefined] },
      )
    : '<p class="muted">None: no shell history was found in the containers read.</p>';
  return `<section class="card" id="exec"><h2>Exec and commands</h2>
<p class="lead">Commands run inside containers: by the collector (recorded in the manifest, so they are not mistaken for the attacker's), as the API audit log shows them, and as the containers' own shell histories recorded them.</p>
<h3>The collector's own execs <span class="count">(${e.collector.length})</span></h3>${collector}
<h3>Exec and attach requests in the audit log <span class="count">(${e.audit.length})</span></h3>${audit}
<h3>Shell history <span class="count">(${e.history.length})</span></h3>${history}${truncatedNote(m, 'history')}
</section>`;
}

function artifactsSection(m: ReportModel): string {
  const rows = m.artifacts.map((a) => [
    `<code>${esc(a.path)}</code>`,
    esc(a.source),
    esc(a.kind),
    fmtNumber(a.records),
    fmtNumber(a.bytes),
    `<code class="small">${esc(a.sha256)}</code>`,
  ]);
  return `<section class="card" id="artifacts"><h2>Artifacts</h2>
<p class="lead">Every file the manifest lists, with the SHA-256 computed while it was written.${m.kind === 'sealing' ? ' This report itself is listed in manifest.json (a file cannot contain its own hash).' : ''}</p>
<details${m.artifacts.length <= 40 ? ' open' : ''}><summary>${fmtNumber(m.artifacts.length)} artifact(s), ${fmtNumber(m.artifacts.reduce((n, a) => n + a.bytes, 0))} bytes</summary>
${table(['Path', 'Source', 'Kind', 'Records', 'Bytes', 'SHA-256'], rows, { numeric: [3, 4], scroll: m.artifacts.length > 40 })}</details>
</section>`;
}

/** The whole document. */
export function renderReportHtml(model: ReportModel, assets: ReportAssets): string {
  const end = Date.parse(model.manifest.endedAt);
  const window = { from: new Date(end - model.manifest.request.sinceSeconds * 1000).toISOString(), to: model.manifest.endedAt };
  const data = scriptJson({ items: model.timeline.items, lanes: LANE_NAMES, window });
  const library = scriptText(assets.timelineScript);
  const page = scriptText(REPORT_SCRIPT);
  // Only these two scripts may run; nothing may be fetched (default-src 'none', no connect/img/font sources).
  const csp = [`default-src 'none'`, `script-src ${hashOf(library)} ${hashOf(page)}`, `style-src 'unsafe-inline'`, `img-src data:`, `base-uri 'none'`, `form-action 'none'`].join(
    '; ',
  );
  const title = `aks-evidence report — case ${model.manifest.caseId}, run ${model.manifest.runId}`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${esc(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="aks-evidence ${esc(model.generator.version)}; ${esc(assets.library)}">
<meta name="referrer" content="no-referrer">
<title>${esc(title)}</title>
<style>${assets.timelineStyle}</style>
<style>${REPORT_STYLE}</style>
</head>
<body>
${header(model)}
${nav()}
<main class="wrap">
${caseSection(model)}
${verificationSection(model)}
${coverageSection(model)}
${timelineSection(model)}
${findingsSection(model)}
${execSection(model)}
${artifactsSection(model)}
<footer class="foot">Written by aks-evidence ${esc(model.generator.version)} at ${esc(utc(model.generatedAt))} from the bundle at <code>${esc(model.location)}</code>. This document is derived from the bundle; the bundle (manifest.json and the artifacts it lists) is the evidence. Timeline drawn with ${esc(assets.library)} (inlined; this file loads nothing from the network).</footer>
</main>
<script type="application/json" id="timeline-data">${data}</script>
<script>${library}</script>
<script>${page}</script>
</body>
</html>
`;
}
