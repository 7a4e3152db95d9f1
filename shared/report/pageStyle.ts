/**
 * The report's stylesheet (screen and print). Kept as a string beside the renderer because the
 * report is one file: nothing is loaded from anywhere else.
 */
export const REPORT_STYLE = String.raw`
:root {
  --ink: #1f2937; --muted: #5b6474; --line: #d9dee7; --soft: #f4f6f9; --panel: #ffffff;
  --brand: #0b2545; --brand-2: #13315c; --accent: #2563eb;
  --critical: #7f1d1d; --critical-bg: #fde2e2; --high: #b42318; --high-bg: #fee4e2;
  --medium: #b54708; --medium-bg: #fef0c7; --low: #175cd3; --low-bg: #e0eaff; --info: #475467; --info-bg: #eef0f3;
  --ok: #067647; --ok-bg: #dcfae6; --fail: #b42318; --fail-bg: #fee4e2; --warn: #b54708; --warn-bg: #fef0c7;
  --collector: #6b21a8; --collector-bg: #f3e8ff;
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; font: 14px/1.45 "Segoe UI", system-ui, -apple-system, Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--ink); background: var(--soft); }
code, .mono { font-family: ui-monospace, "Cascadia Mono", "SFMono-Regular", Menlo, Consolas, monospace; font-size: 12.5px; }
a { color: var(--accent); }
.wrap { max-width: 1320px; margin: 0 auto; padding: 0 24px; }

header.top { background: linear-gradient(120deg, var(--brand), var(--brand-2)); color: #fff; padding: 22px 0 18px; }
header.top .kicker { text-transform: uppercase; letter-spacing: .08em; font-size: 11.5px; opacity: .75; }
header.top h1 { margin: 4px 0 6px; font-size: 24px; font-weight: 600; }
header.top .sub { opacity: .85; font-size: 13.5px; }
header.top .sub span + span::before { content: "·"; margin: 0 8px; opacity: .6; }
.banner { margin-top: 14px; display: inline-flex; align-items: center; gap: 10px; padding: 7px 12px; border-radius: 6px; font-weight: 600; font-size: 13.5px; }
.banner.passed { background: var(--ok-bg); color: var(--ok); }
.banner.failed { background: var(--fail-bg); color: var(--fail); }
.banner.not-checked { background: #e8eefb; color: var(--brand-2); }

nav.toc { position: sticky; top: 0; z-index: 20; background: #fff; border-bottom: 1px solid var(--line); }
nav.toc .wrap { display: flex; gap: 4px; overflow-x: auto; }
nav.toc a { padding: 10px 12px; color: var(--muted); text-decoration: none; font-weight: 500; white-space: nowrap; border-bottom: 2px solid transparent; }
nav.toc a:hover { color: var(--ink); border-bottom-color: var(--accent); }

main { padding: 18px 0 40px; }
section.card { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 18px 20px; margin: 16px 0; }
section.card > h2 { margin: 0 0 4px; font-size: 18px; font-weight: 600; color: var(--brand); }
section.card > p.lead { margin: 0 0 14px; color: var(--muted); }
h3 { font-size: 15px; margin: 18px 0 8px; color: var(--brand-2); }
h3 .count { color: var(--muted); font-weight: 400; }

.figures { display: grid; grid-template-columns: repeat(auto-fit, minmax(170px, 1fr)); gap: 10px; margin: 4px 0 4px; }
.figure { border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; background: #fbfcfe; }
.figure .k { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.figure .v { font-size: 20px; font-weight: 600; margin-top: 2px; }
.figure .d { color: var(--muted); font-size: 12px; }

dl.facts { display: grid; grid-template-columns: 190px 1fr; gap: 6px 16px; margin: 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; word-break: break-word; }
.cols { display: grid; grid-template-columns: repeat(auto-fit, minmax(440px, 1fr)); gap: 8px 36px; }

table.grid { width: 100%; border-collapse: collapse; font-size: 13px; }
table.grid th { text-align: left; font-weight: 600; color: var(--muted); background: var(--soft); border-bottom: 1px solid var(--line); padding: 7px 8px; position: sticky; top: 41px; z-index: 1; }
table.grid td { border-bottom: 1px solid #eceff4; padding: 6px 8px; vertical-align: top; word-break: break-word; }
table.grid tr:hover td { background: #f8fafc; }
table.grid.fixed { table-layout: fixed; }
table.grid td code { word-break: break-word; }
table.grid td.num, table.grid th.num { text-align: right; white-space: nowrap; }
table.grid td.nowrap { white-space: nowrap; }
.table-scroll { max-height: 560px; overflow: auto; border: 1px solid var(--line); border-radius: 6px; }
.table-scroll table.grid th { top: 0; }

.pill { display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: 11.5px; font-weight: 600; white-space: nowrap; }
.sev-critical { background: var(--critical-bg); color: var(--critical); }
.sev-high { background: var(--high-bg); color: var(--high); }
.sev-medium { background: var(--medium-bg); color: var(--medium); }
.sev-low { background: var(--low-bg); color: var(--low); }
.sev-info { background: var(--info-bg); color: var(--info); }
.st-passed, .st-complete { background: var(--ok-bg); color: var(--ok); }
.st-failed { background: var(--fail-bg); color: var(--fail); }
.st-warning, .st-partial { background: var(--warn-bg); color: var(--warn); }
.st-not-configured, .st-not-checked, .st-skipped { background: var(--info-bg); color: var(--info); }
.pill.collector { background: var(--collector-bg); color: var(--collector); }
.muted { color: var(--muted); }
.nowrap { white-space: nowrap; }
.small { font-size: 12px; }
ul.plain { margin: 6px 0; padding-left: 18px; }
ul.plain li { margin: 3px 0; }
.problem { color: var(--fail); }
.note { background: #f8fafc; border-left: 3px solid var(--accent); padding: 8px 12px; margin: 10px 0; color: var(--ink); }
.note.warn { border-left-color: var(--warn); background: #fffaeb; }
details { margin: 6px 0; }
details > summary { cursor: pointer; font-weight: 500; padding: 4px 0; }
details > summary .muted { font-weight: 400; }
.sevbar { display: flex; gap: 8px; flex-wrap: wrap; margin: 6px 0 10px; }

/* Timeline */
.filters { display: grid; grid-template-columns: repeat(auto-fit, minmax(170px, 1fr)); gap: 8px 12px; align-items: end; margin: 6px 0 10px; }
.filters label { display: flex; flex-direction: column; font-size: 12px; color: var(--muted); gap: 3px; }
.filters select, .filters input[type=search] { font: inherit; font-size: 13px; padding: 5px 7px; border: 1px solid var(--line); border-radius: 5px; background: #fff; color: var(--ink); min-width: 0; }
.filters label.check { flex-direction: row; align-items: center; gap: 6px; color: var(--ink); font-size: 13px; }
.toolbar { display: flex; gap: 8px; align-items: center; flex-wrap: wrap; margin: 4px 0 8px; }
.toolbar button { font: inherit; font-size: 12.5px; padding: 4px 10px; border: 1px solid var(--line); border-radius: 5px; background: #fff; cursor: pointer; color: var(--ink); }
.toolbar button:hover { border-color: var(--accent); color: var(--accent); }
.toolbar .counter { margin-left: auto; color: var(--muted); }
.toolbar .counter b { color: var(--ink); }
.legend { display: flex; gap: 14px; flex-wrap: wrap; font-size: 12px; color: var(--muted); margin: 8px 0 4px; }
.legend i { display: inline-block; width: 10px; height: 10px; border-radius: 50%; margin-right: 5px; vertical-align: -1px; }
#timeline { border: 1px solid var(--line); border-radius: 6px; background: #fff; }
.vis-timeline { border: none !important; font-family: inherit; }
.vis-labelset .vis-label .vis-inner { font-weight: 500; color: var(--ink); padding: 4px 8px; }
.vis-item.vis-point { border: none; background: transparent; }
.vis-item .vis-item-content { padding: 0; }
.vis-labelset .vis-label, .vis-foreground .vis-group { min-height: 34px; }
.vis-item.vis-dot { border-width: 5px; border-radius: 5px; border-color: #98a2b3; margin-top: 6px; cursor: pointer; }
.vis-item.sev-critical.vis-dot { border-color: var(--critical); }
.vis-item.sev-high.vis-dot { border-color: #d92d20; }
.vis-item.sev-medium.vis-dot { border-color: #f79009; }
.vis-item.sev-low.vis-dot { border-color: #2e90fa; }
.vis-item.sev-info.vis-dot { border-color: #98a2b3; }
.vis-item.collector.vis-dot { border-color: var(--collector); border-radius: 0; }
.vis-item.vis-selected.vis-dot { border-color: #eab308; border-width: 7px; border-radius: 7px; box-shadow: 0 0 0 2px #fff, 0 0 0 4px #eab308; }
.vis-time-axis .vis-text { color: var(--muted); font-size: 11.5px; }
.vis-tooltip { font: 12.5px/1.4 "Segoe UI", system-ui, sans-serif !important; max-width: 520px; white-space: normal !important; background: #111827 !important; color: #fff !important; border: none !important; border-radius: 6px !important; padding: 8px 10px !important; box-shadow: 0 4px 14px rgba(0,0,0,.25) !important; }
tr.is-collector td { background: #faf5ff; }
tr.selected td { background: #fff7cc !important; }
#tl-table { table-layout: fixed; }
#tl-table tbody tr { cursor: pointer; }
#tl-table td.evidence { word-break: break-all; color: var(--muted); }
#tl-more { margin: 8px 0; }

footer.foot { color: var(--muted); font-size: 12px; padding: 12px 0 30px; }

@media (max-width: 760px) { dl.facts { grid-template-columns: 1fr; } .cols { grid-template-columns: 1fr; } }

@media print {
  @page { size: A4 landscape; margin: 12mm; }
  body { background: #fff; font-size: 10.5px; }
  .wrap { max-width: none; padding: 0; }
  header.top { background: none !important; color: var(--ink); padding: 0 0 8px; border-bottom: 2px solid var(--brand); }
  header.top .kicker, header.top .sub { opacity: 1; color: var(--muted); }
  nav.toc, .filters, .toolbar button, #tl-more, .no-print { display: none !important; }
  section.card { border: none; padding: 6px 0; margin: 8px 0; break-inside: auto; }
  section.card > h2 { break-after: avoid; border-bottom: 1px solid var(--line); padding-bottom: 3px; }
  table.grid th { position: static; }
  table.grid tr { break-inside: avoid; }
  thead { display: table-header-group; }
  .table-scroll { max-height: none; overflow: visible; border: none; }
  #timeline { break-inside: avoid; }
  .pill, .banner, .figure, tr.is-collector td { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  a { color: inherit; text-decoration: none; }
}
`;
