// The cashier console: a lane's register in a browser.  It renders the states the bridge sends
// on /ws/register and sends the cashier's intents; customers come from /api/v1.  Both carry the
// HttpOnly device cookie, so this script never holds a token.  Whether an intent is allowed is
// the lane machine's to say: the page shows the bridge's answer instead of guessing.
"use strict";

const TEXTS = JSON.parse(document.getElementById("texts").textContent);
const MONEY = JSON.parse(document.getElementById("money").textContent);
const LANE = document.body.dataset.lane;
const CURRENCY = document.body.dataset.currency;
const $ = (id) => document.getElementById(id);

function t(key, values) {
  let s = TEXTS[key] ?? key;
  for (const [k, v] of Object.entries(values || {})) s = s.split(`{${k}}`).join(String(v));
  return s;
}

function show(el, on) { el.hidden = !on; }

function money(minor) {
  // As cashier_bridge.money.money writes it: the page carries that module's pattern.
  const abs = Math.abs(minor);
  const whole = String(Math.floor(abs / 100)).replace(/\B(?=(\d{3})+(?!\d))/g, MONEY.group);
  return `${minor < 0 ? MONEY.minus : ""}${MONEY.prefix}${whole}${MONEY.decimal}` +
    `${String(abs % 100).padStart(2, "0")}${MONEY.suffix}`;
}

function parseTotal(raw) {
  // Kronor as a cashier types them ("249", "249,50", "1 249.5", "-50 kr") -> öre; null if not.
  const s = raw.replace(/\s+/g, "").replace(/kr$/i, "");
  const m = /^(-?)(\d{1,10})(?:[.,](\d{1,2}))?$/.exec(s);
  if (!m) return null;
  const minor = Number(m[2]) * 100 + Number((m[3] || "0").padEnd(2, "0"));
  return m[1] ? -minor : minor;
}

function status(message, alert) {
  const el = $("status");
  el.textContent = message;
  el.classList.toggle("alert", Boolean(alert));
  show(el, Boolean(message));
}

// --- the websocket ------------------------------------------------------------------------------

let ws = null;
let live = false;
let signedOut = false;
let backoffMs = 250;
let state = null;
let pendingEnd = null;  // what this page's end_sale recorded, to say so once the lane is idle
let pendingConfirm = null;  // the prompt this page asked to create a member for

function connection(kind) {
  const el = $("connection");
  el.dataset.state = kind;
  el.textContent = kind === "signed_out" ? t("conn.signed_out") : t(`conn.${kind}`);
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const socket = new WebSocket(`${scheme}//${location.host}/ws/register`);
  ws = socket;
  socket.onopen = () => socket.send(JSON.stringify({ v: 1, type: "hello", role: "register", lane: LANE }));
  socket.onmessage = (e) => receive(JSON.parse(e.data));
  socket.onclose = () => {
    if (ws !== socket) return;
    live = false;
    if (signedOut) return;
    connection("reconnecting");
    // Back off so a bridge that is restarting is not hammered; cap it so the cashier is back
    // within seconds of it.
    setTimeout(connect, backoffMs);
    backoffMs = Math.min(backoffMs * 2, 4000);
  };
}

function send(intent) {
  if (!live || !ws || ws.readyState !== WebSocket.OPEN) {
    status(t("error.offline"), true);
    return false;
  }
  status("");
  ws.send(JSON.stringify({ v: 1, ...intent }));
  return true;
}

function receive(msg) {
  switch (msg.type) {
    case "welcome":
      live = true;
      backoffMs = 250;
      connection("live");
      break;
    case "state":
      render(msg);
      break;
    case "prompt_withdrawn":
      if (msg.reason !== "connected_by_cashier") {
        status(t("withdrawn", { reason: t(`reason.${msg.reason}`) }), false);
      }
      break;
    case "error":
      if (msg.code === "unauthorized") {
        signedOut = true;
        connection("signed_out");
      }
      if (msg.ref === "end_sale") pendingEnd = null;
      if (msg.ref === "confirm_member") formBusy(false);
      status(t("error.api", { message: msg.message }), true);
      break;
    default:
      break;  // customer_connected and member_prompt: the state that comes with them says it all
  }
}

