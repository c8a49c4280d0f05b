// The one script of our own: base.html loads it (deferred, after htmx) on every page. It reads by
// area, in the order of webapp/'s packages: shell, listing, failures, health and timeline, logs,
// runs, operate. Each area names its handlers; the wiring at the end adds one listener per event
// and calls them in turn, so what a page's script does is found under its area.

// ==== Shell ====
// Every page (base.html and all that extends it): the js class; polls only while the page is
// seen; parts that keep what they show when a poll fails and say how old it is (_health_summary,
// _kiosk_board, _log_view); times (the topbar's toggle); copy buttons (rows' task links, the
// task.html heading's); the keyboard shortcuts, their list (the shortcuts dialog) and Esc;
// panels folded behind a button on phones (jobs.html, tasks.html, _listing_controls,
// _log_controls).

// Styles that only make sense with scripts (live badges, polling notes) key on this class.
document.documentElement.classList.replace("no-js", "js");

// Polling happens only while someone can see the page.
function holdPollsWhileHidden(event) {
  const elt = event.detail.elt;
  if (elt.hasAttribute("data-poll") && document.hidden) event.preventDefault();
}

// A wall screen's poll that fails keeps what is on screen (the jobs page's summary, the kiosk's
// board) and says how old it is, rather than blanking; the next good answer replaces it all.
function keepOnFailure(event) {
  const elt = event.detail.requestConfig?.elt ?? event.detail.elt;
  if (!elt?.hasAttribute?.("data-keep")) return;
  if (event.type === "htmx:beforeSwap") {
    if (!event.detail.isError) return;
    // A failure the server already answers without a swap may still bring a note out of band.
    if (event.detail.xhr?.getResponseHeader("HX-Reswap") !== "none") event.detail.shouldSwap = false;
  }
  elt.setAttribute("data-failing", "");
  tickAges();
}

// "Data of 12:04:10 UTC, 3 min old": how old the data on a wall screen is, as it ages.
function tickAges() {
  for (const age of document.querySelectorAll("[data-age]")) {
    const holder = age.closest("[data-at]");
    if (!holder) continue;
    // Aged from its arrival here, not from the server's clock, which this one may not match.
    holder.dataset.received ??= String(Date.now());
    const seconds = Math.max(0, Math.round((Date.now() - Number(holder.dataset.received)) / 1000));
    const old = seconds < 60 ? `${seconds} s` : seconds < 3600 ? `${Math.floor(seconds / 60)} min` : `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
    const failing = holder.hasAttribute("data-failing");
    age.textContent = failing ? `these figures are Blaxel's last answer, ${old} old` : `${old} old`;
    age.classList.toggle("stale", failing);
  }
}
setInterval(tickAges, 5000);

// Copy buttons: a task's link or name, through the Clipboard API. They work only with
// JavaScript, so the rows' buttons are added here, beside each task's link (rows come 200 at a
// time; without JavaScript the link itself is there to copy).
function addCopyButtons(root) {
  for (const link of root.querySelectorAll("th.name > a.task-link:only-child")) {
    const name = link.textContent;
    for (const [what, label, title] of [
      ["link", `Copy the link to ${name}`, "Copy link"],
      ["name", `Copy the name ${name}`, "Copy name"],
    ]) {
      const button = document.createElement("button");
      Object.assign(button, { type: "button", className: `copy copy-${what}`, title });
      button.dataset.copy = what;
      button.setAttribute("aria-label", label);
      link.parentElement.append(button);
    }
  }
}

async function copyText(event) {
  const button = event.target instanceof Element ? event.target.closest("button[data-copy]") : null;
  if (!button) return;
  const link = button.closest("th, td, li")?.querySelector("a.task-link");
  // Names come from the addresses: on the page, marks stand in for bidi and control characters.
  const lastSegment = (url) => decodeURIComponent(new URL(url, location.href).pathname.split("/").pop());
  const text = {
    link: () => link && new URL(link.getAttribute("href"), location.href).href,
    name: () => link && lastSegment(link.getAttribute("href")),
    page: () => location.href,
    title: () => lastSegment(location.href),
  }[button.dataset.copy]?.();
  if (!text) return;
  try {
    await navigator.clipboard.writeText(text);
    flash(button, "Copied");
  } catch {
    flash(button, "Copy failed");
  }
}

function flash(button, message) {
  const label = button.getAttribute("aria-label");
  button.dataset.state = message;
  button.setAttribute("aria-label", message);
  setTimeout(() => {
    delete button.dataset.state;
    button.setAttribute("aria-label", label);
  }, 1500);
}

// Times: relative ("3 min ago") or absolute in the viewer's own time zone, one click away and
// remembered. The exact UTC time stays in each <time>'s datetime and tooltip.
// Formats are made when first needed: making one costs more than a page's rows take to lay out.
let absoluteFormat = null;
function showTimes(root) {
  const absolute = localStorage.getItem("times") === "absolute";
  for (const time of root.querySelectorAll("time[datetime]:not([data-clock])")) {
    if (time.dataset.relative === undefined) {
      if (!absolute) continue; // as the server wrote it: nothing to change
      time.dataset.relative = time.textContent;
    }
    if (absolute) {
      absoluteFormat ??= new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
      time.textContent = absoluteFormat.format(new Date(time.dateTime));
    } else {
      time.textContent = time.dataset.relative;
    }
  }
  for (const toggle of document.querySelectorAll("[data-times-toggle]")) {
    toggle.setAttribute("aria-pressed", String(absolute));
    toggle.textContent = absolute ? "Times: local" : "Times: relative";
  }
}
function toggleTimes(event) {
  if (!(event.target instanceof Element) || !event.target.closest("[data-times-toggle]")) return;
  localStorage.setItem("times", localStorage.getItem("times") === "absolute" ? "relative" : "absolute");
  showTimes(document);
}

