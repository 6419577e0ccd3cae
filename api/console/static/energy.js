/* The energy page: the period's summary first (savings in kWh, EUR and kg CO2, and how much
 * of it was measured), the months as a chart, then each group's months in a folded table shown
 * a page at a time; the same table as CSV. Every figure is for the lamp-hours measured.
 */
(function () {
  "use strict";

  const { t, h, api, fmt, errorText, showError, fillTable } = window.SL;
  const form = document.getElementById("energy-form");
  const errorBox = document.getElementById("energy-error");
  const statusLine = document.getElementById("energy-status");
  const groupSelect = document.getElementById("energy-group");
  const csvLink = document.getElementById("energy-csv");
  const coverageLine = document.getElementById("energy-coverage");
  const moreButton = document.getElementById("energy-more");
  const pageStatus = document.getElementById("energy-page-status");
  const knownGroups = new Set();
  const PAGE_ROWS = 24;
  let plot = null;
  let tableRows = [];
  let shownRows = 0;

  const monthOf = new Intl.DateTimeFormat("en-CA", { timeZone: fmt.zone, year: "numeric", month: "2-digit" });
  const monthName = new Intl.DateTimeFormat(fmt.locale, { month: "short", year: "numeric", timeZone: "UTC" });
  const thisMonth = monthOf.format(new Date()).slice(0, 7);
  const [year, month] = thisMonth.split("-").map(Number);
  const firstIndex = year * 12 + month - 1 - 11;
  form.elements.from.value = `${Math.floor(firstIndex / 12)}-${String((firstIndex % 12) + 1).padStart(2, "0")}`;
  form.elements.to.value = thisMonth;

  const groupLabel = (name) => (name === "" ? t("energy.no_group") : name);
  const monthLabel = (text) => monthName.format(new Date(`${text}-15T00:00:00Z`));

  function params() {
    return { from: form.elements.from.value, to: form.elements.to.value, group: groupSelect.value || null };
  }

  function addGroups(rows) {
    for (const row of rows) {
      if (row.group === "" || knownGroups.has(row.group)) continue;
      knownGroups.add(row.group);
      groupSelect.append(h("option", { value: row.group }, row.group));
    }
  }

  function drawChart(monthRows) {
    const holder = document.querySelector("#energy-chart .chart-plot");
    if (plot) { plot.destroy(); plot = null; }
    holder.replaceChildren();
    const months = monthRows.map((row) => [row.month, { full: row.full_kwh, estimated: row.estimated_kwh, measured: row.measured_kwh }]);
    if (!months.length) { holder.append(h("p", { class: "chart-empty muted" }, t("energy.empty"))); return; }
    if (!window.uPlot) { holder.append(h("p", { class: "chart-empty muted" }, t("error.vendor_missing"))); return; }
    const xs = months.map((_, i) => i);
    const value = (u, v) => (v === null || v === undefined ? "–" : fmt.energyKwh(v));
    const bars = uPlot.paths.bars({ size: [0.25, 40] });
    plot = new uPlot({
      width: Math.max(280, holder.clientWidth || 640),
      height: 260,
      scales: { x: { time: false, range: [-0.6, months.length - 0.4] }, y: { range: (u, lo, hi) => [0, Math.max(1, hi * 1.1)] } },
      series: [
        { label: t("energy.month"), value: (u, i) => (i === null || i === undefined || !months[i] ? "–" : monthLabel(months[i][0])) },
        { label: t("energy.full"), stroke: "#6b7785", width: 2, dash: [6, 4], points: { show: true, size: 5 }, value },
        { label: t("energy.estimated"), stroke: "#1c6fc9", width: 2, points: { show: true, size: 5 }, value },
        { label: t("energy.measured"), stroke: "#2e7d32", fill: "rgba(46, 125, 50, 0.35)", paths: bars, points: { show: false }, value },
      ],
      axes: [
        { values: (u, splits) => splits.map((i) => (Number.isInteger(i) && months[i] ? monthLabel(months[i][0]) : "")),
          stroke: "#4b5563", grid: { show: false }, space: 40 },
        { values: (u, splits) => splits.map((v) => fmt.number(v, 0)), stroke: "#4b5563", grid: { stroke: "#e5e7eb" }, size: 60,
          label: "kWh" },
      ],
      legend: { show: true, live: true },
      cursor: { drag: { x: false, y: false } },
    }, [xs, months.map(([, m]) => m.full), months.map(([, m]) => m.estimated), months.map(([, m]) => m.measured)], holder);
  }

  function renderTotals(body) {
    const summary = body.summary;
    const share = summary.saved_kwh !== null && summary.full_kwh > 0 ? summary.saved_kwh / summary.full_kwh : null;
    document.getElementById("energy-totals").replaceChildren(
      kpi(t("energy.total_saved"), fmt.energyKwh(summary.saved_kwh), "kwh"),
      kpi(t("energy.total_cost"), summary.cost_saved_eur === null ? "–" : fmt.unit(summary.cost_saved_eur, "€", 0), "eur"),
      kpi(t("energy.total_co2"), summary.co2_saved_kg === null ? "–" : fmt.unit(summary.co2_saved_kg, "kg", 0), "co2"),
      kpi(t("energy.saved_share"), share === null ? "–" : fmt.unit(share * 100, "%", 1), "share"),
      kpi(t("energy.coverage"), fmt.unit(summary.coverage * 100, "%", 1), "coverage"),
      kpi(t("energy.price"), t("energy.price_text", {
        price: fmt.unit(body.price_eur_per_kwh, "€/kWh", 3), factor: fmt.unit(body.emission_g_co2_per_kwh, "g/kWh", 0),
      }), "factors"));
    coverageLine.hidden = false;
    coverageLine.textContent = t(summary.partial ? "energy.partial_text" : "energy.complete_text", {
      share: fmt.unit(summary.coverage * 100, "%", 1),
      measured: fmt.number(summary.measured_lamp_hours, 0),
      total: fmt.number(summary.lamp_hours, 0),
      reporting: fmt.number(summary.lamps_reporting),
      lamps: fmt.number(summary.lamps),
    });
    coverageLine.dataset.partial = String(summary.partial);
    coverageLine.className = summary.partial ? "notice notice-warn" : "notice notice-ok";
  }

  function kpi(label, value, key) {
    return h("div", { class: "kpi", dataset: { total: key } }, h("span", { class: "kpi-label" }, label), h("span", { class: "kpi-value" }, value));
  }

  function tableRow(row) {
    return h("tr", { dataset: { group: row.group, month: row.month, partial: String(row.partial) } },
      h("th", { scope: "row" }, groupLabel(row.group)),
      h("td", {}, monthLabel(row.month)),
      h("td", { class: "num" }, fmt.number(row.lamps)),
      h("td", { class: "num", dataset: { coverage: row.coverage } }, fmt.unit(row.coverage * 100, "%", 1)),
      h("td", { class: "num" }, fmt.energyKwh(row.full_kwh)),
      h("td", { class: "num" }, fmt.energyKwh(row.estimated_kwh)),
      h("td", { class: "num", dataset: { measured: row.measured_kwh ?? "" } }, fmt.energyKwh(row.measured_kwh)),
      h("td", { class: "num" }, fmt.energyKwh(row.saved_kwh)),
      h("td", { class: "num" }, row.cost_saved_eur === null ? "–" : fmt.unit(row.cost_saved_eur, "€", 0)),
      h("td", { class: "num" }, row.co2_saved_kg === null ? "–" : fmt.unit(row.co2_saved_kg, "kg", 0)));
  }

  /** The next page of the per-group table: a city has hundreds of groups a month. */
  function showMore() {
    const next = tableRows.slice(shownRows, shownRows + PAGE_ROWS);
    document.querySelector("#energy-table tbody").append(...next.map(tableRow));
    shownRows += next.length;
    moreButton.hidden = shownRows >= tableRows.length;
    document.getElementById("energy-details-summary").textContent = t("energy.show_table_count", { count: fmt.number(tableRows.length) });
    pageStatus.textContent = tableRows.length ? t("energy.rows_shown", { shown: fmt.number(shownRows), total: fmt.number(tableRows.length) }) : "";
  }

  function renderTable(rows) {
    tableRows = rows;
    shownRows = 0;
    fillTable("energy-table", "energy-empty", []);
    document.getElementById("energy-empty").hidden = rows.length > 0;
    showMore();
  }

  async function load() {
    const query = params();
    if (!query.from || !query.to) { showError(errorBox, t("energy.months_missing")); return; }
    statusLine.textContent = t("common.loading");
    const search = new URLSearchParams({ format: "csv", from: query.from, to: query.to });
    if (query.group !== null) search.set("group", query.group);
    csvLink.href = `/api/v1/energy/consumption?${search}`;
    try {
      const body = await api("/api/v1/energy/consumption", { params: query });
      showError(errorBox, "");
      if (!groupSelect.value) addGroups(body.rows);
      renderTotals(body);
      renderTable(body.rows);
      drawChart(body.months);
      statusLine.textContent = t("energy.range_text", { from: monthLabel(body.from), to: monthLabel(body.to) });
    } catch (err) {
      statusLine.textContent = "";
      showError(errorBox, errorText(err));
    }
  }

  moreButton.addEventListener("click", showMore);
  form.addEventListener("submit", (event) => { event.preventDefault(); load(); });
  groupSelect.addEventListener("change", load);
  new ResizeObserver(() => { if (plot) plot.setSize({ width: Math.max(280, plot.root.parentElement.clientWidth), height: 260 }); })
    .observe(document.querySelector("#energy-chart .chart-plot"));
  load();
})();
