/* The technicians' lists: lamps out, offline controllers, lamp ids awaiting commissioning. */
(function () {
  "use strict";
  const SL = window.SL;
  const { config, t, h, api, fmt } = SL;
  const PAGE = 100;

  const lampColumns = [
    { head: "lists.col.lamp", cell: (lamp) => SL.lampLink(lamp.lamp_id) },
    { head: "lists.col.name", cell: (lamp) => lamp.name },
    { head: "lists.col.street", cell: (lamp) => lamp.street },
    { head: "lists.col.circuit", cell: (lamp) => lamp.circuit },
    { head: "lists.col.state", cell: (lamp) => SL.stateBadge(lamp.state) },
    { head: "lists.col.online", cell: (lamp) => SL.onlineBadge(lamp.online) },
  ];

  /** Lamps out, as the fleet summary counts them: not retired, and faulty or with an open lamp_failure. */
  async function lampsOut() {
    const [faulty, failures] = await Promise.all([
      allPages("/api/v1/lamps", { state: "faulty" }),
      allPages("/api/v1/events", { type: "lamp_failure", open: true }),
    ]);
    const since = new Map();
    for (const event of failures) {
      if (!since.has(event.lamp_id) || event.ts < since.get(event.lamp_id)) since.set(event.lamp_id, event.ts);
    }
    const known = new Set(faulty.map((lamp) => lamp.lamp_id));
    const others = await Promise.all([...since.keys()].filter((id) => !known.has(id))
      .map((id) => api("/api/v1/lamps/" + encodeURIComponent(id)).catch(() => null)));
    const lamps = [...faulty, ...others.filter((lamp) => lamp && lamp.state !== "retired")];
    for (const lamp of lamps) lamp.failed_at = since.get(lamp.lamp_id) || null;
    // Longest out first: they have waited longest.
    lamps.sort((a, b) => (a.failed_at || "9").localeCompare(b.failed_at || "9") || a.lamp_id.localeCompare(b.lamp_id));
    return lamps;
  }

  async function allPages(path, params) {
    const items = [];
    for (let offset = 0; ; offset += 1000) {
      const page = await api(path, { params: { ...params, limit: 1000, offset } });
      items.push(...page.items);
      if (items.length >= page.total || !page.items.length) return items;
    }
  }

  const LISTS = {
    out: {
      load: lampsOut,
      columns: [
        ...lampColumns.slice(0, 4),
        { head: "lists.col.failed_at", cell: (lamp) => lamp.failed_at
          ? h("time", { datetime: lamp.failed_at, title: fmt.dateTime(lamp.failed_at) }, fmt.ago(lamp.failed_at)) : "" },
        ...lampColumns.slice(4),
      ],
    },
    offline: { path: "/api/v1/lamps", params: { connectivity: "offline" }, columns: lampColumns },
    unknown: {
      path: "/api/v1/unknown-lamps",
      params: { status: "pending" },
      columns: [
        { head: "lists.col.lamp_id", cell: (row) => h("code", {}, row.lamp_id) },
        { head: "lists.col.first_seen", cell: (row) => h("time", { datetime: row.first_seen_at }, fmt.dateTime(row.first_seen_at)) },
        { head: "lists.col.last_seen", cell: (row) => h("time", { datetime: row.last_seen_at, title: fmt.dateTime(row.last_seen_at) }, fmt.ago(row.last_seen_at)) },
        { head: "lists.col.messages", cell: (row) => fmt.number(row.message_count), numeric: true },
        { head: "lists.col.topic", cell: (row) => h("code", { class: "small" }, row.last_topic) },
      ],
    },
  };

  const spec = LISTS[config.list];

  function row(item) {
    return h("tr", {}, ...spec.columns.map((column, index) => {
      const content = column.cell(item);
      return index === 0
        ? h("th", { scope: "row" }, content)
        : h("td", { class: column.numeric ? "num" : null }, content === "" ? "–" : content);
    }));
  }

  const list = SL.pagedTable({
    name: "list",
    countKey: `lists.${config.list}.count`,
    row,
    errorBox: document.getElementById("list-error"),
    fetchPage: (offset) => (spec.load
      ? spec.load().then((items) => ({ items, total: items.length }))
      : api(spec.path, { params: { ...spec.params, limit: PAGE, offset } })),
  });

  list.table.querySelector("thead").replaceChildren(
    h("tr", {}, ...spec.columns.map((column) => h("th", { scope: "col", class: column.numeric ? "num" : null }, t(column.head)))));

  SL.autoRefresh(list.reload);
})();
