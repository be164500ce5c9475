// whatsable inspector: the page. Plain JavaScript, no build step, no library.
// Every value from a payload is untrusted: it only ever reaches the page as text (textContent), never as HTML.
"use strict";

const TOKEN = document.querySelector('meta[name="whatsable-token"]').content;
const FILTERS = ["event", "status", "signature", "forward", "run", "q"];
const state = { config: null, source: null, seen: null, showSecrets: false };

// -- small helpers -------------------------------------------------------------------------------------------

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function svgEl(tag, attrs, ...children) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, String(value));
  }
  for (const child of children.flat()) if (child) node.append(child);
  return node;
}

async function getJson(url) {
  const response = await fetch(url, { headers: { Accept: "application/json" } });
  const value = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
  if (!response.ok) throw new Error(value.error || `HTTP ${response.status}`);
  return value;
}

async function postJson(url, payload) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-Whatsable-Token": TOKEN },
    body: JSON.stringify(payload),
  });
  const value = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
  if (!response.ok) throw new Error(value.error || `HTTP ${response.status}`);
  return value;
}

// As many characters of an id as the terminal shows: what `events show ID` and `replay --id ID` take.
const SHORT_ID = 8;
function shortId(id) { return id.slice(0, SHORT_ID); }
function time(iso) { return iso ? iso.replace("T", " ").replace("Z", "") : ""; }
function ms(value) { return value === null || value === undefined ? "" : `${Math.round(value * 10) / 10} ms`; }
function encode(id) { return encodeURIComponent(id); }

function badge(text, kind) { return el("span", { class: `badge ${kind || ""}`, text }); }

function verdictBadge(result) {
  if (!result) return badge("no verdict", "muted");
  const kind = { verified: "ok", failed: "bad", unsigned: "warn", unchecked: "muted" }[result] || "muted";
  return badge(result, kind);
}

function forwardBadge(forward) {
  if (!forward) return badge("not forwarded", "muted");
  const text = forward.status !== null && forward.status !== undefined
    ? `${forward.status} · ${ms(forward.latency_ms)}` : (forward.error_code || "error");
  return badge(text, forward.ok ? "ok" : "bad");
}

function statusBadge(status) {
  if (status === null || status === undefined) return badge("—", "muted");
  return badge(String(status), status >= 200 && status < 300 ? "ok" : status >= 400 ? "bad" : "warn");
}

// What the sender was answered: recorded, or (relaying to the app) the app's own answer, under Forward(s).
function answerBadge(item) {
  const forwarded = item.forward || (item.forwards && item.forwards.length);
  if ((item.answer === null || item.answer === undefined) && forwarded) {
    const relayed = badge("relayed", "muted");
    relayed.title = "answered with the app's answer (see Forward)";
    return relayed;
  }
  return statusBadge(item.answer);
}

function errorBox(error) { return el("p", { class: "error", role: "alert", text: String(error.message || error) }); }

function setLive(on, text) {
  const live = document.getElementById("live");
  live.hidden = false;
  live.textContent = on ? "● live" : `○ ${text || "offline"}`;
  live.className = on ? "live on" : "live";
}

function stopStream() {
  if (state.source) state.source.close();
  state.source = null;
  document.getElementById("live").hidden = true;  // shown again by the page that opens a stream
}

// -- routing ---------------------------------------------------------------------------------------------------