// Keyboard: every shortcut is in the table of pressShortcut (the rows' keys are the listing's),
// / search, Esc, ? the list of them.
// Shortcuts never fire while typing in a field, and never with Ctrl, Alt or ⌘ (the browser's own).
const typing = (element) =>
  element instanceof HTMLElement &&
  (element.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(element.tagName));

function focusSearch() {
  const field = document.querySelector("[data-shortcut='/']");
  if (!field) return;
  openPanel(field.closest("[data-panel]"));
  field.focus();
  field.select();
}

// Esc, outside the shortcuts list (the dialog closes itself): leave the field, else close the
// disclosure or the folded panel that holds the focus, giving focus back to what opens it.
function pressEscape(event) {
  const target = event.target;
  if (typing(target)) {
    if (target.tagName === "SELECT") return;
    event.preventDefault(); // a search field would clear itself: leave it as it is
    target.blur();
    const folded = target.closest("[data-panel][data-open]");
    if (folded && folded.querySelector("[data-panel-toggle]")?.offsetParent) {
      closePanel(folded); // on a phone, the rows come back into view
      folded.querySelector("[data-panel-toggle]").focus();
    }
    return;
  }
  const details = target instanceof Element ? target.closest("details[open]") : null;
  if (details) {
    details.open = false;
    details.querySelector("summary")?.focus();
    return;
  }
  const row = listing.rowOf(target);
  const rowDetails = row?.querySelector("details[open]");
  if (rowDetails) {
    rowDetails.open = false;
    return;
  }
  const panel = target instanceof Element ? target.closest("[data-panel][data-open]") : null;
  if (panel) {
    closePanel(panel);
    panel.querySelector("[data-panel-toggle]")?.focus();
  }
}

function pressShortcut(event) {
  if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
  if (document.querySelector("dialog[open]")) return;
  if (event.key === "Escape") {
    pressEscape(event);
    return;
  }
  const target = event.target;
  if (typing(target)) return;
  const row = listing.rowOf(target);
  const onRowLink = listing.isRowLink(target);
  const handled = {
    j: listing.next,
    k: listing.previous,
    ArrowDown: row ? () => listing.step(1) : null,
    ArrowUp: row ? () => listing.step(-1) : null,
    o: row ? () => listing.toggleConditions(row) : null,
    // Space keeps its own meaning on buttons and disclosures; on a row's link it opens.
    " ": onRowLink ? () => listing.toggleConditions(row) : null,
    "/": focusSearch,
    "?": showShortcuts,
  }[event.key];
  if (!handled) return;
  event.preventDefault();
  handled();
}

function showShortcuts() {
  const dialog = document.getElementById("shortcuts");
  if (dialog && !dialog.open) dialog.showModal();
}
function openShortcuts(event) {
  if (event.target instanceof Element && event.target.closest("[data-shortcuts]")) showShortcuts();
}

// Phones: panels (controls, failure groups, the health summary) fold behind a button.
function openPanel(panel) {
  if (!panel) return;
  panel.setAttribute("data-open", "");
  panel.querySelector("[data-panel-toggle]")?.setAttribute("aria-expanded", "true");
}
function closePanel(panel) {
  panel.removeAttribute("data-open");
  panel.querySelector("[data-panel-toggle]")?.setAttribute("aria-expanded", "false");
}
function togglePanel(event) {
  const toggle = event.target instanceof Element ? event.target.closest("[data-panel-toggle]") : null;
  if (!toggle) return;
  const panel = toggle.closest("[data-panel]");
  if (panel.hasAttribute("data-open")) closePanel(panel);
  else openPanel(panel);
}