// --- rendering a state ------------------------------------------------------------------------

let detailsFor = null;  // the customer whose group and balances are shown (or being fetched)

function render(s) {
  const previous = state;
  state = s;
  const phase = s.phase;
  const view = s.view;
  document.body.dataset.phase = phase;
  const mismatch = phase === "await_cashier" && view.prompt &&
    view.prompt.kind === "details_mismatch";
  $("phase").textContent = t(mismatch ? "phase.await_cashier.details_mismatch" : `phase.${phase}`);
  show($("sale-line"), Boolean(view.sale_id));
  $("sale-id").textContent = view.sale_id || "";
  show($("method"), Boolean(view.method) && phase !== "connected");
  $("method").textContent = view.method ? t(`method.${view.method}`) : "";
  show($("start-sale"), phase === "idle");
  show($("end-sale-form"), phase !== "idle");

  if (phase === "idle" && pendingEnd && previous && previous.phase !== "idle") {
    const e = pendingEnd;
    status(e.customer
      ? t("sale_recorded", { sale: e.sale, total: e.total === null ? t("none") : money(e.total),
                             name: `${e.customer.first_name} ${e.customer.last_name}`,
                             code: e.customer.customer_code })
      : t("sale_ended", { sale: e.sale }), false);
    $("total").value = "";
    pendingEnd = null;
  }

  renderCustomer(phase === "connected" ? view.customer : null);
  renderPrompt(phase === "await_cashier" ? view.prompt : null, view.notice);
}

function renderCustomer(c) {
  show($("customer"), Boolean(c));
  if (!c) { detailsFor = null; return; }
  $("customer-name").textContent = `${c.first_name} ${c.last_name}`;
  show($("customer-new"), c.is_new);
  $("customer-code").textContent = c.customer_code;
  $("customer-pid").textContent = c.personal_id_masked || t("none");
  $("customer-phone").textContent = c.phone || t("none");
  $("customer-email").textContent = c.email || t("none");
  $("customer-matched").textContent = c.matched_on ? t(`how.${c.matched_on}`) : t("none");
  if (detailsFor === c.id) return;
  detailsFor = c.id;
  for (const id of ["customer-group", "balance-account", "balance-loyalty", "balance-store-credit"]) {
    $(id).textContent = "…";
  }
  api("GET", `/api/v1/customers/${c.id}`).then(({ ok, body }) => {
    if (detailsFor !== c.id) return;
    if (!ok) { status(apiMessage(body), true); return; }
    const b = body.balances || {};
    $("customer-group").textContent = body.group ? body.group.name : t("none");
    $("balance-account").textContent = money(b.account_minor || 0);
    $("balance-loyalty").textContent = money(b.loyalty_minor || 0);
    $("balance-store-credit").textContent = money(b.store_credit_minor || 0);
  });
}

const PROMPT_FIELDS = [
  ["first_name", "field.first_name"], ["last_name", "field.last_name"],
  ["personal_id_masked", "field.personal_id"], ["birth_date", "field.birth_date"],
  ["phone", "field.phone"], ["email", "field.email"], ["address", "field.address"],
  ["document", "field.document"], ["document_number", "field.document_number"],
  ["document_expired", "field.document_expired"], ["source", "field.source"],
];

// The member a phone named, beside what the phone typed (a details_mismatch prompt).
const ON_FILE_FIELDS = [
  ["first_name", "field.first_name"], ["last_name", "field.last_name"],
  ["customer_code", "field.customer_code"], ["personal_id_masked", "field.personal_id"],
  ["phone", "field.phone"], ["email", "field.email"], ["matched_on", "field.matched_on"],
];

function fillFacts(dl, fields, record, shown) {
  dl.replaceChildren();
  for (const [key, label] of fields) {
    const value = record[key];
    if (value === null || value === undefined || value === "") continue;
    const dt = document.createElement("dt");
    dt.textContent = t(label);
    const dd = document.createElement("dd");
    dd.dataset.field = key;
    dd.textContent = shown(key, value);
    dl.append(dt, dd);
  }
}

