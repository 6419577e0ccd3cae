/* Streetlight console: what every page shares.
 *
 * The page embeds its settings (language, town time zone, who is signed in) and the
 * message catalogue of its language as JSON; this file reads them and offers the
 * pages a small toolkit as window.SL: t() for texts, api() for the JSON API (session
 * cookie, X-CSRF-Token on every change), formatters that show times in the town's
 * time zone, h() to build DOM nodes without ever parsing data as HTML, and the parts that several
 * pages share (paged tables, the town map, the refresh of a page).
 */
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("console-config").textContent);
  const messages = JSON.parse(document.getElementById("console-messages").textContent);
  const has = (object, key) => Object.prototype.hasOwnProperty.call(object, key);

  /** The text of `key` in the page's language, with {name} placeholders filled from `params`. */
  function t(key, params) {
    const text = has(messages, key) ? messages[key] : key;
    if (!params) return text;
    return text.replace(/\{(\w+)\}/g, (whole, name) => (has(params, name) ? String(params[name]) : whole));
  }

  // ------------------------------------------------------------------ DOM

  /** createElement with attributes and children; strings become text nodes, never HTML. */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") el.className = value;
      else if (key === "text") el.textContent = value;
      else if (key === "dataset") Object.assign(el.dataset, value);
      else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
      else el.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : String(child));
    }
    return el;
  }

  function showError(element, message) {
    if (!element) return;
    element.textContent = message || "";
    element.hidden = !message;
  }

  // ------------------------------------------------------------------ API

  class ApiError extends Error {
    constructor(status, message, body) {
      super(message);
      this.status = status;
      this.body = body;
    }
  }

  function csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  function withParams(path, params) {
    if (!params) return path;
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(params)) {
      if (value === null || value === undefined || value === "") continue;
      query.append(key, String(value));
    }
    const text = query.toString();
    return text ? path + (path.includes("?") ? "&" : "?") + text : path;
  }

  /** Call the JSON API; resolves to the decoded body, rejects with ApiError. */
  async function api(path, options = {}) {
    const method = (options.method || "GET").toUpperCase();
    const headers = { Accept: "application/json" };
    let body;
    if (options.json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(options.json);
    }
    if (method !== "GET" && method !== "HEAD") headers["X-CSRF-Token"] = csrfToken();
    let response;
    try {
      response = await fetch(withParams(path, options.params), {
        method, headers, body, credentials: "same-origin", cache: "no-store", signal: options.signal,
      });
    } catch (err) {
      if (err && err.name === "AbortError") throw err;
      throw new ApiError(0, t("error.network"));
    }
    const type = response.headers.get("content-type") || "";
    const data = type.includes("json") ? await response.json().catch(() => null) : null;
    if (response.status === 401 && !options.allow401) {
      // The session has ended (expired, or signed out elsewhere): sign in again, then come back.
      const here = location.pathname + location.search;
      location.assign("/login?expired=1&next=" + encodeURIComponent(here));
      throw new ApiError(401, t("error.session"), data);
    }
    if (!response.ok) {
      const detail = data && (data.detail || data.title);
      throw new ApiError(response.status, typeof detail === "string" ? detail : t("error.http", { status: response.status }), data);
    }
    return data;
  }

  /** A message for an error from api(), in the page's language where the status says enough. */
  function errorText(err) {
    if (!(err instanceof ApiError)) return t("error.unexpected");
    if (err.status === 0) return t("error.network");
    if (err.status === 403) return t("error.forbidden.api");
    if (err.status === 404) return t("error.not_found.api");
    if (err.status === 503) return t("error.busy");
    if (err.status >= 500) return t("error.server");
    return err.message;
  }

  // ------------------------------------------------------------------ formats

  const locale = config.lang === "fr" ? "fr-FR" : "en-GB";
  const zone = config.timezone || "Europe/Paris";
  const formats = {
    dateTime: new Intl.DateTimeFormat(locale, { timeZone: zone, dateStyle: "medium", timeStyle: "short" }),
    date: new Intl.DateTimeFormat(locale, { timeZone: zone, dateStyle: "medium" }),
    time: new Intl.DateTimeFormat(locale, { timeZone: zone, hour: "2-digit", minute: "2-digit", second: "2-digit" }),
    relative: new Intl.RelativeTimeFormat(locale, { numeric: "auto" }),
  };

  function toDate(value) {
    if (value === null || value === undefined || value === "") return null;
    const date = value instanceof Date ? value : new Date(value);
    return Number.isNaN(date.getTime()) ? null : date;
  }

  const dash = "–";
  const fmt = {
    locale,
    zone,
    dateTime: (value) => { const d = toDate(value); return d ? formats.dateTime.format(d) : dash; },
    date: (value) => { const d = toDate(value); return d ? formats.date.format(d) : dash; },
    time: (value) => { const d = toDate(value); return d ? formats.time.format(d) : dash; },
    /** A calendar day ("2024-01-31"), read at noon UTC so that no time zone moves it to another day. */
    day: (value) => (value ? fmt.date(value + "T12:00:00Z") : dash),
    /** "5 minutes ago" / "il y a 5 minutes". */
    ago(value) {
      const d = toDate(value);
      if (!d) return dash;
      const seconds = (d.getTime() - Date.now()) / 1000;
      const steps = [[60, "second"], [3600, "minute"], [86400, "hour"], [86400 * 30, "day"], [86400 * 365, "month"]];
      let unit = "year";
      let size = 86400 * 365;
      for (const [limit, name] of steps) {
        if (Math.abs(seconds) < limit) { unit = name; break; }
      }
      size = { second: 1, minute: 60, hour: 3600, day: 86400, month: 86400 * 30, year: 86400 * 365 }[unit];
      return formats.relative.format(Math.round(seconds / size), unit);
    },
    number(value, digits = 0) {
      if (value === null || value === undefined || Number.isNaN(Number(value))) return dash;
      return new Intl.NumberFormat(locale, { maximumFractionDigits: digits, minimumFractionDigits: 0 }).format(Number(value));
    },
    /** A value with its unit, e.g. "42,5 W". */
    unit(value, unit, digits = 1) {
      const text = fmt.number(value, digits);
      return text === dash ? dash : `${text}\u202f${unit}`;
    },
    /** Energy given in kWh, shown in kWh or MWh. */
    energyKwh(kwh) {
      if (kwh === null || kwh === undefined) return dash;
      const value = Number(kwh);
      if (Math.abs(value) >= 10000) return fmt.unit(value / 1000, "MWh", 1);
      return fmt.unit(value, "kWh", value >= 100 ? 0 : 1);
    },
  };

  // ------------------------------------------------------------------ lamp states

  const STATES = ["in_service", "faulty", "under_repair", "planned", "retired"];
  const STATE_COLOURS = {
    in_service: "#2e7d32",
    faulty: "#c62828",
    under_repair: "#e67700",
    planned: "#1c6fc9",
    retired: "#6b7785",
  };

  const stateLabel = (state) => (has(messages, "state." + state) ? t("state." + state) : state);
  const eventLabel = (type) => (has(messages, "event." + type) ? t("event." + type) : type);

  function stateBadge(state) {
    return h("span", { class: `badge badge-state badge-${state}` }, h("span", { class: "dot", "aria-hidden": "true" }), stateLabel(state));
  }

  function onlineBadge(online) {
    if (online === true) return h("span", { class: "badge badge-online" }, t("online.online"));
    if (online === false) return h("span", { class: "badge badge-offline" }, t("online.offline"));
    return h("span", { class: "badge badge-unknown" }, t("online.unknown"));
  }

  function lampLink(lampId, text) {
    return h("a", { href: "/lamps/" + encodeURIComponent(lampId) }, text || lampId);
  }

  /** A reason of a prediction, in French where the model wrote it in French too. */
  const reasonText = (reason) => (config.lang === "fr" && reason.text_fr ? reason.text_fr : reason.text);

  /** A term and its value for a <dl>, a dash for no value. */
  function fact(term, value) {
    return [h("dt", {}, term), h("dd", {}, value === null || value === undefined || value === "" ? dash : value)];
  }

  // The telemetry fields that are charted, in the order the lamp page draws them; the same colours
  // wherever they are drawn.
  const METRICS = {
    power_w: { label: "metric.power_w", unit: "W", digits: 1, colour: "#1c6fc9" },
    power_factor: { label: "metric.power_factor", unit: "", digits: 2, colour: "#7b3fb5" },
    voltage_v: { label: "metric.voltage_v", unit: "V", digits: 1, colour: "#0f7f75" },
    driver_temp_c: { label: "metric.driver_temp_c", unit: "°C", digits: 1, colour: "#c2410c" },
    dim_level: { label: "metric.dim_level", unit: "%", digits: 0, colour: "#a16207" },
  };

  // ------------------------------------------------------------------ map

  /** The town's Leaflet map in `element`, on a plain background unless the town configured a tile
   * server; null (and the error shown in `errorBox`) when Leaflet is missing. */
  function townMap(element, errorBox) {
    if (!window.L) {
      showError(errorBox, t("error.vendor_missing"));
      return null;
    }
    const map = L.map(element, {
      zoomControl: false,
      attributionControl: Boolean(config.mapTileUrl),
      zoomSnap: 0.25,
      minZoom: 3,
      maxZoom: 20,
    });
    L.control.zoom({ zoomInTitle: t("dashboard.map.zoom_in"), zoomOutTitle: t("dashboard.map.zoom_out") }).addTo(map);
    L.control.scale({ imperial: false }).addTo(map);
    if (config.mapTileUrl) {
      L.tileLayer(config.mapTileUrl, { maxZoom: 20, attribution: config.mapTileAttribution || "" }).addTo(map);
      element.classList.add("map-tiles");
    } else {
      element.classList.add("map-plain");
    }
    map.setView([46.6, 2.4], 5); // France, until the lamps are known
    return map;
  }

  // ------------------------------------------------------------------ tables

  /** Rows into a table's body; the table's empty note shows when there are none. */
  function fillTable(tableId, emptyId, rows) {
    document.querySelector(`#${tableId} tbody`).replaceChildren(...rows);
    document.getElementById(emptyId).hidden = rows.length > 0;
  }

  /**
   * A list shown a page at a time, laid out by the templates' list_card: the heading `name`-count
   * counts it (message `countKey`), the table (`tableId`, or `name`-table) gets row(item, index) for
   * each item, `name`-empty shows when there are none and `name`-more fetches the next page.
   * fetchPage(offset) resolves to { items, total }, with `available` when fewer than `total` can be
   * shown. A fetch's error shows in `errorBox`, when given, until one succeeds.
   */
  function pagedTable({ name, tableId, countKey, row, fetchPage, errorBox }) {
    const table = document.getElementById(tableId || name + "-table");
    const body = table.querySelector("tbody");
    const countHeading = document.getElementById(name + "-count");
    const empty = document.getElementById(name + "-empty");
    const more = document.getElementById(name + "-more");
    let shown = 0;

    /** A page at `offset`: the first replaces the rows, the next ones add to them. */
    function render(page, offset) {
      if (offset === 0) body.replaceChildren();
      body.append(...page.items.map((item, index) => row(item, offset + index)));
      shown = offset + page.items.length;
      countHeading.textContent = t(countKey, { count: fmt.number(page.total) });
      table.dataset.total = String(page.total);
      empty.hidden = page.total !== 0;
      table.hidden = page.total === 0;
      more.hidden = shown >= (page.available ?? page.total);
    }

    async function load(offset) {
      const page = await fetchPage(offset);
      showError(errorBox, "");
      render(page, offset);
    }

    /** The first page again; rejects (the error shown) when it cannot be fetched. */
    async function reload() {
      try {
        await load(0);
      } catch (err) {
        showError(errorBox, errorText(err));
        throw err;
      }
    }

    more.addEventListener("click", async () => {
      more.disabled = true;
      try {
        await load(shown);
      } catch (err) {
        showError(errorBox, errorText(err));
      } finally {
        more.disabled = false;
      }
    });

    return { table, body, countHeading, render, reload, get shown() { return shown; } };
  }

  // ------------------------------------------------------------------ refresh

  /** Run `task` now and every `seconds` while the page is visible; returns a function to run it at once. */
  function refreshEvery(seconds, task, statusElement) {
    let last = 0;
    let running = false;
    async function run() {
      if (running) return;
      running = true;
      try {
        await task();
        last = Date.now();
        if (statusElement) statusElement.textContent = t("common.updated_at", { time: fmt.time(new Date()) });
      } catch (err) {
        if (statusElement) statusElement.textContent = t("common.update_failed");
      } finally {
        running = false;
      }
    }
    setInterval(() => { if (!document.hidden) run(); }, seconds * 1000);
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden && Date.now() - last > seconds * 1000) run();
    });
    run();
    return run;
  }

  /** refreshEvery for a page whose head has the refresh line and button (page_head with refresh). */
  function autoRefresh(task) {
    const refreshNow = refreshEvery(config.refreshSeconds || 60, task, document.getElementById("refresh-status"));
    document.getElementById("refresh-now").addEventListener("click", () => refreshNow());
    return refreshNow;
  }

  // ------------------------------------------------------------------ header: the menu

  // The groups are <details>, which open and close by themselves (mouse, touch, Enter, Space);
  // this closes a dropped-down group as a menu is expected to close: on Escape, on a click
  // elsewhere, when the focus leaves it. Open in place (the phone's menu), a group stays open.
  const menuToggle = document.getElementById("menu-toggle");
  const navGroups = Array.from(document.querySelectorAll(".mainnav details"));
  const dropsDown = (group) => getComputedStyle(group.querySelector("ul")).position === "absolute";

  if (menuToggle) {
    // Without this script the button stays hidden and the menu unfolded.
    menuToggle.setAttribute("aria-expanded", "false");
    menuToggle.hidden = false;
    menuToggle.addEventListener("click", () => {
      menuToggle.setAttribute("aria-expanded", String(menuToggle.getAttribute("aria-expanded") !== "true"));
    });
  }

  for (const group of navGroups) {
    group.addEventListener("toggle", () => {
      if (!group.open) return;
      // A group near the right edge opens towards the left rather than off the screen.
      const item = group.parentElement;
      item.classList.remove("align-end");
      if (group.querySelector("ul").getBoundingClientRect().right > document.documentElement.clientWidth) {
        item.classList.add("align-end");
      }
    });
    group.addEventListener("focusout", (event) => {
      if (group.open && dropsDown(group) && !group.contains(event.relatedTarget)) group.open = false;
    });
  }

  document.addEventListener("click", (event) => {
    for (const group of navGroups) {
      if (group.open && dropsDown(group) && !group.contains(event.target)) group.open = false;
    }
  });

  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    const group = navGroups.find((g) => g.open && g.contains(document.activeElement));
    if (group) {
      group.open = false;
      group.querySelector("summary").focus();
    } else if (menuToggle && menuToggle.getAttribute("aria-expanded") === "true" && menuToggle.offsetParent) {
      menuToggle.setAttribute("aria-expanded", "false");
      menuToggle.focus();
    }
  });

  // ------------------------------------------------------------------ header: sign out, language

  const logoutForm = document.getElementById("logout-form");
  if (logoutForm) {
    logoutForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = document.getElementById("logout-button");
      if (button) button.disabled = true;
      try {
        await api("/api/v1/auth/logout", { method: "POST", allow401: true });
      } catch (err) {
        if (!(err instanceof ApiError) || err.status !== 401) {
          if (button) button.disabled = false;
          window.alert(errorText(err));
          return;
        }
      }
      location.assign("/login?signed_out=1");
    });
  }

  // A signed-in user's choice of language is also kept on the account, so that it follows
  // them to another device. The link itself works without this (the server remembers it).
  for (const link of document.querySelectorAll(".langswitch a[data-lang]")) {
    link.addEventListener("click", async (event) => {
      const lang = link.dataset.lang;
      if (!config.user || lang === config.lang) return;
      event.preventDefault();
      try {
        await api("/api/v1/auth/me", { method: "PATCH", json: { locale: lang }, allow401: true });
      } catch (err) {
        // An older server without this endpoint: the link alone is enough.
      }
      location.assign(link.href);
    });
  }

  window.SL = {
    config, t, h, api, ApiError, errorText, showError, fmt, STATES, STATE_COLOURS,
    stateLabel, eventLabel, stateBadge, onlineBadge, lampLink, reasonText, fact, METRICS, townMap, fillTable, pagedTable,
    refreshEvery, autoRefresh,
  };
})();