// ==== Listing ====
// The jobs, executions and tasks pages (_listing_page.html: jobs.html, executions.html,
// tasks.html; rows from _job_rows, _execution_rows, _task_rows, _more_row; _listing_controls'
// refresh, _listing_status, _status_count): load more, the counts, the rows heading a link
// chose, rows that follow a running execution's summary (_execution_summary); rows by keyboard,
// and a task's page or its logs stepping to the list's next task (_task_steps).
const listing = (() => {
  // A wall-screen refresh never throws away rows that a person loaded with "Load more".
  function keepLoadedRows(event) {
    const elt = event.detail.elt;
    if (!elt.hasAttribute("data-poll") || !elt.hasAttribute("data-refresh")) return;
    const status = document.getElementById("listing-status");
    if (status && Number(status.dataset.loaded) > Number(status.dataset.pageSize)) {
      event.preventDefault();
    }
  }

  // Polls and rows refill the status counts out of band; a count that has not changed stays,
  // so that a link someone is on keeps its focus and nothing is read out again.
  function keepSameCounts(event) {
    const { target, fragment } = event.detail;
    const incoming = fragment.firstElementChild;
    if (target.classList.contains("count-slot") && incoming && incoming.innerHTML === target.innerHTML) {
      event.detail.shouldSwap = false;
    }
  }

  // "Load more": keyboard focus moves to the first new row, so reading goes on from there.
  let rowsBeforeMore = null;
  function countRowsBeforeMore(event) {
    if (event.detail.elt.classList?.contains("load-more")) {
      rowsBeforeMore = document.querySelectorAll("#rows tr.task").length;
    }
  }
  function focusFirstNewRow() {
    if (rowsBeforeMore === null) return;
    const rows = document.querySelectorAll("#rows tr.task");
    if (rows.length <= rowsBeforeMore) return;
    const first = rows[rowsBeforeMore];
    rowsBeforeMore = null;
    first?.querySelector("a.task-link, th a")?.focus();
  }

  // A status or a failure group chosen by a link: the rows are below the fold, so their heading
  // takes focus (and scrolls into view); not when coming back, which restores the person's place.
  function focusChosenRows() {
    const heading = document.querySelector("[data-focus-on-load]");
    const arrival = performance.getEntriesByType("navigation")[0]?.type;
    if (heading && !location.hash && arrival !== "back_forward" && arrival !== "reload") {
      heading.focus();
    }
  }

  // Rows that never contradict the summary: while an execution runs, each poll of its summary
  // says what its counts are; when they changed, the rows on screen are fetched again (as many
  // as are loaded, up to one page of 200), keeping the person's place. Beyond 200 loaded rows,
  // or with following turned off, an "update" control says the rows changed instead.
  let rowsStats = null;
  const MAX_FOLLOWED_ROWS = 200;
  function startFollowing() {
    rowsStats = document.getElementById("execution-summary")?.dataset.stats ?? null;
    const follow = document.getElementById("follow-rows");
    if (follow) follow.checked = localStorage.getItem("follow-rows") !== "off";
    tickUpdated();
  }
  function rememberFollowing(event) {
    if (event.target.id !== "follow-rows") return;
    localStorage.setItem("follow-rows", event.target.checked ? "on" : "off");
  }
  function followSummary(event) {
    const summary = event.detail.target;
    if (summary.id !== "execution-summary") return;
    const fresh = document.getElementById("execution-summary");
    if (!fresh) return;
    // A final summary polls no more: neither do the rows, and their age stops counting.
    const final = !fresh.hasAttribute("data-poll");
    if (fresh.dataset.stats === rowsStats) {
      if (final) endUpdates(true);
      return;
    }
    const status = document.getElementById("listing-status");
    const loaded = Number(status?.dataset.loaded ?? 0);
    const follow = document.getElementById("follow-rows");
    const stale = document.getElementById("rows-stale");
    if (!follow?.checked || loaded > MAX_FOLLOWED_ROWS) {
      stale?.removeAttribute("hidden");
      if (final) endUpdates(false);
      return;
    }
    rowsStats = fresh.dataset.stats;
    reloadRows(Math.max(loaded, Number(status?.dataset.pageSize ?? 50))).then(() => {
      if (final) endUpdates(true);
    });
  }

  function reloadRows(limit) {
    const focused = document.activeElement?.closest?.("#rows tr.task");
    const name = focused?.querySelector("a.task-link")?.textContent;
    const which = document.activeElement?.matches?.("summary, button[data-copy]")
      ? document.activeElement.tagName + (document.activeElement.dataset.copy ?? "")
      : "A";
    const form = document.getElementById("listing-controls");
    const query = new URLSearchParams(new FormData(form));
    query.set("limit", String(Math.min(limit, MAX_FOLLOWED_ROWS)));
    return htmx
      .ajax("GET", `${form.getAttribute("action")}?${query}`, { target: "#rows", swap: "innerHTML" })
      .then(() => {
        document.getElementById("rows-stale")?.setAttribute("hidden", "");
        markUpdated();
        if (!name) return;
        for (const row of document.querySelectorAll("#rows tr.task")) {
          if (row.querySelector("a.task-link")?.textContent !== name) continue;
          const target = [...row.querySelectorAll("a.task-link, summary, button[data-copy]")].find(
            (element) => element.tagName + (element.dataset.copy ?? "") === which,
          );
          (target ?? row.querySelector("a.task-link"))?.focus({ preventScroll: true });
        }
      });
  }

  function updateStaleRows(event) {
    if (!(event.target instanceof Element) || !event.target.closest("#rows-stale button")) return;
    const summary = document.getElementById("execution-summary");
    rowsStats = summary?.dataset.stats ?? rowsStats;
    reloadRows(Number(document.getElementById("listing-status")?.dataset.pageSize ?? 50)).then(() => {
      if (summary && !summary.hasAttribute("data-poll")) endUpdates(true);
    });
  }

  // "updated 5 s ago" beside the rows of a running execution; once it has ended, a fixed text.
  function markUpdated() {
    const updated = document.getElementById("rows-updated");
    if (updated && updated.dataset.final === undefined) updated.dataset.at = String(Date.now());
    tickUpdated();
  }
  function endUpdates(current) {
    const updated = document.getElementById("rows-updated");
    if (!updated || (updated.dataset.final !== undefined && !current)) return;
    const at = new Date(Number(updated.dataset.at ?? Date.now()));
    updated.dataset.final = "";
    updated.textContent = current
      ? "The execution has ended: these rows are final"
      : `The execution has ended; these rows are from ${at.toLocaleTimeString()}`;
    document.getElementById("follow-rows")?.closest("label")?.setAttribute("hidden", "");
  }
  function tickUpdated() {
    const updated = document.getElementById("rows-updated");
    if (!updated || updated.dataset.final !== undefined) return;
    updated.dataset.at ??= String(Date.now());
    const seconds = Math.round((Date.now() - Number(updated.dataset.at)) / 1000);
    updated.textContent = seconds < 5 ? "updated just now" : `updated ${seconds} s ago`;
  }
  setInterval(tickUpdated, 5000);

  // Rows (or a task's neighbours) by j/k and arrows, o or Space for a row's conditions: the
  // keys themselves are in the shell's table (pressShortcut).
  const ROW_LINK = "th.name a"; // each listing row's own link: its task, job or execution
  const rows = () => [...document.querySelectorAll("#rows tr")].filter((row) => row.querySelector(ROW_LINK));
  const rowOf = (element) => (element instanceof Element ? element.closest("#rows tr") : null);
  const isRowLink = (element) => element instanceof Element && element.matches(ROW_LINK);

  function focusRow(row) {
    const link = row?.querySelector(ROW_LINK);
    if (!link) return;
    link.focus({ preventScroll: true });
    row.scrollIntoView({ block: "nearest" });
  }

  function step(by) {
    const all = rows();
    if (!all.length) return;
    const at = all.indexOf(rowOf(document.activeElement));
    focusRow(at < 0 ? all[0] : all[Math.min(Math.max(at + by, 0), all.length - 1)]);
  }

  // On a task's page or its logs there are no rows: j and k go to the list's next and
  // previous task (its page, or its logs), by the step links the page shows.
  function stepTask(rel) {
    const link = document.querySelector(`#steps a[rel='${rel}']`);
    if (link) link.click();
  }
  const next = () => (rows().length ? step(1) : stepTask("next"));
  const previous = () => (rows().length ? step(-1) : stepTask("prev"));

  function toggleConditions(row) {
    const details = row?.querySelector("td.conditions details");
    if (details) details.open = !details.open;
  }
  // A task's conditions load in place the first time its disclosure opens, from the link the
  // row carries for readers without JavaScript (one listener for every row).
  function loadConditions(event) {
    const details = event.target;
    if (!(details instanceof HTMLDetailsElement) || !details.open) return;
    const list = details.querySelector(":scope > .condition-list[data-conditions]");
    const link = list?.querySelector("a[href]");
    if (!link) return;
    list.removeAttribute("data-conditions"); // once, even if it is closed and opened again meanwhile
    htmx.ajax("GET", link.getAttribute("href"), { source: list, target: list, swap: "outerHTML" });
  }

  // "Skip to the rows" lands on the first row's link, where j and k go on from.
  function skipToRows(event) {
    const skip = event.target instanceof Element ? event.target.closest("[data-skip-rows]") : null;
    const first = rows()[0];
    if (!skip || !first) return;
    event.preventDefault();
    focusRow(first);
  }

  return {
    keepLoadedRows,
    keepSameCounts,
    countRowsBeforeMore,
    focusFirstNewRow,
    focusChosenRows,
    startFollowing,
    rememberFollowing,
    followSummary,
    updateStaleRows,
    rowOf,
    isRowLink,
    step,
    next,
    previous,
    toggleConditions,
    loadConditions,
    skipToRows,
    tickUpdated,
  };
})();