function renderPrompt(p, notice) {
  show($("prompt"), Boolean(p));
  if (!p) {
    // The lane left the prompt (created, connected, aborted, withdrawn): the form goes with it.
    if (formMode === "member") closeForm();
    if ($("status").textContent === t("prompt.creating")) status("");
    return;
  }
  $("prompt").dataset.promptId = p.prompt_id;
  $("prompt").dataset.kind = p.kind;
  fillFacts($("prompt-fields"), PROMPT_FIELDS, p, (key, value) =>
    typeof value === "boolean" ? t(value ? "yes" : "no")
      : key === "source" ? t(`method.${value}`) : String(value));
  // A phone that named a member with other details: both side by side, and only what the
  // cashier may do about it (connect after checking ID, or abort; never create a twin).
  const mismatch = p.kind === "details_mismatch";
  const onFile = mismatch ? p.possible_duplicates[0] : null;
  $("prompt-title").textContent = t(mismatch ? "prompt.title.details_mismatch" : "prompt.title");
  show($("prompt-lead"), mismatch);
  show($("on-file"), Boolean(onFile));
  $("prompt").querySelector(".compare").classList.toggle("two", Boolean(onFile));
  if (onFile) {
    fillFacts($("on-file-fields"), ON_FILE_FIELDS, onFile, (key, value) =>
      key === "matched_on" ? t(`how.${value}`) : String(value));
    $("connect-on-file").dataset.customerId = String(onFile.id);
  }
  show($("duplicates-part"), !mismatch);
  show($("create-member"), !mismatch);
  show($("connect-on-file"), Boolean(onFile));
  if (mismatch && formMode === "member") closeForm();
  const ul = $("duplicates");
  ul.replaceChildren();
  for (const d of p.possible_duplicates) {
    const li = document.createElement("li");
    li.dataset.customerId = String(d.id);
    const who = document.createElement("span");
    who.textContent = `${d.first_name} ${d.last_name} · ${d.customer_code}` +
      (d.phone ? ` · ${d.phone}` : "") + (d.personal_id_masked ? ` · ${d.personal_id_masked}` : "");
    const why = document.createElement("span");
    why.className = "why";
    why.textContent = t(`dup.${d.matched_on}`);
    const button = document.createElement("button");
    button.type = "button";
    button.className = "secondary connect-duplicate";
    button.textContent = t("prompt.connect");
    button.addEventListener("click", () =>
      send({ type: "connect_existing", prompt_id: p.prompt_id, customer_id: d.id }));
    const text = document.createElement("span");
    text.append(who, document.createElement("br"), why);
    li.append(text, button);
    ul.append(li);
  }
  show($("no-duplicates"), p.possible_duplicates.length === 0);
  const noticeText = notice ? t(`notice.${notice}`) : "";
  $("prompt-notice").textContent = noticeText;
  show($("prompt-notice"), Boolean(notice));
  if (formMode === "member" && pendingConfirm === p.prompt_id && notice) {
    // The bridge could not create the member (e.g. the phone is someone else's): the form stays
    // open with everything typed, and says why.
    pendingConfirm = null;
    formError(noticeText);
    formBusy(false);
  }
}

// --- the REST API ---------------------------------------------------------------------------