function route() {
  const hash = location.hash.replace(/^#/, "") || "/";
  const [path, search] = hash.split("?");
  const params = new URLSearchParams(search || "");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  stopStream();
  const view = document.getElementById("view");
  view.replaceChildren();
  document.querySelectorAll("header nav a").forEach((a) => a.classList.remove("here"));
  if (parts[0] === "event" && parts[1]) return showEvent(view, parts[1]);
  if (parts[0] === "diff" && parts[1] && parts[2]) return showDiff(view, parts[1], parts[2]);
  if (parts[0] === "runs") return showRuns(view);
  if (parts[0] === "run" && parts[1]) return showRun(view, parts[1]);
  document.getElementById("nav-events").classList.add("here");
  return showList(view, params);
}

// -- the event list --------------------------------------------------------------------------------------------

function filterQuery(params) {
  const query = new URLSearchParams();
  for (const name of FILTERS) if (params.get(name)) query.set(name, params.get(name));
  return query;
}

function option(value, label, selected) {
  return el("option", { value, selected: value === selected }, label);
}

function filterForm(params) {
  const choices = state.config.choices;
  const select = (name, label, values, labels) => el("label", {},
    label,
    el("select", { name, id: `filter-${name}`, onchange: applyFilters },
      option("", "any", params.get(name) || ""),
      values.map((v, i) => option(String(v), labels ? labels[i] : String(v), params.get(name) || ""))));
  const runs = state.config.runs;
  return el("form", { class: "filters", id: "filters", onsubmit: (e) => { e.preventDefault(); applyFilters(); } },
    el("label", { class: "search" }, "Search",
      el("input", { type: "search", name: "q", id: "filter-q", value: params.get("q") || "",
        placeholder: "words in the body: a phone number, a name, a message…" })),
    select("event", "Event", choices.event),
    select("status", "Status", choices.status),
    select("signature", "Signature", choices.signature),
    select("forward", "Forward", choices.forward),
    select("run", "Run", runs.map((r) => r.id), runs.map((r) => `#${r.id} ${time(r.started_at)}`)),
    el("button", { type: "submit" }, "Apply"),
    el("button", { type: "button", class: "secondary", onclick: () => { location.hash = "#/"; } }, "Clear"));
}

function applyFilters() {
  const form = document.getElementById("filters");
  const query = new URLSearchParams();
  for (const name of FILTERS) {
    const field = form.elements[name];
    if (field && field.value.trim()) query.set(name, field.value.trim());
  }
  const text = query.toString();
  location.hash = text ? `#/?${text}` : "#/";
}

function eventRow(row) {
  const box = el("input", { type: "checkbox", class: "pick", "aria-label": `select ${row.id} to compare`,
    "data-id": row.id, onchange: updateCompare });
  return el("tr", { "data-id": row.id, "data-seq": row.seq, class: "event-row" },
    el("td", {}, box),
    el("td", { class: "when" }, time(row.received_at)),
    el("td", {}, el("span", { class: "kind", text: row.event })),
    el("td", { class: "summary" }, el("a", { href: `#/event/${encode(row.id)}`, text: row.summary || "(no summary)" })),
    el("td", {}, verdictBadge(row.signature)),
    el("td", {}, answerBadge(row)),
    el("td", {}, forwardBadge(row.forward)),
    el("td", { class: "id" }, el("code", { text: shortId(row.id) })));
}

function updateCompare() {
  // the older of the two on the left, as a diff reads: what changed from then to now
  const picked = [...document.querySelectorAll("input.pick:checked")]
    .sort((a, b) => Number(a.closest("tr").dataset.seq) - Number(b.closest("tr").dataset.seq))
    .map((box) => box.dataset.id);
  const button = document.getElementById("compare");
  button.disabled = picked.length !== 2;
  button.textContent = picked.length === 2 ? "Compare the two" : `Compare (pick 2, ${picked.length} picked)`;
  button.dataset.ids = picked.join(",");
}

async function showList(view, params) {
  const query = filterQuery(params);
  try {
    state.config = await getJson("/api/config");
  } catch (error) { view.append(errorBox(error)); return; }
  const body = el("tbody", { id: "events" });
  const empty = el("p", { class: "empty", id: "empty", hidden: true },
    "No events yet. Send one to the listener (`whatsable send-test URL`), it appears here at once.");
  const more = el("button", { type: "button", id: "more", class: "secondary", hidden: true }, "Older events");
  const compare = el("button", { type: "button", id: "compare", disabled: true,
    onclick: () => { const [a, b] = compare.dataset.ids.split(","); location.hash = `#/diff/${encode(a)}/${encode(b)}`; } },
  "Compare (pick 2, 0 picked)");
  view.append(
    filterForm(params),
    el("div", { class: "toolbar" }, compare, el("span", { class: "count", id: "count" })),
    el("table", { class: "events" },
      el("thead", {}, el("tr", {}, ["", "Received (UTC)", "Event", "Summary", "Signature", "Answer", "Forward", "Id"]
        .map((h) => el("th", { text: h })))),
      body),
    empty, more);
  let page;
  try {
    page = await getJson(`/api/events?${query}`);
  } catch (error) { view.append(errorBox(error)); return; }
  const count = () => {
    const n = body.children.length;
    document.getElementById("count").textContent = `${n} event${n === 1 ? "" : "s"} shown`;
    empty.hidden = n > 0;
  };
  page.events.forEach((row) => body.append(eventRow(row)));
  count();
  const older = async (before) => {
    const next = new URLSearchParams(query);
    next.set("before", before);
    const result = await getJson(`/api/events?${next}`);
    result.events.forEach((row) => body.append(eventRow(row)));
    more.hidden = !result.next_before;
    more.onclick = () => older(result.next_before);
    count();
  };
  more.hidden = !page.next_before;
  more.onclick = () => older(page.next_before);
  startStream(query, page.tops, body, count);
}

function startStream(query, tops, body, count) {
  const url = new URLSearchParams(query);
  url.set("after_seq", tops.seq);
  url.set("after_forward", tops.forward);
  const source = new EventSource(`/api/stream?${url}`);
  state.source = source;
  setLive(false, "connecting");
  source.onopen = () => setLive(true);
  source.onerror = () => setLive(false, "reconnecting");
  source.addEventListener("added", (message) => {
    const row = JSON.parse(message.data);
    if (body.querySelector(`tr[data-id="${CSS.escape(row.id)}"]`)) return;
    const node = eventRow(row);
    node.classList.add("fresh");
    body.prepend(node);
    count();
  });
  source.addEventListener("updated", (message) => {
    const row = JSON.parse(message.data);
    const old = body.querySelector(`tr[data-id="${CSS.escape(row.id)}"]`);
    if (!old) return;
    const node = eventRow(row);
    node.querySelector("input.pick").checked = old.querySelector("input.pick").checked;
    old.replaceWith(node);
  });
}

// -- one event -------------------------------------------------------------------------------------------------

function section(title, ...content) {
  return el("section", { class: "card" }, el("h2", { text: title }), ...content);
}

function chatView(messages) {
  return el("ol", { class: "chat", id: "chat" }, messages.map((m) => {
    const who = m.from === "user" ? "user" : "bot";
    return el("li", { class: `bubble ${who}` },
      el("span", { class: "who", text: m.from || "?" }),
      m.content_type && m.content_type !== "text" ? el("span", { class: "ctype", text: m.content_type }) : null,
      el("span", { class: "text", text: m.text }),
      el("time", { text: time(m.at) }));
  }));
}

function signatureView(signature) {
  if (!signature) return el("p", { class: "muted", text: "No signature verdict recorded." });
  return el("div", { class: "verdict", id: "verdict" },
    verdictBadge(signature.result),
    signature.scheme ? el("span", {}, " scheme ", el("code", { text: signature.scheme })) : null,
    signature.reason ? el("p", {}, el("strong", { text: "Reason: " }), signature.reason) : null,
    signature.detail ? el("p", { class: "detail", text: signature.detail }) : null);
}

function forwardsView(forwards) {
  if (!forwards.length) return el("p", { class: "muted", text: "Not forwarded." });
  return el("table", { class: "forwards", id: "forwards" },
    el("thead", {}, el("tr", {}, ["Target", "Try", "Status", "Latency", "The app's answer"].map((h) => el("th", { text: h })))),
    el("tbody", {}, forwards.map((f) => el("tr", {},
      el("td", {}, el("code", { text: f.url })),
      el("td", { text: String(f.attempt) }),
      el("td", {}, f.status !== null ? statusBadge(f.status) : badge(f.error_code || "error", "bad")),
      el("td", { text: ms(f.latency_ms) }),
      el("td", {}, el("pre", { class: "answer", text: f.answer || f.error || "" }))))));
}

// The replays kept in the history, newest first (one sent from this page joins them at the top).
function replaysView(replays) {
  if (!replays.length) return el("p", { class: "muted", id: "replays", text: "Not replayed yet." });
  return el("table", { class: "forwards", id: "replays" },
    el("thead", {}, el("tr", {}, ["When (UTC)", "To", "Sent", "Status", "Latency", "The answer"].map((h) => el("th", { text: h })))),
    el("tbody", {}, replays.map((r) => el("tr", {},
      el("td", { class: "when", text: time(r.at) }),
      el("td", {}, el("code", { text: r.url })),
      el("td", {}, r.resigned ? badge("re-signed", "muted") : badge("as recorded", "muted"), r.edited ? badge("edited", "warn") : null),
      el("td", {}, r.status !== null ? statusBadge(r.status) : badge(r.error_code || "error", "bad")),
      el("td", { text: ms(r.latency_ms) }),
      el("td", {}, el("pre", { class: "answer", text: r.answer || r.error || "" }))))));
}

function headersView(item, id) {
  const rows = item.headers.map(([name, value]) => el("tr", {}, el("th", { text: name }), el("td", {}, el("code", { text: value }))));
  const note = item.redacted
    ? el("p", { class: "muted" }, "Signature values are redacted. ",
      state.config && state.config.show_secrets_allowed
        ? el("button", { type: "button", class: "link", id: "show-secrets",
          onclick: () => { state.showSecrets = true; route(); } }, "Show them")
        : "Start the inspector with --show-secrets to see them.")
    : null;
  return [el("table", { class: "headers", id: "headers" }, el("tbody", {}, rows)), note];
}

function replayView(item) {
  const targets = el("datalist", { id: "targets" }, item.replay_targets.map((t) => el("option", { value: t })));
  const url = el("input", { type: "url", id: "replay-url", list: "targets", required: true,
    value: item.replay_targets[0] || "http://localhost:3000/webhook", "aria-label": "replay to this URL" });
  const resign = el("input", { type: "checkbox", id: "replay-resign", disabled: !item.can_resign });
  const edit = el("input", { type: "checkbox", id: "replay-edit", disabled: item.raw_body === null });
  const editor = el("textarea", { id: "replay-body", rows: 12, hidden: true, spellcheck: "false",
    "aria-label": "the body to send" });
  editor.value = item.raw_body || "";
  edit.addEventListener("change", () => { editor.hidden = !edit.checked; });
  const result = el("div", { id: "replay-result", class: "result", "aria-live": "polite" });
  const send = el("button", { type: "submit", id: "replay-send" }, "Replay");
  const form = el("form", { class: "replay", onsubmit: async (event) => {
    event.preventDefault();
    send.disabled = true;
    result.replaceChildren(el("p", { class: "muted", text: "sending…" }));
    try {
      const answer = await postJson(`/api/events/${encode(item.id)}/replay`,
        { url: url.value, resign: resign.checked, body: edit.checked ? editor.value : null });
      result.replaceChildren(replayResult(answer));
      if (!answer.not_kept) {
        item.replays.unshift(answer);
        document.getElementById("replays").replaceWith(replaysView(item.replays));
      }
    } catch (error) {
      result.replaceChildren(errorBox(error));
    } finally { send.disabled = false; }
  } },
  el("label", {}, "To ", url, targets),
  el("label", { class: "inline" }, resign,
    item.can_resign ? " Re-sign with the secret (fresh signature)" : " Re-sign (needs --secret or WHATSABLE_SECRET)"),
  el("label", { class: "inline" }, edit, item.raw_body === null ? " Edit the body (not text: cannot edit)" : " Edit the body"),
  editor, el("div", {}, send), result, el("h3", { text: "Replays kept in the history" }), replaysView(item.replays));
  return form;
}

function replayResult(answer) {
  return el("div", { class: `replayed ${answer.ok ? "ok" : "bad"}`, id: "replay-answer" },
    el("p", {},
      answer.status !== null ? statusBadge(answer.status) : badge(answer.error_code || "error", "bad"),
      " ", ms(answer.latency_ms), " from ", el("code", { text: answer.url }),
      answer.resigned ? badge("re-signed", "muted") : badge("as recorded", "muted"),
      answer.edited ? badge("edited", "warn") : null),
    answer.warning ? el("p", { class: "warning", text: answer.warning }) : null,
    answer.error ? el("p", { class: "error", text: answer.error }) : null,
    answer.not_kept ? el("p", { class: "warning", text: answer.not_kept }) : null,
    el("pre", { class: "answer", text: answer.answer || "" }));
}

function curlView(item) {
  const output = el("pre", { class: "curl", id: "curl", text: item.curl });
  const status = el("span", { class: "muted", id: "curl-status" });
  const copy = el("button", { type: "button", id: "copy-curl", onclick: async () => {
    const target = document.getElementById("replay-url").value;
    const secrets = state.showSecrets ? "&secrets=1" : "";
    try {
      const result = await getJson(`/api/events/${encode(item.id)}/curl?url=${encodeURIComponent(target)}${secrets}`);
      output.textContent = result.curl;
      await navigator.clipboard.writeText(result.curl);
      status.textContent = "copied";
    } catch (error) { status.textContent = `shown above (copy it by hand: ${error.message || error})`; }
  } }, "Copy as curl");
  return [el("div", {}, copy, " ", status), output];
}

async function showEvent(view, id) {
  let item;
  try {
    if (!state.config) state.config = await getJson("/api/config");
    item = await getJson(`/api/events/${encode(id)}${state.showSecrets ? "?secrets=1" : ""}`);
  } catch (error) { view.append(errorBox(error)); return; }
  const meta = el("dl", { class: "meta" },
    el("dt", { text: "Id" }), el("dd", {}, el("code", { text: item.id })),
    el("dt", { text: "Received" }), el("dd", { text: `${time(item.received_at)} UTC` }),
    el("dt", { text: "Request" }), el("dd", {}, el("code", { text: `${item.method} ${item.path}${item.query ? `?${item.query}` : ""}` })),
    el("dt", { text: "Answered" }), el("dd", {}, answerBadge(item)),
    el("dt", { text: "Run" }), el("dd", {}, item.run !== null ? el("a", { href: `#/run/${item.run}`, text: `#${item.run} (latency chart)` }) : "—"),
    item.flags.length ? [el("dt", { text: "Flags" }), el("dd", {}, item.flags.map((f) => badge(f, "warn")))] : null);
  view.append(
    el("div", { class: "title" }, el("a", { href: "#/", class: "back", text: "← events" }),
      el("h1", {}, el("span", { class: "kind", text: item.event }), " ", item.summary)),
    meta,
    item.chat.length ? section("Conversation (last_messages)", chatView(item.chat)) : null,
    section("Signature", signatureView(item.signature)),
    el("div", { id: "forwards-card" }, section("Forwards", forwardsView(item.forwards))),
    section("Replay", replayView(item), ...curlView(item)),
    section("Headers", ...headersView(item, id)),
    section(`Body (${item.size} bytes${item.body_kind === "json" ? ", pretty-printed" : item.body_kind === "base64" ? ", not UTF-8: base64" : ""})`,
      el("pre", { class: "body", id: "body", text: item.body })));
  watchForwards(item);
}

// A forward still under way when the page opened (a slow app, a breakpoint in it) shows up when it ends.
function watchForwards(item) {
  if (!location.hash.startsWith("#/event/")) return;  // left for another page while this one loaded
  const url = new URLSearchParams({ after_seq: item.tops.seq, after_forward: item.tops.forward });
  const source = new EventSource(`/api/stream?${url}`);
  state.source = source;
  source.onopen = () => setLive(true);
  source.onerror = () => setLive(false, "reconnecting");
  source.addEventListener("updated", async (message) => {
    if (JSON.parse(message.data).id !== item.id) return;
    try {
      const fresh = await getJson(`/api/events/${encode(item.id)}${state.showSecrets ? "?secrets=1" : ""}`);
      const card = document.getElementById("forwards-card");
      if (card) card.replaceChildren(section("Forwards", forwardsView(fresh.forwards)));
    } catch (error) { setLive(false, "reconnecting"); }
  });
}

// -- two events side by side --------------------------------------------------------------------------------------

function diffLines(part) {
  if (part.same) return el("p", { class: "muted same", text: "identical" });
  return el("pre", { class: "diff" }, part.lines.map((line) => el("span", {
    class: line.startsWith("+") ? "add" : line.startsWith("-") ? "del" : line.startsWith("@@") ? "hunk" : "",
    text: `${line}\n` })), part.truncated ? el("span", { class: "hunk", text: "(cut: the bodies are long)\n" }) : null);
}

async function showDiff(view, a, b) {
  let result;
  try {
    result = await getJson(`/api/diff?a=${encode(a)}&b=${encode(b)}${state.showSecrets ? "&secrets=1" : ""}`);
  } catch (error) { view.append(errorBox(error)); return; }
  const side = (label, s, cls) => el("div", { class: `side ${cls}` }, el("strong", { text: label }), " ",
    el("a", { href: `#/event/${encode(s.id)}` }, el("code", { text: shortId(s.id) })), ` ${time(s.received_at)} `, s.summary);
  view.append(
    el("div", { class: "title" }, el("a", { href: "#/", class: "back", text: "← events" }), el("h1", { text: "Compare two events" })),
    el("div", { class: "sides" }, side("−", result.left, "del"), side("+", result.right, "add")),
    section("Headers", diffLines(result.headers)),
    el("section", { class: "card", id: "body-diff" }, el("h2", { text: "Body (pretty-printed)" }), diffLines(result.body)));
}

// -- runs and their latency ----------------------------------------------------------------------------------------

async function showRuns(view) {
  document.getElementById("nav-runs").classList.add("here");
  let result;
  try { result = await getJson("/api/runs"); } catch (error) { view.append(errorBox(error)); return; }
  view.append(el("h1", { text: "Runs" }),
    result.runs.length ? el("table", { class: "runs" },
      el("thead", {}, el("tr", {}, ["Run", "Started (UTC)", "Ended", "Source", "Events", "Forwards ok", "failed", "Bad signatures"].map((h) => el("th", { text: h })))),
      el("tbody", {}, result.runs.map((r) => el("tr", {},
        el("td", {}, el("a", { href: `#/run/${r.id}`, text: `#${r.id}` })),
        el("td", { text: time(r.started_at) }), el("td", { text: r.ended_at ? time(r.ended_at) : "running" }),
        el("td", { text: r.source }), el("td", { text: String(r.events) }),
        el("td", { text: String(r.forwards_ok) }), el("td", { text: String(r.forwards_failed) }),
        el("td", { text: String(r.signatures_failed) })))))
      : el("p", { class: "empty", text: "No runs yet: `whatsable listen` starts one." }));
}

function percentile(sorted, p) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function latencyChart(points) {
  const width = 880, height = 280, left = 56, right = 16, top = 16, bottom = 36;
  const values = points.map((p) => p.latency_ms || 0);
  const max = Math.max(1, ...values);
  const x = (i) => left + (points.length < 2 ? (width - left - right) / 2 : (i * (width - left - right)) / (points.length - 1));
  const y = (v) => top + (height - top - bottom) * (1 - v / max);
  const svg = svgEl("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", id: "latency-chart", role: "img",
    "aria-label": `forward latency of ${points.length} deliveries, up to ${Math.round(max)} ms` });
  for (const fraction of [0, 0.25, 0.5, 0.75, 1]) {
    const value = max * fraction;
    svg.append(svgEl("line", { x1: left, x2: width - right, y1: y(value), y2: y(value), class: "grid" }),
      svgEl("text", { x: left - 6, y: y(value) + 4, class: "axis", "text-anchor": "end", text: `${Math.round(value)} ms` }));
  }
  svg.append(svgEl("text", { x: (width + left) / 2, y: height - 8, class: "axis", "text-anchor": "middle",
    text: "forwards, in the order they were recorded" }));
  if (points.length > 1) {
    svg.append(svgEl("polyline", { class: "line", points: points.map((p, i) => `${x(i)},${y(p.latency_ms || 0)}`).join(" ") }));
  }
  points.forEach((p, i) => {
    const dot = svgEl("circle", { cx: x(i), cy: y(p.latency_ms || 0), r: 4, class: p.ok ? "dot ok" : "dot bad",
      tabindex: 0, onclick: () => { location.hash = `#/event/${encode(p.request_id)}`; } },
    svgEl("title", { text: `${p.request_id} → ${p.url}: ${p.status ?? p.error_code ?? "?"} in ${ms(p.latency_ms)}` }));
    svg.append(dot);
  });
  return svg;
}

async function showRun(view, run) {
  document.getElementById("nav-runs").classList.add("here");
  let result;
  try { result = await getJson(`/api/runs/${encode(run)}/latencies`); } catch (error) { view.append(errorBox(error)); return; }
  const points = result.points;
  const sorted = points.map((p) => p.latency_ms).filter((v) => v !== null).sort((a, b) => a - b);
  const failed = points.filter((p) => !p.ok).length;
  view.append(
    el("div", { class: "title" }, el("a", { href: "#/runs", class: "back", text: "← runs" }), el("h1", { text: `Run #${result.run}: forward latency` })),
    el("p", { class: "stats", id: "run-stats" },
      `${points.length} forwards · p50 ${ms(percentile(sorted, 50))} · p95 ${ms(percentile(sorted, 95))} · max ${ms(sorted[sorted.length - 1] ?? null)} · ${failed} failed · `,
      el("a", { href: `#/?run=${result.run}`, text: "its events" })),
    points.length ? latencyChart(points) : el("p", { class: "empty", text: "This run forwarded nothing." }));
}

window.addEventListener("hashchange", route);
route();