// ==== Failures ====
// The failure groups of a task list (tasks.html's "Why tasks failed" panel, which _triage.html
// fills after the page): they load above the rows whose heading a link chose (see the listing).
const failures = (() => {
  // The failure groups load above the rows after the page: keep the focused heading in view,
  // until the person does anything at all (a scroll, a key, a click is theirs to make).
  let keepRowsInView = true;
  function personActed() {
    keepRowsInView = false;
  }
  function keepHeadingInView() {
    const heading = document.activeElement;
    if (keepRowsInView && heading?.hasAttribute("data-focus-on-load")) {
      heading.scrollIntoView({ block: "start" });
    }
  }
  return { personActed, keepHeadingInView };
})();

// ==== Health and timeline ====
// An execution's timeline (timeline.html, _timeline.html): its axis in the viewer's time zone,
// its table of bars, and which bar is pointed at or chosen from the keyboard. The health page and
// the jobs page's summary (health.html, _health_summary.html) need only the shell (polls, ages).
const health = (() => {
  // The server labels the time axis in UTC; here it is relabelled in the viewer's own time zone.
  let tickFormat = null; // made when a chart first needs it, as the times' format is
  function localTimeline(root) {
    for (const tick of root.querySelectorAll("text.tl-tick[data-at]")) {
      const at = new Date(tick.dataset.at);
      if (tick.dataset.utc === undefined) tick.dataset.utc = tick.textContent;
      // Seconds matter only when the ticks are less than a minute apart.
      tickFormat ??= new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
      tick.textContent = tick.dataset.utc.length > 5 ? at.toLocaleTimeString() : tickFormat.format(at);
      keepInside(tick);
    }
    for (const note of root.querySelectorAll("[data-zone]")) note.textContent = `Times in ${Intl.DateTimeFormat().resolvedOptions().timeZone}`;
  }
  // A label in the viewer's own words may be wider than the server's: one that would run past the
  // chart's edge is turned to run inward from its tick instead, so that it is never cut.
  function keepInside(tick) {
    const width = tick.ownerSVGElement?.viewBox.baseVal.width;
    if (!width || tick.classList.contains("tl-start") || tick.classList.contains("tl-end")) return;
    const box = tick.getBBox();
    if (box.x < 0) tick.classList.add("tl-start");
    else if (box.x + box.width > width) tick.classList.add("tl-end");
  }

  // Which bar is pointed at, or chosen from the keyboard, is said beside the chart. The chart is a
  // few paths, not an element per bar: the bars' tasks are the rows of the table below it (lane,
  // start, wait and run in seconds), read once per chart and looked up by position.
  const MIN_RUN = 0.6; // as timeline.py draws the shortest run
  const charts = new WeakMap();
  const two = (number) => String(number).padStart(2, "0");

  // A duration as formatting.span says it: the two largest units that matter.
  function span(seconds) {
    const days = Math.floor(seconds / 86400);
    const hours = Math.floor((seconds % 86400) / 3600);
    const minutes = Math.floor((seconds % 3600) / 60);
    const secs = seconds % 60;
    if (days) return hours ? `${days} d ${hours} h` : `${days} d`;
    if (hours) return minutes ? `${hours} h ${two(minutes)} min` : `${hours} h`;
    if (minutes) return secs ? `${minutes} min ${two(secs)} s` : `${minutes} min`;
    return `${secs} s`;
  }

  // The table of bars: in the page once opened; before, made from the <noscript> that holds it
  // (its text, as the browser reads a <noscript> with scripting on; or its elements, where htmx
  // parsed the section). Made once per section.
  const tables = new WeakMap();
  function tableOf(section) {
    const source = section.querySelector("noscript.tl-source");
    if (!source) return section.querySelector("table.tl-data");
    if (!tables.has(source)) {
      let table = source.querySelector("table.tl-data");
      if (!table) {
        const holder = document.createElement("template");
        holder.innerHTML = source.textContent;
        table = holder.content.querySelector("table.tl-data");
      }
      tables.set(source, table);
    }
    return tables.get(source);
  }
  function openTable(event) {
    const details = event.target;
    if (!(details instanceof HTMLDetailsElement) || !details.open) return;
    const source = details.matches(".timeline-table") && details.querySelector("noscript.tl-source");
    const table = source && tableOf(details.closest("#timeline") ?? details);
    if (table) source.replaceWith(table);
  }

  function chartOf(element) {
    const section = element instanceof Element ? element.closest("#timeline") : null;
    const svg = section?.querySelector("svg.timeline-chart");
    const table = section && tableOf(section);
    if (!svg || !table) return null;
    if (charts.has(svg)) return charts.get(svg);
    const lanes = [];
    for (const body of table.tBodies) {
      for (const row of body.rows) {
        if (row.cells.length < 5) continue; // the group's heading
        const [lane, at, waited, ran] = [1, 2, 3, 4].map((i) => Number(row.cells[i].textContent));
        const bar = { name: row.cells[0].textContent, status: body.dataset.status, lane: lane - 1, at, waited, ran };
        (lanes[lane - 1] ??= []).push(bar);
      }
    }
    for (const lane of lanes) lane?.sort((a, b) => a.at - a.waited - (b.at - b.waited));
    const start = Date.parse(svg.dataset.start);
    const chart = {
      section, svg, lanes, start,
      seconds: (Date.parse(svg.dataset.end) - start) / 1000 || 1,
      width: svg.viewBox.baseVal.width,
      top: Number(svg.dataset.lanesTop),
      height: Number(svg.dataset.laneHeight),
      base: table.dataset.taskBase,
      chosen: null,
    };
    charts.set(svg, chart);
    return chart;
  }

  // Where a bar is drawn, in the chart's own units.
  function extent(chart, bar) {
    const x = (seconds) => (seconds / chart.seconds) * chart.width;
    const from = x(bar.at - bar.waited);
    return [from, Math.max(x(bar.at + bar.ran), x(bar.at) + MIN_RUN)];
  }

  // The bar nearest a point of a lane, within a couple of units (thin bars stay reachable).
  function barAt(chart, lane, x, slack = 2) {
    let found = null;
    let distance = slack;
    for (const bar of chart.lanes[lane] ?? []) {
      const [from, to] = extent(chart, bar);
      const away = x < from ? from - x : x > to ? x - to : 0;
      if (away <= distance) [found, distance] = [bar, away];
    }
    return found;
  }

  function choose(chart, bar) {
    if (!bar) return;
    chart.chosen = bar;
    const [from, to] = extent(chart, bar);
    const mark = chart.svg.querySelector(".tl-pointed");
    const place = { x: from, y: chart.top + bar.lane * chart.height, width: to - from, height: chart.height };
    for (const [name, value] of Object.entries(place)) mark?.setAttribute(name, value.toFixed(2));
    const link = document.createElement("a");
    link.href = chart.base + encodeURIComponent(bar.name);
    link.textContent = bar.name;
    const started = new Date(chart.start + bar.at * 1000).toLocaleString();
    const words = ` · ${bar.status} · ran ${span(bar.ran)} · waited ${span(bar.waited)} · started ${started}`;
    chart.section.querySelector("#timeline-detail")?.replaceChildren(link, words);
  }

  function pointed(event) {
    const chart = chartOf(event.target);
    const matrix = chart?.svg.getScreenCTM();
    if (!chart || !matrix) return;
    const point = new DOMPoint(event.clientX, event.clientY).matrixTransform(matrix.inverse());
    choose(chart, barAt(chart, Math.floor((point.y - chart.top) / chart.height), point.x));
  }
  // Pointing (pointermove) and clicking alike.
  function pointAt(event) {
    if (event.target instanceof Element && event.target.closest("svg.timeline-chart")) pointed(event);
  }

  // From the keyboard, in the chart's scroller: ← → the lane's bars, Home End its first and last,
  // ↑ ↓ the next lanes, Enter opens the chosen bar's task. Focusing the chart chooses its first
  // bar. Every bar is so reached, and named in the status line beside the chart.
  function first(chart) {
    return chart.lanes.find((lane) => lane?.length)?.[0];
  }
  function moved(chart, key) {
    const bar = chart.chosen;
    if (!bar) return first(chart);
    const lane = chart.lanes[bar.lane];
    const at = lane.indexOf(bar);
    if (key === "ArrowLeft") return lane[Math.max(at - 1, 0)];
    if (key === "ArrowRight") return lane[Math.min(at + 1, lane.length - 1)];
    if (key === "Home") return lane[0];
    if (key === "End") return lane[lane.length - 1];
    const step = key === "ArrowUp" ? -1 : 1;
    const middle = (extent(chart, bar)[0] + extent(chart, bar)[1]) / 2;
    for (let next = bar.lane + step; next >= 0 && next < chart.lanes.length; next += step) {
      const found = barAt(chart, next, middle, Infinity);
      if (found) return found;
    }
    return bar;
  }
  function chooseFirstBar(event) {
    if (!(event.target instanceof Element) || !event.target.matches(".timeline-scroll")) return;
    const chart = chartOf(event.target);
    if (chart && !chart.chosen) choose(chart, first(chart));
  }
  function chooseByKey(event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (!(event.target instanceof Element) || !event.target.matches(".timeline-scroll")) return;
    const chart = chartOf(event.target);
    if (!chart) return;
    if (event.key === "Enter" && chart.chosen) {
      event.preventDefault();
      window.location.assign(chart.base + encodeURIComponent(chart.chosen.name));
    } else if (["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "Home", "End"].includes(event.key)) {
      event.preventDefault();
      choose(chart, moved(chart, event.key));
      chart.svg.querySelector(".tl-pointed")?.scrollIntoView({ block: "nearest", inline: "nearest" });
    }
  }

  return { localTimeline, openTable, pointAt, chooseFirstBar, chooseByKey };
})();

// ==== Logs ====
// A task's logs and an execution's (logs.html, execution_logs.html; _log_view, _log_lines,
// _log_items, _log_follow, _log_controls): local times, follow (pause, de-duplication, late lines
// in order, the oldest leaving), scrolling, and links to a line.
const logs = (() => {
  const NEAR_BOTTOM = 24; // px: this close to the end still counts as reading the latest lines
  const formatters = new Map();
  let stuck = true; // the reader is at the newest line: new ones scroll into view

  const panel = () => document.getElementById("log-panel");
  const scroller = () => document.getElementById("log-scroll");
  const atBottom = (box) => box.scrollHeight - box.scrollTop - box.clientHeight <= NEAR_BOTTOM;

  function formatter(dated) {
    const key = dated ? "dated" : "time";
    if (!formatters.has(key)) {
      const options = { hour: "2-digit", minute: "2-digit", second: "2-digit", fractionalSecondDigits: 3, hourCycle: "h23" };
      if (dated) Object.assign(options, { month: "2-digit", day: "2-digit" });
      formatters.set(key, new Intl.DateTimeFormat(undefined, options));
    }
    return formatters.get(key);
  }

  // Times arrive in UTC; unless the view asks for UTC, show them in the reader's own zone.
  function localize(box) {
    if (box.dataset.tz === "utc") return;
    const zone = document.getElementById("log-zone");
    if (zone && !zone.hasAttribute("data-local")) {
      const name = Intl.DateTimeFormat().resolvedOptions().timeZone || "your time zone";
      zone.textContent = `Oldest first · times in ${name} (this browser's time zone)`;
      zone.setAttribute("data-local", "");
    }
    const format = formatter(box.hasAttribute("data-dated"));
    for (const time of box.querySelectorAll(".log-line time:not([data-local])")) {
      const moment = new Date(time.dateTime);
      if (Number.isNaN(moment.getTime())) continue;
      time.title = `${moment.toString()} · ${time.title}`;
      time.textContent = format.format(moment);
      time.dataset.local = "";
    }
  }

  // Follow polls overlap, so lines repeat: keep the first of each key. Late lines come after
  // later ones: move each new line up to its place in time.
  function settle(list) {
    const seen = new Set();
    const trimmed = list.dataset.trimmedAt; // lines up to then have left the page: not new
    for (const line of list.querySelectorAll("li.log-line")) {
      if (seen.has(line.dataset.key)) line.remove();
      else if (trimmed && !line.hasAttribute("data-placed") && line.dataset.at <= trimmed) line.remove();
      else seen.add(line.dataset.key);
    }
    const arrived = list.querySelectorAll("li.log-line:not([data-placed])");
    for (const line of arrived) {
      let before = line.previousElementSibling;
      let moved = false;
      while (before && before.classList.contains("log-line") && before.dataset.at > line.dataset.at) {
        before = before.previousElementSibling;
        moved = true;
      }
      if (moved) {
        (before ? before.after(line) : list.prepend(line));
        line.classList.add("late");
        line.title = "Arrived late; placed in time order";
      }
      line.dataset.placed = "";
    }
    if (list.querySelector("li.log-line")) list.querySelector("li.log-empty")?.remove();
    return arrived.length;
  }

  // While following with the newest lines in view, the oldest beyond the page's share leave it;
  // a note above the rest counts them. A reader scrolled back keeps every line until they return.
  function trim(list) {
    const lines = list.querySelectorAll("li.log-line");
    const extra = lines.length - Number(list.dataset.keep || lines.length);
    if (extra <= 0) return;
    for (let index = 0; index < extra; index++) lines[index].remove();
    list.dataset.trimmedAt = lines[extra - 1].dataset.at;
    const first = list.querySelector("li.log-line");
    for (const item of list.querySelectorAll("li:not(.log-line):not(#log-trimmed)")) {
      if (item.compareDocumentPosition(first) & Node.DOCUMENT_POSITION_FOLLOWING) item.remove();
    }
    let note = document.getElementById("log-trimmed");
    if (!note) {
      note = document.getElementById("log-trimmed-note").content.firstElementChild.cloneNode(true);
      list.prepend(note);
    }
    const count = note.querySelector("[data-count]");
    const gone = Number(count.dataset.count) + extra;
    count.dataset.count = gone;
    count.textContent = `${gone.toLocaleString("en")} older ${gone === 1 ? "line" : "lines"}`;
  }

  function refresh(event) {
    const box = panel();
    if (!box) return;
    const list = document.getElementById("log-lines");
    const arrived = list ? settle(list) : 0;
    const source = event?.detail?.requestConfig?.elt;
    if (arrived && stuck && source?.hasAttribute("data-follow")) trim(list);
    // Lines a follow poll brought are new to the window's count; earlier lines were in it.
    const total = document.getElementById("log-total");
    if (total && arrived && source?.hasAttribute("data-follow")) {
      const count = Number(total.textContent.replace(/\D/g, "")) + arrived;
      total.textContent = count.toLocaleString("en");
      // The noun after the count agrees with it: "1 line", "2 lines".
      const noun = total.nextSibling;
      if (noun?.nodeType === Node.TEXT_NODE) noun.textContent = noun.textContent.replace(/\blines?\b/, count === 1 ? "line" : "lines");
    }
    localize(box);
    const follow = document.getElementById("log-follow");
    const pause = document.getElementById("log-pause");
    if (pause && !(follow && follow.hasAttribute("hx-get"))) pause.hidden = true;
    const scroll = scroller();
    if (!scroll) return;
    if (!scroll.hasAttribute("data-ready")) {
      scroll.setAttribute("data-ready", ""); // from now on, its scrolling is followed (scrolled)
      stuck = !new URLSearchParams(location.search).has("offset");
    }
    if (seek(list)) stuck = false;
    if (stuck) scroll.scrollTop = scroll.scrollHeight;
    else document.getElementById("log-jump")?.removeAttribute("hidden");
  }

  // The lines' box, once refresh has made it ready: at its end, new lines scroll into view;
  // scrolled back, a button jumps to the end.
  function scrolled(event) {
    const scroll = event.target;
    if (!(scroll instanceof Element) || scroll.id !== "log-scroll" || !scroll.hasAttribute("data-ready")) return;
    stuck = atBottom(scroll);
    const jump = document.getElementById("log-jump");
    if (jump) jump.hidden = stuck;
  }

  // A link to a line (#L…: its time, then a hash of its message) highlights it and brings it
  // into view once it is on the page: with the page, a follow poll, or earlier lines, which load
  // on their own (up to MAX_EARLIER pages) while the line is older than those shown.
  const MAX_EARLIER = 20;
  const LINE_ID = /^L(\d{8}T\d{15}|0{24})-[0-9a-f]{8}$/;
  let shownTarget = "";
  let earlierAsked = 0;
  function seek(list) {
    const id = decodeURIComponent(location.hash.slice(1));
    if (!list || !LINE_ID.test(id)) return false;
    for (const old of list.querySelectorAll(".is-target")) if (old.id !== id) old.classList.remove("is-target");
    const line = document.getElementById(id);
    if (line) {
      line.classList.add("is-target");
      if (shownTarget === id) return false;
      shownTarget = id;
      line.scrollIntoView({ block: "center" });
      return true;
    }
    const first = list.querySelector("li.log-line");
    const earlier = document.querySelector("#log-earlier a[hx-get]");
    const note = document.getElementById("log-follow-note");
    if (first && earlier && id.slice(1, 25) < first.id.slice(1, 25) && earlierAsked < MAX_EARLIER) {
      if (earlier.hasAttribute("data-sought")) return false; // asked already: its lines are coming
      earlier.setAttribute("data-sought", "");
      earlierAsked += 1;
      earlier.click();
    } else if (first && id.slice(1, 25) > [...list.querySelectorAll("li.log-line")].at(-1).id.slice(1, 25) && document.querySelector("#log-follow[hx-get]")) {
      return false; // a line yet to come: a follow poll brings it
    } else if (note && shownTarget !== id) {
      note.textContent = "The linked line is not among these: it may be outside this window or filter.";
      shownTarget = id;
    }
    return false;
  }
  function seekLinkedLine() {
    refresh();
  }

  // Paused or hidden, a followed log asks for nothing; resuming picks up from where it stopped.
  function holdPausedFollow(event) {
    const elt = event.detail.elt;
    const box = panel();
    if (elt.hasAttribute("data-follow") && box && box.hasAttribute("data-paused")) {
      event.preventDefault();
    }
    if (elt.closest("#log-earlier")) stuck = false; // reading back: stay with the older lines
  }

  function pauseOrJump(event) {
    const button = event.target instanceof Element ? event.target.closest("#log-pause, #log-jump") : null;
    if (!button) return;
    if (button.id === "log-pause") {
      const paused = button.getAttribute("aria-pressed") !== "true";
      button.setAttribute("aria-pressed", String(paused));
      button.textContent = paused ? "Resume following" : "Pause following";
      panel()?.toggleAttribute("data-paused", paused);
    } else {
      const scroll = scroller();
      if (scroll) scroll.scrollTop = scroll.scrollHeight;
      stuck = true;
      button.hidden = true;
    }
  }

  return { refresh, scrolled, seekLinkedLine, holdPausedFollow, pauseOrJump };
})();

// ==== Runs ====
// Remembered runs and their comparison (job_runs.html, task_runs.html, compare.html): no script
// of their own; the shell's times, copy buttons and keys serve them.

// ==== Operate ====
// Cancelling and the operating trail (_cancel_form.html, cancel_answer.html, audit.html): no
// script of their own; plain forms, and the shell's Esc closes the confirmation.

// ==== Wiring ====
// One listener per event for the whole file. Each calls the areas' handlers in turn, in the order
// given, as separate listeners would: one that throws is reported and the next still runs; one
// that stops the event (preventDefault) comes before those that look whether it was.
function inTurn(...handlers) {
  return (event) => {
    for (const handler of handlers) {
      try {
        handler(event);
      } catch (error) {
        reportError(error);
      }
    }
  };
}

document.addEventListener(
  "DOMContentLoaded",
  inTurn(
    tickAges,
    () => addCopyButtons(document),
    () => showTimes(document),
    listing.focusChosenRows,
    listing.startFollowing,
    logs.refresh,
    () => health.localTimeline(document),
  ),
);
document.addEventListener(
  "htmx:load",
  inTurn(
    tickAges,
    (event) => addCopyButtons(event.detail.elt),
    (event) => showTimes(event.detail.elt),
    (event) => health.localTimeline(event.detail.elt),
  ),
);
document.addEventListener(
  "htmx:beforeRequest",
  inTurn(holdPollsWhileHidden, listing.keepLoadedRows, listing.countRowsBeforeMore, logs.holdPausedFollow),
);
document.addEventListener("htmx:beforeSwap", keepOnFailure);
document.addEventListener("htmx:sendError", keepOnFailure);
document.addEventListener("htmx:oobBeforeSwap", listing.keepSameCounts);
document.addEventListener("htmx:afterSwap", listing.followSummary);
document.addEventListener(
  "htmx:afterSettle",
  inTurn(listing.focusFirstNewRow, failures.keepHeadingInView, logs.refresh),
);
document.addEventListener(
  "click",
  inTurn(
    copyText,
    toggleTimes,
    listing.updateStaleRows,
    logs.pauseOrJump,
    health.pointAt,
    openShortcuts,
    listing.skipToRows,
    togglePanel,
  ),
);
document.addEventListener("change", listing.rememberFollowing);
// The chart's keys first: a key it takes is no shortcut (pressShortcut skips a prevented event).
document.addEventListener("keydown", inTurn(health.chooseByKey, pressShortcut));
document.addEventListener("focusin", health.chooseFirstBar);
document.addEventListener("pointermove", health.pointAt);
// These two do not bubble: seen on their way down (the capture phase).
document.addEventListener("toggle", inTurn(listing.loadConditions, health.openTable), true);
document.addEventListener("scroll", logs.scrolled, { capture: true, passive: true });

window.addEventListener("hashchange", logs.seekLinkedLine);
// Anything the person does (a scroll, a key, a click) is seen on the window on its way down,
// before any part of the page acts on it: from then on the rows' heading is theirs to move.
window.addEventListener("wheel", failures.personActed, { capture: true, passive: true });
window.addEventListener("touchstart", failures.personActed, { capture: true, passive: true });
window.addEventListener("keydown", failures.personActed, { capture: true, passive: true });
window.addEventListener("pointerdown", failures.personActed, { capture: true, passive: true });