async function api(method, path, body, headers) {
  try {
    const response = await fetch(path, {
      method, credentials: "same-origin",
      headers: { Accept: "application/json", ...(body ? { "Content-Type": "application/json" } : {}), ...(headers || {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    let data = null;
    try { data = await response.json(); } catch { data = null; }
    return { ok: response.ok, status: response.status, body: data };
  } catch {
    return { ok: false, status: 0, body: null };
  }
}

function apiMessage(body) {
  if (!body) return t("error.network");
  return t("error.api", { message: body.message || body.error || "?" });
}

// --- sale controls --------------------------------------------------------------------------

function newSaleId() {
  const random = Math.random().toString(36).slice(2, 8);
  return `c-${Date.now().toString(36)}-${random}`;
}

$("start-sale").addEventListener("click", () => send({ type: "start_sale", sale_id: newSaleId() }));

$("end-sale-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const raw = $("total").value.trim();
  const total = raw === "" ? null : parseTotal(raw);
  const err = $("total-err");
  if (raw !== "" && total === null) {
    err.textContent = t("total.invalid");
    show(err, true);
    $("total").setAttribute("aria-invalid", "true");
    return;
  }
  show(err, false);
  $("total").removeAttribute("aria-invalid");
  const view = state ? state.view : {};
  const intent = { type: "end_sale", sale_id: view.sale_id || null };
  if (total !== null) Object.assign(intent, { total_minor: total, currency: CURRENCY });
  if (send(intent)) {
    pendingEnd = { sale: view.sale_id, total,
                   customer: state && state.phase === "connected" ? view.customer : null };
  }
});

$("abort-member").addEventListener("click", () => {
  const p = state && state.view.prompt;
  if (p) send({ type: "abort_member", prompt_id: p.prompt_id });
});

$("connect-on-file").addEventListener("click", (e) => {
  const p = state && state.view.prompt;
  if (p) send({ type: "connect_existing", prompt_id: p.prompt_id,
                customer_id: Number(e.currentTarget.dataset.customerId) });
});

$("create-member").addEventListener("click", () => {
  const p = state && state.view.prompt;
  if (p) openForm("member", p);
});

// --- search as you type ----------------------------------------------------------------------

const search = $("search");
let found = [];
let active = -1;
let searchSeq = 0;
let searchTimer = null;

search.addEventListener("input", () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(runSearch, 120);
});

async function runSearch() {
  const q = search.value.trim();
  const mine = ++searchSeq;
  if (!q) { showResults([], ""); return; }
  const { ok, body } = await api("GET", `/api/v1/customers?q=${encodeURIComponent(q)}&limit=8`);
  if (mine !== searchSeq) return;  // the cashier typed on: an older answer must not win
  if (!ok) { status(apiMessage(body), true); return; }
  showResults(body.items, q);
}

function showResults(items, q) {
  found = items;
  active = -1;
  const ul = $("results");
  ul.replaceChildren();
  items.forEach((c, i) => {
    const li = document.createElement("li");
    li.id = `result-${i}`;
    li.setAttribute("role", "option");
    li.setAttribute("aria-selected", "false");
    li.dataset.customerId = String(c.id);
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = `${c.first_name} ${c.last_name}`;
    const sub = document.createElement("span");
    sub.className = "sub";
    sub.textContent = [c.customer_code, c.phone, c.email].filter(Boolean).join(" · ");
    li.append(name, sub);
    li.addEventListener("mousedown", (e) => e.preventDefault());  // keep focus in the box
    li.addEventListener("click", () => pick(i));
    ul.append(li);
  });
  search.setAttribute("aria-expanded", items.length ? "true" : "false");
  search.removeAttribute("aria-activedescendant");
  show($("no-results"), Boolean(q) && items.length === 0);
  const add = $("add-new");
  add.textContent = t("search.add", { text: q });
  show(add, Boolean(q) && items.length === 0);
}

function highlight(i) {
  active = i;
  [...$("results").children].forEach((li, n) => li.setAttribute("aria-selected", String(n === i)));
  if (i >= 0) {
    search.setAttribute("aria-activedescendant", `result-${i}`);
    $(`result-${i}`).scrollIntoView({ block: "nearest" });
  }
}

function pick(i) {
  const c = found[i];
  if (!c) return;
  if (send({ type: "connect_customer", customer_id: c.id })) {
    search.value = "";
    showResults([], "");
  }
}

search.addEventListener("keydown", (e) => {
  if (e.key === "ArrowDown" && found.length) {
    e.preventDefault();
    highlight(Math.min(found.length - 1, active + 1));
  } else if (e.key === "ArrowUp" && found.length) {
    e.preventDefault();
    highlight(Math.max(0, active - 1));
  } else if (e.key === "Enter") {
    e.preventDefault();
    if (active >= 0) pick(active);
    else if (!$("add-new").hidden) openNewFromSearch();
  } else if (e.key === "Escape") {
    search.value = "";
    searchSeq++;
    showResults([], "");
  }
});

$("add-new").addEventListener("click", openNewFromSearch);

function openNewFromSearch() {
  // What was typed goes where it belongs: an e-mail, a phone number, or "first last".
  const q = search.value.trim();
  const prefill = {};
  if (q.includes("@")) prefill.email = q;
  else if (/^[+\d][\d\s\-()]*$/.test(q)) prefill.phone = q;
  else {
    const words = q.split(/\s+/);
    prefill.first_name = words[0] || "";
    prefill.last_name = words.slice(1).join(" ");
  }
  openForm("new", prefill);
}

// --- the customer form (a prompt's new member, or a new customer from the search) -------------

const MEMBER_FIELDS = ["first_name", "last_name", "phone", "email", "marketing_consent"];
const ALL_FIELDS = ["first_name", "last_name", "phone", "email", "personal_id", "birth_date",
                    "street", "postal_code", "city", "group_id", "note", "marketing_consent"];
let formMode = null;
let formPromptId = null;
let idempotencyKey = null;
let groupsLoaded = false;

const dialog = $("customer-form-dialog");
const form = $("customer-form");

async function loadGroups() {
  if (groupsLoaded) return;
  const { ok, body } = await api("GET", "/api/v1/groups");
  if (!ok) { status(apiMessage(body), true); return; }
  const select = $("f-group_id");
  const none = document.createElement("option");
  none.value = "";
  none.textContent = t("none");
  select.replaceChildren(none);
  for (const g of Array.isArray(body) ? body : body.items || []) {
    const o = document.createElement("option");
    o.value = String(g.id);
    o.textContent = g.name;
    select.append(o);
  }
  groupsLoaded = true;
}

function openForm(mode, prefill) {
  formMode = mode;
  formPromptId = mode === "member" ? prefill.prompt_id : null;
  idempotencyKey = crypto.randomUUID();  // one per form: a retried save never makes a twin
  form.reset();
  clearFormErrors();
  formBusy(false);
  $("form-title").textContent = t(mode === "member" ? "form.member_title" : "form.new_title");
  $("form-save").textContent = t(mode === "member" ? "form.save" : "form.save_connect");
  const fields = mode === "member" ? MEMBER_FIELDS : ALL_FIELDS;
  for (const div of form.querySelectorAll(".field")) show(div, fields.includes(div.dataset.field));
  for (const name of ["first_name", "last_name", "phone", "email"]) {
    if (prefill[name]) $(`f-${name}`).value = prefill[name];
  }
  show($("form-pid-line"), mode === "member" && Boolean(prefill.personal_id_masked));
  $("form-pid").textContent = (mode === "member" && prefill.personal_id_masked) || "";
  if (mode === "new") loadGroups();
  dialog.showModal();
  const firstEmpty = fields.map((f) => $(`f-${f}`)).find((el) => el.type !== "checkbox" && !el.value);
  (firstEmpty || $("f-first_name")).focus();
}

function closeForm() {
  formMode = null;
  pendingConfirm = null;
  if (dialog.open) dialog.close();
}

dialog.addEventListener("close", () => { formMode = null; pendingConfirm = null; });
$("form-cancel").addEventListener("click", closeForm);

function formValues() {
  const fields = formMode === "member" ? MEMBER_FIELDS : ALL_FIELDS;
  const body = {};
  for (const name of fields) {
    const el = $(`f-${name}`);
    if (el.type === "checkbox") body[name] = el.checked;
    else if (name === "group_id") body[name] = el.value ? Number(el.value) : null;
    // Names are required: sent empty, so that the bridge's own "is empty" is what is shown.
    else if (name === "first_name" || name === "last_name") body[name] = el.value.trim();
    else body[name] = el.value.trim() || null;
  }
  return body;
}

function clearFormErrors() {
  for (const el of form.querySelectorAll(".field .err")) { el.textContent = ""; show(el, false); }
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  formError("");
}

function formError(message) {
  $("form-err").textContent = message;
  show($("form-err"), Boolean(message));
}

function formBusy(busy) {
  $("form-save").disabled = busy;
}

function fieldError(name, reason) {
  const el = $(`f-${name}-err`);
  const input = $(`f-${name}`);
  if (!el || !input || input.closest(".field").hidden) return false;
  el.textContent = reason;
  show(el, true);
  input.setAttribute("aria-invalid", "true");
  return true;
}

function showRefusal(status_, body) {
  // The bridge's reasons, each next to its field; anything else above the fields.
  clearFormErrors();
  if (!body) { formError(t("error.network")); return; }
  if (status_ === 422 && Array.isArray(body.fields)) {
    const stray = body.fields.filter((f) => !fieldError(f.field, f.reason));
    if (stray.length || !body.fields.length) {
      formError(stray.map((f) => `${f.field}: ${f.reason}`).join(" ") || body.message);
    }
    return;
  }
  if (body.error === "duplicate" && body.field) {
    const reason = body.message || t("form.duplicate", { id: body.existing_id, field: body.field });
    if (!fieldError(body.field, reason)) formError(reason);
    return;
  }
  formError(apiMessage(body));
}

// Checks answer out of order on a busy bridge: only the newest may touch the reasons shown, and a
// save makes every check still under way stale (its reasons stand until the next change).
let checkSeq = 0;
form.addEventListener("submit", async (e) => {
  e.preventDefault();
  checkSeq++;
  const mode = formMode;
  const body = formValues();
  formBusy(true);
  if (mode === "member") {
    const promptId = formPromptId;
    const checked = await api("POST", "/api/v1/customers/validate", body);
    if (formMode !== mode) return;  // closed meanwhile (the prompt went away)
    if (!checked.ok) { showRefusal(checked.status, checked.body); formBusy(false); return; }
    const details = { first_name: body.first_name, last_name: body.last_name, email: body.email,
                      phone: body.phone, marketing_consent: body.marketing_consent };
    pendingConfirm = promptId;
    if (!send({ type: "confirm_member", prompt_id: promptId, details })) {
      pendingConfirm = null;
      formBusy(false);
      return;
    }
    clearFormErrors();
    formError("");
    status(t("prompt.creating"), false);
    return;  // the form closes when the lane leaves the prompt (see renderPrompt)
  }
  const created = await api("POST", "/api/v1/customers", body, { "Idempotency-Key": idempotencyKey });
  if (formMode !== mode) return;
  if (!created.ok) { showRefusal(created.status, created.body); formBusy(false); return; }
  closeForm();
  search.value = "";
  showResults([], "");
  send({ type: "connect_customer", customer_id: created.body.id });
});

// Reasons next to a field as soon as it is left, checked by the bridge as it checks a save;
// fields not touched yet say nothing until the cashier saves.
const touched = new Set();
form.addEventListener("change", async (e) => {
  const name = e.target.name;
  if (!name || !formMode) return;
  touched.add(name);
  const mode = formMode;
  const seq = ++checkSeq;
  const checked = await api("POST", "/api/v1/customers/validate", formValues());
  if (formMode !== mode || seq !== checkSeq) return;
  for (const n of touched) {
    const el = $(`f-${n}-err`);
    if (el) { el.textContent = ""; show(el, false); $(`f-${n}`).removeAttribute("aria-invalid"); }
  }
  if (checked.ok || !checked.body) return;
  if (checked.status === 422 && Array.isArray(checked.body.fields)) {
    for (const f of checked.body.fields) if (touched.has(f.field)) fieldError(f.field, f.reason);
  } else if (checked.body.error === "duplicate" && touched.has(checked.body.field)) {
    fieldError(checked.body.field, checked.body.message ||
               t("form.duplicate", { id: checked.body.existing_id, field: checked.body.field }));
  }
});
dialog.addEventListener("close", () => touched.clear());

connection("connecting");
connect();
