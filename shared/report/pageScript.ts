/**
 * The report page's own script: the interactive timeline (vis-timeline, inlined beside it),
 * its filters, and the table of the entries shown. Plain browser JavaScript kept as a string:
 * the report is one file. Everything from the bundle is put on the page as text (textContent,
 * or escaped before vis-timeline renders it): a log line or a command is never markup.
 *
 * The page publishes what it shows on document.body.dataset (shown, total) so a test and a
 * reader see the same numbers.
 */
export const REPORT_SCRIPT = String.raw`
(function () {
  'use strict';
  var dataNode = document.getElementById('timeline-data');
  if (!dataNode) return;
  var data = JSON.parse(dataNode.textContent || '{"items":[]}');
  var items = data.items || [];
  var SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'];
  var LANES = data.lanes || {};
  var TABLE_PAGE = 500;

  function rank(v) { return v ? SEVERITIES.indexOf(v) + 1 : 0; }
  function esc(s) {
    return String(s == null ? '' : s).replace(/[&<>"']/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
    });
  }
  function where(it) { return it.n ? it.n + (it.p ? '/' + it.p : '') : (it.p || ''); }
  function utc(t) { return t.replace('T', ' ').replace(/(\.\d{3})\d*Z$/, '$1Z'); }
  function byId(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }

  // ---- filters ----
  var f = {
    source: byId('f-source'), severity: byId('f-severity'), user: byId('f-user'),
    namespace: byId('f-namespace'), pod: byId('f-pod'), text: byId('f-text'), collector: byId('f-collector')
  };
  function counted(key) {
    var m = {};
    items.forEach(function (it) { var k = key(it); if (k) m[k] = (m[k] || 0) + 1; });
    return Object.keys(m).sort(function (a, b) { return m[b] - m[a] || (a < b ? -1 : 1); }).map(function (k) { return [k, m[k]]; });
  }
  function fill(select, entries, label) {
    entries.forEach(function (e) {
      var o = el('option', null, (label ? label(e[0]) : e[0]) + ' (' + e[1] + ')');
      o.value = e[0];
      select.appendChild(o);
    });
  }
  fill(f.source, counted(function (it) { return it.s; }), function (s) { return LANES[s] || s; });
  fill(f.user, counted(function (it) { return it.a; }));
  fill(f.namespace, counted(function (it) { return it.n; }));
  fill(f.pod, counted(function (it) { return it.p ? (it.n ? it.n + '/' : '') + it.p : ''; }));

  function passes(it) {
    if (f.source.value && it.s !== f.source.value) return false;
    if (f.severity.value && rank(it.v) < Number(f.severity.value)) return false;
    if (f.user.value && it.a !== f.user.value) return false;
    if (f.namespace.value && it.n !== f.namespace.value) return false;
    if (f.pod.value && (it.n ? it.n + '/' : '') + it.p !== f.pod.value) return false;
    if (!f.collector.checked && it.c) return false;
    var q = f.text.value.trim().toLowerCase();
    if (q && [it.m, it.o, it.a, it.y, where(it), (it.l || []).join(' ')].join(' ').toLowerCase().indexOf(q) < 0) return false;
    return true;
  }

  // ---- timeline: one lane per source, one row of dots per lane (the table below carries the text) ----
  var laneOrder = ['collector', 'audit', 'commandhistory', 'events', 'suspiciouspods', 'workloadfindings', 'rbacfindings', 'containerlogs'];
  var present = {};
  items.forEach(function (it) { present[it.s] = true; });
  var groups = new vis.DataSet(Object.keys(present).sort(function (a, b) {
    var ia = laneOrder.indexOf(a), ib = laneOrder.indexOf(b);
    return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || (a < b ? -1 : 1);
  }).map(function (s, i) { return { id: s, content: esc(LANES[s] || s), order: i }; }));

  function tooltip(it) {
    var lines = [
      '<b>' + esc(utc(it.t)) + (it.x ? ' (approximate: collection time)' : '') + '</b> · ' + esc(LANES[it.s] || it.s) + (it.v ? ' · ' + esc(it.v) : ''),
      it.a ? 'by ' + esc(it.a) : '',
      where(it) ? 'in ' + esc(where(it)) : '',
      esc(it.m),
      it.l && it.l.length ? 'labels: ' + esc(it.l.join(', ')) : '',
      it.c ? '<i>the collector\'s own action: ' + esc(it.r || '') + '</i>' : '',
      '<span style="opacity:.7">' + esc(it.e) + '</span>'
    ];
    return lines.filter(Boolean).join('<br>');
  }
  var dataset = new vis.DataSet(items.map(function (it, i) {
    return {
      id: i, start: new Date(it.t), group: it.s, type: 'point',
      content: '', title: tooltip(it),
      className: 'sev-' + (it.v || 'none') + (it.c ? ' collector' : '')
    };
  }));
  // The first view: the activity (what happened: audit, events, shell, logs, collector) inside
  // the collection's since-window, not the whole axis, which the creation times of old objects
  // (a binding made with the cluster) would stretch to months. "Fit all" shows everything.
  function initialWindow() {
    var w = data.window;
    if (!w) return null;
    var activity = { collector: 1, audit: 1, commandhistory: 1, events: 1, containerlogs: 1 };
    var from = Date.parse(w.from), to = Date.parse(w.to);
    var times = items.filter(function (it) { return activity[it.s]; }).map(function (it) { return Date.parse(it.t); })
      .filter(function (t) { return t >= from && t <= to; }).sort(function (a, b) { return a - b; });
    if (!times.length) return null;
    // From the 5th percentile: a stray old log line does not squeeze the incident into a corner.
    var lo = times[Math.floor(times.length * 0.05)], hi = times[times.length - 1];
    var pad = Math.max((hi - lo) * 0.04, 60000);
    return [new Date(lo - pad), new Date(hi + pad)];
  }
  var view = new vis.DataView(dataset, { filter: function (d) { return passes(items[d.id]); } });

  var container = byId('timeline');
  var timeline = null;
  if (items.length) {
    // Given at construction: a window set afterwards is overridden by the timeline's own first fit.
    // rtl given explicitly: vis-timeline otherwise hides the timeline until a range change that
    // never comes when the first window is already the one asked for.
    var win = initialWindow();
    var start = win ? { start: win[0], end: win[1] } : {};
    timeline = new vis.Timeline(container, view, groups, Object.assign(start, {
      rtl: false, stack: false, maxHeight: 520, minHeight: 160, zoomKey: 'ctrlKey', horizontalScroll: true,
      orientation: { axis: 'top', item: 'top' }, showCurrentTime: false, selectable: true,
      tooltip: { followMouse: true, overflowMethod: 'cap' }, margin: { item: { horizontal: 2, vertical: 3 } },
      moment: function (date) { return vis.moment(date).utc(); }, zoomMin: 1000
    }));

    timeline.on('select', function (props) { if (props.items.length) selectRow(props.items[0], true); });
  } else {
    container.appendChild(el('p', 'muted', 'No timeline entries in this bundle.'));
  }

  // ---- table of what is shown ----
  var tbody = document.querySelector('#tl-table tbody');
  var more = byId('tl-more');
  var times = items.map(function (it) { return Date.parse(it.t); });
  var shownIds = [];
  // The table lists the entries that pass the filters AND lie in the timeline's visible range:
  // zooming into a burst lists exactly that burst.
  var inView = [];
  var limit = TABLE_PAGE;
  function row(id) {
    var it = items[id];
    var tr = el('tr', it.c ? 'is-collector' : '');
    tr.dataset.id = String(id);
    tr.appendChild(el('td', 'nowrap mono', (it.x ? '~' : '') + utc(it.t)));
    tr.appendChild(el('td', 'nowrap', LANES[it.s] || it.s));
    var sev = el('td');
    if (it.v) sev.appendChild(el('span', 'pill sev-' + it.v, it.v));
    if (it.c) sev.appendChild(el('span', 'pill collector', 'collector'));
    tr.appendChild(sev);
    tr.appendChild(el('td', null, it.a || ''));
    tr.appendChild(el('td', null, where(it)));
    var what = el('td');
    what.appendChild(el('span', null, it.m));
    if (it.l && it.l.length) what.appendChild(el('div', 'muted small', 'labels: ' + it.l.join(', ')));
    tr.appendChild(what);
    tr.appendChild(el('td', 'mono small evidence', it.e));
    tr.addEventListener('click', function () {
      if (timeline) timeline.setSelection([id]);
      selectRow(id, false);
    });
    return tr;
  }
  function renderTable() {
    var w = timeline ? timeline.getWindow() : null;
    var lo = w ? w.start.getTime() : -Infinity, hi = w ? w.end.getTime() : Infinity;
    inView = shownIds.filter(function (id) { return times[id] >= lo && times[id] <= hi; });
    tbody.textContent = '';
    var frag = document.createDocumentFragment();
    inView.slice(0, limit).forEach(function (id) { frag.appendChild(row(id)); });
    tbody.appendChild(frag);
    var rest = inView.length - Math.min(limit, inView.length);
    more.hidden = rest <= 0;
    more.textContent = 'Show all ' + inView.length + ' rows (' + rest + ' more)';
    byId('tl-inview').textContent = String(inView.length);
  }
  more.addEventListener('click', function () { limit = inView.length; renderTable(); });
  var pending = 0;
  if (timeline) timeline.on('rangechanged', function () {
    clearTimeout(pending);
    pending = setTimeout(function () { limit = TABLE_PAGE; renderTable(); }, 60);
  });
  function selectRow(id, scroll) {
    var pos = inView.indexOf(Number(id));
    if (pos >= limit) { limit = pos + 1; renderTable(); }
    Array.prototype.forEach.call(tbody.querySelectorAll('tr.selected'), function (r) { r.classList.remove('selected'); });
    var tr = tbody.querySelector('tr[data-id="' + Number(id) + '"]');
    if (tr) { tr.classList.add('selected'); if (scroll) tr.scrollIntoView({ block: 'nearest' }); }
  }

  function apply(fit) {
    view.refresh();
    shownIds = view.getIds().map(Number).sort(function (a, b) { return a - b; });
    limit = TABLE_PAGE;
    byId('tl-shown').textContent = String(shownIds.length);
    document.body.dataset.shown = String(shownIds.length);
    if (timeline && fit && shownIds.length) timeline.fit({ animation: false });
    renderTable();
  }
  Object.keys(f).forEach(function (k) {
    f[k].addEventListener(k === 'text' ? 'input' : 'change', function () { apply(true); });
  });
  // Moves made here are not reported by the timeline's rangechanged (only the user's are): list the new range now.
  function moved() { limit = TABLE_PAGE; renderTable(); }
  byId('tl-fit').addEventListener('click', function () { if (timeline) { timeline.fit({ animation: false }); moved(); } });
  byId('tl-in').addEventListener('click', function () { if (timeline) { timeline.zoomIn(0.5, { animation: false }); moved(); } });
  byId('tl-out').addEventListener('click', function () { if (timeline) { timeline.zoomOut(0.5, { animation: false }); moved(); } });
  byId('tl-reset').addEventListener('click', function () {
    ['source', 'severity', 'user', 'namespace', 'pod'].forEach(function (k) { f[k].value = ''; });
    f.text.value = '';
    f.collector.checked = true;
    apply(true);
  });
  byId('tl-total').textContent = String(items.length);
  document.body.dataset.total = String(items.length);
  apply(false);

  // A link to a collapsed section (a source's gaps) opens it.
  document.addEventListener('click', function (e) {
    var a = e.target && e.target.closest ? e.target.closest('a[href^="#"]') : null;
    var target = a ? document.getElementById(a.getAttribute('href').slice(1)) : null;
    if (target && target.tagName === 'DETAILS') target.open = true;
  });
  // Printing shows every collapsed section.
  window.addEventListener('beforeprint', function () {
    Array.prototype.forEach.call(document.querySelectorAll('details'), function (d) { d.open = true; });
    if (timeline) timeline.redraw();
  });
  document.body.dataset.ready = 'true';
})();
`;
