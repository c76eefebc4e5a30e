// normledger dashboard. Everything shown is read from this node's REST API
// at one state height and checked here, in the browser, by the WebAssembly
// build of normledger's verifier: the light blocks from the pinned trust
// root up to header height+1, then every member, obligation and record
// proof against that header's app hash. Compliance figures are recomputed
// from the proven obligations they list, and the directory's staleness
// from the proven entries at the verified time of block height. Nothing
// here trusts the server.
"use strict";

const $ = (sel) => document.querySelector(sel);
const el = (tag, attrs, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else if (k === "text") e.textContent = v; else e.setAttribute(k, v);
  }
  for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  return e;
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function api(path) {
  const r = await fetch(path, { headers: { Accept: "application/json" } });
  let body;
  try { body = await r.json(); } catch (e) { throw new Error(`${path}: answer is not JSON`); }
  if (!r.ok) {
    const err = new Error(body.message || `HTTP ${r.status}`);
    err.status = r.status;
    throw err;
  }
  return body;
}

// Enum values come as RECORD_KIND_PLEDGE; people read "pledge".
const short = (v, prefix) => (v || "").replace(prefix, "").toLowerCase();
const shortId = (id) => (id || "").slice(0, 12);
const when = (t) => (t ? t.replace("T", " ").replace(/\.\d+Z$/, "Z") : "");

// ---- the verifier ---------------------------------------------------------

const state = { V: null, trust: null, genesisJson: null, height: 0, appHash: null, blockTime: null, headerError: null, obligations: new Map() };

async function loadVerifier() {
  const t0 = performance.now();
  const go = new Go();
  const res = await WebAssembly.instantiateStreaming(fetch("verifier.wasm"), go.importObject);
  go.run(res.instance); // resolves when the program exits; it stays up to serve calls
  for (let i = 0; i < 200 && !globalThis.normledgerVerifier; i++) await sleep(10);
  if (!globalThis.normledgerVerifier) throw new Error("the verifier did not start");
  state.V = globalThis.normledgerVerifier;
  console.info(`verifier loaded in ${Math.round(performance.now() - t0)} ms`);
  try {
    const v = JSON.parse(state.V.version());
    $("#verifier-version").textContent = `Verifier ${v.verifier || "normledger"} ${v.version || ""} (${v.go || "Go"}; the trusting period is not checked in the browser).`;
  } catch (e) {
    $("#verifier-version").textContent = "";
  }
}

function verify(fn, req) {
  if (!state.V) return { ok: false, reason: "the verifier is not loaded" };
  try {
    return JSON.parse(state.V[fn](JSON.stringify(req)));
  } catch (e) {
    return { ok: false, reason: "verifier failure: " + e.message };
  }
}

function parseTrust(s) {
  s = (s || "").trim().toLowerCase();
  if (/^[0-9a-f]{64}$/.test(s)) return { genesisHash: s };
  const m = s.match(/^(\d+):([0-9a-f]{64})$/);
  if (m) return { height: Number(m[1]), hash: m[2] };
  return null;
}

const lightBlocks = new Map();
async function lightBlock(h) {
  if (!lightBlocks.has(h)) lightBlocks.set(h, api(`/v1/light_blocks/${h}`).then((r) => r.lightBlock));
  return lightBlocks.get(h);
}

// verifyHeaders establishes the app hash of state height h (header h+1)
// and the time of block h (at which the node judges the directory) from
// the trust root, bisecting when the validator set changed too much for
// one skip. The time is null when the trust root is header h+1 itself.
async function verifyHeaders(h) {
  if (!state.trust) throw new Error("no trust root pinned");
  const start = state.trust.height || 1;
  const target = h + 1;
  let heights = start >= target ? [...new Set([start, target])] : [...new Set([start, h, target])];
  for (let round = 0; round < 40; round++) {
    const lbs = await Promise.all(heights.map(lightBlock));
    const res = verify("verifyHeaders", { trust: state.trust, genesisJson: state.genesisJson, lightBlocks: lbs });
    if (res.ok) {
      const hash = res.appHashes && res.appHashes[String(target)];
      if (!hash) throw new Error(`the verifier returned no app hash for header ${target}`);
      return { appHash: hash, blockTime: (res.headerTimes && res.headerTimes[String(h)]) || null };
    }
    const need = res.needIntermediate;
    if (need && need[1] - need[0] > 1) {
      const mid = Math.floor((need[0] + need[1]) / 2);
      heights = [...new Set([...heights, mid])].sort((a, b) => a - b);
      continue;
    }
    throw new Error(res.reason || "headers not verified");
  }
  throw new Error("too many light blocks needed");
}

// ---- badges ----------------------------------------------------------------

function badge(res, okText) {
  const b = el("span", { class: "badge " + (res.ok ? "ok" : "bad"), "data-verified": res.ok ? "true" : "false" });
  b.textContent = res.ok ? okText || "VERIFIED" : "NOT VERIFIED";
  if (!res.ok) b.title = res.reason || "";
  const cell = el("td", { class: "verification" }, b);
  if (!res.ok) cell.append(el("div", { class: "reason", text: res.reason || "" }));
  return cell;
}

function headerFailure() {
  return { ok: false, reason: state.headerError ? "header not verified: " + state.headerError : "no trust root pinned" };
}

function withHeader(fn, req) {
  if (!state.appHash) return headerFailure();
  return verify(fn, { ...req, appHash: state.appHash });
}

// ---- members and compliance --------------------------------------------------

async function provenObligation(id) {
  if (!state.obligations.has(id)) {
    state.obligations.set(id, api(`/v1/obligations/${id}?height=${state.height}&prove=true`).then(
      (ans) => ({ ans, res: withHeader("verifyObligation", { id, answer: ans }) }),
      (e) => ({ ans: null, res: { ok: false, reason: `obligation ${shortId(id)}: ${e.message}` } }),
    ));
  }
  return state.obligations.get(id);
}

// recompute checks a figure against the proven obligations it lists: every
// one must verify and have the status the figure counts it under.
async function recompute(ids, expect) {
  for (const id of ids) {
    const { ans, res } = await provenObligation(id);
    if (!res.ok) return { ok: false, reason: res.reason };
    const st = short(ans.obligation.status, "OBLIGATION_STATUS_");
    if (!expect(st)) return { ok: false, reason: `obligation ${shortId(id)} is ${st} in its proof` };
  }
  return { ok: true };
}

async function loadMembers() {
  const ans = await api(`/v1/members?height=${state.height}&prove=true`);
  const tbody = $("#members-table tbody");
  tbody.replaceChildren();
  for (let i = 0; i < ans.members.length; i++) {
    const m = ans.members[i];
    const tr = el("tr", { "data-member": m.id });
    tr.append(el("td", {}, el("code", { text: m.id })), el("td", { text: short(m.class, "MEMBER_CLASS_") }),
      el("td", { text: m.name || "" }), el("td", { text: short(m.status, "MEMBER_STATUS_") }));
    const figures = [el("td", { text: "…" }), el("td", { text: "…" }), el("td", { text: "…" })];
    tr.append(...figures);
    const mres = withHeader("verifyMember", { id: m.id, answer: { member: m, height: ans.height, proof: (ans.proofs || [])[i] } });
    const cell = badge(mres);
    tr.append(cell);
    tbody.append(tr);
    fillCompliance(m, figures, cell, mres);
  }
}

async function fillCompliance(m, [onTime, overdue, ack], cell, mres) {
  let c;
  try {
    c = (await api(`/v1/compliance/${m.id}?height=${state.height}`)).compliance;
  } catch (e) {
    onTime.textContent = overdue.textContent = ack.textContent = "—";
    return;
  }
  const ot = c.onTime || {};
  const den = Number(ot.denominator || 0), num = Number(ot.numerator || 0);
  onTime.textContent = den ? `${(Number(ot.basisPoints || 0) / 100).toFixed(2)}% (${num} of ${den})` : "— (nothing due yet)";
  const od = c.overdue || {};
  overdue.textContent = String(od.count || 0);
  if (Number(od.count || 0) > 0) overdue.className = "status-overdue";
  const ta = c.timeToAcknowledge || {};
  ack.textContent = Number(ta.samples || 0) ? `${Math.round(Number(ta.medianSeconds || 0) / 60)} min (median of ${ta.samples})` : "—";
  if (!mres.ok) return;
  // The figures, recomputed from their proven inputs.
  const odIds = od.ids || [];
  let res = odIds.length === Number(od.count || 0) ? await recompute(odIds, (s) => s === "overdue") : { ok: false, reason: "the overdue count does not match the obligations it lists" };
  if (res.ok) {
    const ids = ot.obligationIds || [];
    let met = 0;
    res = ids.length === den ? await recompute(ids, (s) => { if (s === "met") met++; return ["met", "met_late", "overdue"].includes(s); }) : { ok: false, reason: "the on-time rate does not match the obligations it lists" };
    if (res.ok && met !== num) res = { ok: false, reason: `on-time rate: ${met} of the proven obligations were met on time, the node says ${num}` };
  }
  const b = cell.querySelector(".badge");
  if (!res.ok) {
    b.className = "badge bad";
    b.dataset.verified = "false";
    b.textContent = "NOT VERIFIED";
    cell.append(el("div", { class: "reason", text: "compliance: " + res.reason }));
  } else {
    b.title = "member entry proven; figures recomputed from their proven obligations (the node could still leave one out: listings do not prove completeness)";
  }
}

// ---- obligations ---------------------------------------------------------------

async function loadObligations(status, table) {
  const ans = await api(`/v1/obligations?status=${status}&height=${state.height}&prove=true&limit=200`);
  const tbody = $(table + " tbody");
  tbody.replaceChildren();
  const obs = ans.obligations || [];
  if (!obs.length) tbody.append(el("tr", {}, el("td", { colspan: "6", class: "muted", text: `no ${status} obligations` })));
  obs.sort((a, b) => (a.due < b.due ? -1 : 1));
  for (let i = 0; i < obs.length; i++) {
    const o = obs[i];
    const st = short(o.status, "OBLIGATION_STATUS_");
    const tr = el("tr", { class: st, "data-obligation": o.id });
    tr.append(el("td", {}, el("code", { text: shortId(o.id) })), el("td", { text: short(o.kind, "OBLIGATION_KIND_") }),
      el("td", { text: o.debtor }), el("td", { text: (o.creditors || []).join(", ") }),
      el("td", { class: st === "overdue" ? "status-overdue" : "", text: when(o.due) + (st === "overdue" ? " (overdue)" : "") }));
    const res = withHeader("verifyObligation", { id: o.id, answer: { obligation: o, height: ans.height, proof: (ans.proofs || [])[i] } });
    tr.append(badge(res));
    tbody.append(tr);
  }
  return obs.length;
}

// ---- sealed notices -----------------------------------------------------------------

// receiptText is a recipient's receipt as its proven obligation and
// proven receipt record say.
function receiptText(member, o, rc) {
  const s = short(o.status, "OBLIGATION_STATUS_");
  if (rc) {
    const how = rc.matches ? "confirmed" : rc.fileKey ? "mismatch PROVEN" : "says it does not match (unproven)";
    return `${member}: ${how} ${when(o.statusAt)}${s === "met_late" ? " (late)" : ""}`;
  }
  if (s === "overdue") return `${member}: MISSED (was due ${when(o.due)})`;
  return `${member}: ${s}, due ${when(o.due)}`;
}

async function provenRecord(id) {
  try {
    const ans = await api(`/v1/records/${id}?height=${state.height}&prove=true`);
    return withHeader("verifyRecord", { id, answer: ans });
  } catch (e) {
    return { ok: false, reason: `record ${shortId(id)}: ${e.message}` };
  }
}

// checkNotice proves a sealed notice line by line: the recipients come
// from the proven sealed record; each one's receipt duty from its proven
// obligation (which must be that recipient's receipt for this record);
// each answer from the proven receipt record the obligation names. The
// node's /v1/sealed answer only points at what to prove.
async function checkNotice(r, res, notice) {
  if (!res.ok) return { res, lines: [] };
  const sealed = (((res.record || {}).decoded || {}).body || {}).record?.sealed || {};
  const told = (sealed.recipients || []).map((x) => x.member);
  const byMember = new Map((notice.recipients || []).map((x) => [x.member, x]));
  const lines = [];
  const fail = (reason) => ({ res: { ok: false, reason }, lines });
  if ((notice.recipients || []).length !== told.length) return fail("the notice's recipients are not the ones the proven record names");
  for (const member of told) {
    const st = byMember.get(member);
    if (!st || !st.obligationId) return fail(`no receipt obligation given for ${member}`);
    const { ans, res: ores } = await provenObligation(st.obligationId);
    if (!ores.ok) return fail(ores.reason);
    const o = ans.obligation;
    if (short(o.kind, "OBLIGATION_KIND_") !== "receipt" || o.sourceRecord !== r.id || o.debtor !== member) {
      return fail(`obligation ${shortId(o.id)} is not ${member}'s receipt for this notice`);
    }
    if (short(o.status, "OBLIGATION_STATUS_") !== short(st.status, "OBLIGATION_STATUS_")) {
      return fail(`${member}'s receipt is ${short(o.status, "OBLIGATION_STATUS_")} in its proof, the node says ${short(st.status, "OBLIGATION_STATUS_")}`);
    }
    let rc = null;
    if (["met", "met_late"].includes(short(o.status, "OBLIGATION_STATUS_"))) {
      const rres = await provenRecord(o.statusRecord);
      if (!rres.ok) return fail(`${member}'s receipt: ${rres.reason}`);
      const tx = (rres.record || {}).decoded || {};
      rc = (tx.body || {}).record?.receipt;
      if (!rc || rc.sealedId !== r.id || tx.body.signer !== member) return fail(`record ${shortId(o.statusRecord)} is not ${member}'s receipt for this notice`);
      if (Boolean(rc.matches) !== Boolean(st.matches) || Boolean(!rc.matches && rc.fileKey) !== Boolean(st.mismatchProven)) {
        return fail(`${member}'s receipt says otherwise in its proof`);
      }
    }
    lines.push(receiptText(member, o, rc));
  }
  return { res: { ok: true }, lines };
}

async function loadSealed() {
  const q = new URLSearchParams({ height: String(state.height), prove: "true", kind: "sealed", limit: "50" });
  const who = $("#s-member").value.trim();
  if (who) q.set("subject", who);
  const tbody = $("#sealed-table tbody");
  let ans;
  try {
    ans = await api("/v1/records?" + q);
  } catch (e) {
    tbody.replaceChildren(el("tr", {}, el("td", { colspan: "6", class: "reason", text: e.message })));
    return;
  }
  tbody.replaceChildren();
  const recs = ans.records || [];
  if (!recs.length) tbody.append(el("tr", {}, el("td", { colspan: "6", class: "muted", text: "no sealed notices" })));
  for (let i = 0; i < recs.length; i++) {
    const r = recs[i];
    const tr = el("tr", { "data-sealed": r.id });
    const res = withHeader("verifyRecord", { id: r.id, answer: { record: r, height: ans.height, proofs: [(ans.proofs || [])[i], ans.logProof], inclusion: (ans.inclusions || [])[i] } });
    let notice;
    try {
      notice = (await api(`/v1/sealed/${r.id}?height=${state.height}`)).notice;
    } catch (e) {
      tr.append(el("td", {}, el("code", { text: shortId(r.id) })), el("td", { text: r.author }), el("td", { text: when(r.blockTime) }),
        el("td", { colspan: "2", class: "muted", text: e.status === 404 ? "sealed without recipients (older form)" : e.message }), badge(res));
      tbody.append(tr);
      continue;
    }
    const { res: full, lines } = await checkNotice(r, res, notice);
    const list = el("ul", { class: "receipts" });
    for (const l of lines) list.append(el("li", { class: /MISSED/.test(l) ? "status-overdue" : "", text: l }));
    tr.append(el("td", {}, el("code", { text: shortId(r.id) })), el("td", { text: r.author }), el("td", { text: when(r.blockTime) }),
      el("td", { text: (notice.recipients || []).map((x) => x.member).join(", ") }), el("td", {}, list), badge(full));
    tbody.append(tr);
  }
}

// ---- cases -------------------------------------------------------------------------

// checkCase proves a case and its duties (GET /v1/cases/{id}?prove=true)
// against the verified state and judges its reply duty at the verified
// block time; the listed case must be the proven one.
function checkCase(listed, ans) {
  const fail = (reason) => ({ ok: false, reason });
  if (!state.appHash) return headerFailure();
  if (Number(ans.height) !== state.height) return fail(`the case is of height ${ans.height}, the verified state of ${state.height}`);
  const req = { id: listed.id, answer: ans };
  if (state.blockTime) req.at = state.blockTime;
  const res = withHeader("verifyCase", req);
  if (!res.ok) return res;
  if (res.absent) return fail(`the node lists case ${listed.id}, its absence is proven`);
  if (canon(res.case) !== canon(listed)) return fail("the listed case differs from the proven one");
  return res;
}

function caseTimeline(c) {
  const ol = el("ol", { class: "case-timeline" });
  for (const e of c.history || []) {
    const li = el("li", { "data-step": e.step }, `${e.step.replaceAll("_", " ")} by ${e.by}`, el("span", { class: "muted", text: ` ${when(e.time)}` }));
    for (const f of e.flags || []) li.append(" ", el("span", { class: "badge flag", "data-flag": f, text: f.replaceAll("_", " ") }));
    ol.append(li);
  }
  for (const m of c.measures || []) {
    const ended = m.standDownId ? `stood down ${when(m.endedAt)} to level ${Number(m.returnLevel || 0)}` : "in force";
    ol.append(el("li", { class: "measure", "data-measure": m.recordId },
      `measure: ${short(m.type, "MEASURE_TYPE_")} by ${m.author} at level ${Number(m.level || 0)} (ladder allows ${Number(m.allowedLevel || 0)}), ${ended}`));
  }
  return ol;
}

function caseDuties(obs) {
  const ul = el("ul", { class: "case-duties" });
  for (const o of obs || []) {
    const st = short(o.status, "OBLIGATION_STATUS_");
    ul.append(el("li", { class: "status-" + st, "data-duty": short(o.kind, "OBLIGATION_KIND_") },
      `${short(o.kind, "OBLIGATION_KIND_").replaceAll("_", " ")} (${o.debtor}): ${st}, due ${when(o.due)}`));
  }
  return ul;
}

async function loadCases() {
  const tbody = $("#cases-table tbody");
  let list;
  try {
    list = await api(`/v1/cases?height=${state.height}`);
  } catch (e) {
    tbody.replaceChildren(el("tr", {}, el("td", { colspan: "7", class: "reason", text: e.message })));
    return;
  }
  tbody.replaceChildren();
  const cases = list.cases || [];
  if (!cases.length) tbody.append(el("tr", {}, el("td", { colspan: "7", class: "muted", text: "no cases" })));
  for (const listed of cases) {
    let ans = null, res;
    try {
      ans = await api(`/v1/cases/${listed.id}?height=${state.height}&prove=true`);
      res = checkCase(listed, ans);
    } catch (e) {
      res = { ok: false, reason: e.message };
    }
    // What the verifier proved when it verifies; else the node's claim,
    // under its NOT VERIFIED badge.
    const c = res.ok ? res.case : listed;
    const obs = res.ok ? res.obligations : (ans && ans.obligations) || [];
    const parties = [c.complainant, ...(c.coComplainants || [])].join(", ") + " v " + c.respondent;
    const stage = el("td", { class: "case-stage" }, short(c.stage, "CASE_STAGE_").replaceAll("_", " "));
    if (c.outcome) stage.append(el("div", { class: "muted", text: short(c.outcome, "CASE_OUTCOME_") }));
    else stage.append(el("div", { class: "muted", text: `escalation not before ${when(c.notBefore)}${c.urgent ? " (urgent)" : ""}` }));
    if (res.ok && res.noReply) stage.append(el("div", { class: "status-overdue no-reply", text: `NO REPLY from ${c.respondent}` }));
    const tr = el("tr", { "data-case": c.id });
    tr.append(el("td", {}, el("code", { text: shortId(c.id) })), el("td", { text: parties }), el("td", { text: c.conduct }), stage,
      el("td", {}, caseTimeline(c)), el("td", {}, caseDuties(obs)), badge(res));
    tbody.append(tr);
  }
}

// ---- directory ---------------------------------------------------------------------

// canon is a decoded JSON value as text with its keys sorted, so that two
// protojson answers compare by content.
function canon(v) {
  if (Array.isArray(v)) return "[" + v.map(canon).join(",") + "]";
  if (v && typeof v === "object") return "{" + Object.keys(v).sort().map((k) => JSON.stringify(k) + ":" + canon(v[k])).join(",") + "}";
  return JSON.stringify(v);
}

// utcNanos makes an RFC 3339 UTC time comparable as text (protojson and Go
// write 0 to 9 digits of fraction).
function utcNanos(t) {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z$/.exec(t || "");
  return m ? `${m[1]}.${(m[2] || "").padEnd(9, "0")}Z` : null;
}

const staleWord = (c) => (c.stale ? "stale" : "current");

// checkContact proves the directory's entry i: the member entry against the
// verified state, then its status, recomputed by the verifier from the
// proven entry at the verified time of block height, must be what the
// node says (stale or not, why, days since confirmation, the entry).
function checkContact(c, ans, i) {
  const fail = (reason) => ({ ok: false, reason });
  if (!state.appHash) return headerFailure();
  if (!state.blockTime) return fail(`the time of block ${state.height} is not verified (the trust root is above it)`);
  if (Number(ans.height) !== state.height) return fail(`the directory is of height ${ans.height}, the verified state of ${state.height}`);
  if (utcNanos(ans.time) !== utcNanos(state.blockTime)) {
    return fail(`the node judges the entries at ${ans.time}, the verified time of block ${state.height} is ${state.blockTime}`);
  }
  const res = withHeader("verifyMember", { id: c.member, answer: { member: (ans.members || [])[i], height: ans.height, proof: (ans.proofs || [])[i] }, at: state.blockTime });
  if (!res.ok) return res;
  const p = res.contact || {};
  if (Boolean(p.stale) !== Boolean(c.stale)) return fail(`the node says the entry is ${staleWord(c)}, the proven entry is ${staleWord(p)} at the verified block time`);
  if (canon(p.staleReasons || []) !== canon(c.staleReasons || [])) {
    return fail(`the node's stale reasons (${(c.staleReasons || []).join("; ") || "none"}) are not the proven entry's (${(p.staleReasons || []).join("; ") || "none"})`);
  }
  const days = (x) => Number(x.daysSinceConfirmation || 0);
  if (days(p) !== days(c)) return fail(`the node says ${days(c)} days since confirmation, the proven entry ${days(p)}`);
  if (canon(p) !== canon(c)) return fail("the node's directory entry differs from the proven one");
  return { ok: true, contact: p };
}

function contactPoints(entry) {
  const ul = el("ul", { class: "contact-points" });
  for (const p of (entry && entry.points) || []) {
    const chans = (p.channels || []).map((ch) => `${short(ch.type, "CHANNEL_TYPE_")} ${ch.address}`).join(", ");
    const who = [p.name, p.organisation].filter(Boolean).join(", ");
    ul.append(el("li", {}, `${short(p.role, "CONTACT_ROLE_")}: ${chans}`, el("span", { class: "muted", text: who ? ` (${who})` : "" })));
  }
  if (!ul.children.length) ul.append(el("li", { class: "muted", text: "none" }));
  return ul;
}

async function loadDirectory() {
  const tbody = $("#directory-table tbody");
  let ans;
  try {
    ans = await api(`/v1/directory?height=${state.height}&prove=true`);
  } catch (e) {
    tbody.replaceChildren(el("tr", {}, el("td", { colspan: "6", class: "reason", text: e.message })));
    $("#ping-status").replaceChildren();
    return;
  }
  tbody.replaceChildren();
  const contacts = ans.contacts || [];
  if (!contacts.length) tbody.append(el("tr", {}, el("td", { colspan: "6", class: "muted", text: "no members" })));
  for (let i = 0; i < contacts.length; i++) {
    const res = checkContact(contacts[i], ans, i);
    // What the verifier recomputed when it verifies; else the node's
    // claim, under its NOT VERIFIED badge.
    const c = res.ok ? res.contact : contacts[i];
    const entry = c.entry;
    const tr = el("tr", { "data-contact": c.member, class: c.stale ? "stale" : "", "data-stale": c.stale ? "true" : "false" });
    const confirmed = entry ? `${when(entry.confirmedAt)} (${Number(c.daysSinceConfirmation || 0)} days ago)` : "never";
    const status = el("td", { class: "contact-status" }, c.stale ? "STALE: " + (c.staleReasons || []).join("; ") : "current");
    if (!c.stale && c.reconfirmBy) status.append(el("div", { class: "muted", text: `reconfirm by ${when(c.reconfirmBy)}` }));
    tr.append(el("td", {}, el("code", { text: c.member })), el("td", { text: short(c.class, "MEMBER_CLASS_") }),
      el("td", {}, contactPoints(entry)), el("td", { text: confirmed }), status, badge(res));
    if (res.ok) tr.lastChild.querySelector(".badge").title = "entry proven; status recomputed from it at the verified block time (listings do not prove completeness: the node could leave a member out)";
    tbody.append(tr);
  }
  await loadPing();
}

// newestPing is the last page of ping records (the listing is in ledger
// order), with its proofs.
async function newestPing() {
  let last = null, token = "";
  for (let i = 0; i < 20; i++) {
    const q = new URLSearchParams({ height: String(state.height), prove: "true", kind: "ping", limit: "50" });
    if (token) q.set("pageToken", token);
    const ans = await api("/v1/records?" + q);
    if ((ans.records || []).length) last = ans;
    token = ans.nextPageToken;
    if (!token) break;
  }
  return last;
}

function answerText(o) {
  const s = short(o.status, "OBLIGATION_STATUS_");
  if (s === "met") return `answered ${when(o.statusAt)}`;
  if (s === "met_late") return `answered late, ${when(o.statusAt)}`;
  if (s === "overdue") return `NO ANSWER (overdue), was due ${when(o.due)}`;
  if (s === "open") return `no answer yet, due ${when(o.due)}`;
  return s || "unknown";
}

// checkPingTarget proves target t's answer to ping r: its answer duty from
// the proven obligation (which must be t's answer to this ping), the
// answer from the proven record the obligation names. The node's
// /v1/pings answer (st) only points at what to prove.
async function checkPingTarget(r, rres, t, st) {
  const claimed = st && st.status ? answerText(st) : "";
  const fail = (reason, text) => ({ res: { ok: false, reason }, text: text || claimed });
  if (!rres.ok) return fail(rres.reason);
  if (!st || !st.obligationId) return fail(`no answer obligation given for ${t.member}`);
  const { ans, res: ores } = await provenObligation(st.obligationId);
  if (!ores.ok) return fail(ores.reason, ans && ans.obligation ? answerText(ans.obligation) : claimed);
  const o = ores.obligation;
  if (short(o.kind, "OBLIGATION_KIND_") !== "answer_ping" || o.sourceRecord !== r.id || o.debtor !== t.member) {
    return fail(`obligation ${shortId(o.id)} is not ${t.member}'s answer to this ping`);
  }
  const s = short(o.status, "OBLIGATION_STATUS_");
  if (s !== short(st.status, "OBLIGATION_STATUS_")) return fail(`${t.member}'s answer is ${s} in its proof, the node says ${short(st.status, "OBLIGATION_STATUS_")}`);
  if (s === "met" || s === "met_late") {
    const ares = await provenRecord(o.statusRecord);
    if (!ares.ok) return fail(`${t.member}'s answer: ${ares.reason}`);
    const tx = (ares.record || {}).decoded || {};
    const pa = (tx.body || {}).record?.pingAnswer;
    if (!pa || pa.pingId !== r.id || tx.body.signer !== t.member) return fail(`record ${shortId(o.statusRecord)} is not ${t.member}'s answer to this ping`);
  }
  return { res: { ok: true }, text: answerText(o), overdue: s === "overdue" };
}

async function loadPing() {
  const box = $("#ping-status");
  let page;
  try {
    page = await newestPing();
  } catch (e) {
    box.replaceChildren(el("div", { class: "reason", text: "pings: " + e.message }));
    return;
  }
  if (!page) {
    box.replaceChildren(el("p", { class: "muted", text: "no pings" }));
    return;
  }
  const i = page.records.length - 1;
  const r = page.records[i];
  const rres = withHeader("verifyRecord", { id: r.id, answer: { record: r, height: page.height, proofs: [(page.proofs || [])[i], page.logProof], inclusion: (page.inclusions || [])[i] } });
  let st = null, stErr = "";
  try {
    st = (await api(`/v1/pings/${r.id}?height=${state.height}`)).status;
  } catch (e) {
    stErr = e.message;
  }
  // The ping as the verifier decoded it from the signed bytes; an
  // unverified answer shows the node's copy under NOT VERIFIED badges.
  const ping = ((((rres.ok && rres.record) || r).decoded || {}).body || {}).record?.ping || {};
  const tbody = el("tbody");
  for (const t of ping.targets || []) {
    const ts = ((st || {}).targets || []).find((x) => x.member === t.member);
    let { res, text, overdue } = await checkPingTarget(r, rres, t, ts);
    if (!ts && stErr) res = { ok: false, reason: `ping status: ${stErr}` };
    const ch = t.channel || {};
    tbody.append(el("tr", { "data-ping-target": t.member },
      el("td", {}, el("code", { text: t.member })), el("td", { text: `${short(t.role, "CONTACT_ROLE_")}: ${short(ch.type, "CHANNEL_TYPE_")} ${ch.address || ""}` }),
      el("td", { class: overdue ? "status-overdue" : "", text }), badge(res)));
  }
  if (!tbody.children.length) tbody.append(el("tr", {}, el("td", { colspan: "4", class: "muted", text: "the ping names no targets" })));
  box.replaceChildren(
    el("h3", {}, "Newest ping ", el("code", { text: shortId(r.id) }), ` by ${r.author}, ${when(r.blockTime)}; answers due by ${when(ping.answerBy)}`),
    el("table", { id: "ping-table" }, el("thead", {}, el("tr", {}, el("th", { text: "Target" }), el("th", { text: "Channel" }), el("th", { text: "Answer" }), el("th", { text: "Verified" }))), tbody));
}

// ---- records ---------------------------------------------------------------------

let recordPage = null;

async function loadRecords() {
  const q = new URLSearchParams({ height: String(state.height), prove: "true", limit: "50" });
  for (const k of ["kind", "author", "sector"]) {
    const v = $("#f-" + k).value.trim();
    if (v) q.set(k, v);
  }
  const tbody = $("#records-table tbody");
  let ans;
  try {
    ans = await api("/v1/records?" + q);
  } catch (e) {
    tbody.replaceChildren(el("tr", {}, el("td", { colspan: "6", class: "reason", text: e.message })));
    return [];
  }
  recordPage = ans;
  tbody.replaceChildren();
  const recs = ans.records || [];
  if (!recs.length) tbody.append(el("tr", {}, el("td", { colspan: "6", class: "muted", text: "no records" })));
  recs.forEach((r, i) => {
    const tr = el("tr", { "data-record": r.id });
    const open = el("button", { class: "link", type: "button", text: shortId(r.id) });
    open.addEventListener("click", () => showRecord(i));
    tr.append(el("td", { text: r.seq }), el("td", { text: when(r.blockTime) }), el("td", { text: short(r.kind, "RECORD_KIND_") }),
      el("td", { text: r.author }), el("td", {}, open), badge(verifyListed(i)));
    tbody.append(tr);
  });
  return recs;
}

function listedAnswer(i) {
  const a = recordPage;
  return { record: a.records[i], height: a.height, proofs: [(a.proofs || [])[i], a.logProof], inclusion: (a.inclusions || [])[i] };
}

function verifyListed(i) {
  return withHeader("verifyRecord", { id: recordPage.records[i].id, answer: listedAnswer(i) });
}

function renderValue(v) {
  if (v === null || v === undefined) return el("span", { class: "muted", text: "—" });
  if (Array.isArray(v)) {
    const ul = el("ul");
    for (const x of v) ul.append(el("li", {}, renderValue(x)));
    return ul;
  }
  if (typeof v === "object") {
    const dl = el("dl");
    for (const [k, x] of Object.entries(v)) dl.append(el("dt", { text: k }), el("dd", {}, renderValue(x)));
    return dl;
  }
  return el("span", { text: String(v) });
}

function showRecord(i) {
  const r = recordPage.records[i];
  const res = verifyListed(i);
  $("#record-detail").hidden = false;
  $("#detail-id").textContent = r.id;
  const b = $("#detail-badge");
  b.className = "badge " + (res.ok ? "ok" : "bad");
  b.dataset.verified = res.ok ? "true" : "false";
  b.textContent = res.ok ? "VERIFIED" : "NOT VERIFIED";
  $("#detail-reason").textContent = res.ok ? "" : res.reason;
  const meta = $("#detail-meta");
  meta.replaceChildren();
  const facts = { kind: short(r.kind, "RECORD_KIND_"), author: r.author, signers: (r.signers || []).join(", "), "committed at": `height ${r.height}, ${when(r.blockTime)}`, "ledger position": r.seq };
  for (const [k, v] of Object.entries(facts)) meta.append(el("dt", { text: k }), el("dd", { text: v }));
  // Show the record as the verifier decoded it from the signed bytes; an
  // unverified answer shows the node's copy under its NOT VERIFIED badge.
  const tx = (res.ok && res.record && res.record.decoded) || r.decoded || {};
  const rec = (tx.body && tx.body.record) || {};
  $("#detail-body").replaceChildren(renderValue(rec));
  showWithheld(i, res.ok ? rec : null);
  $("#record-detail").scrollIntoView();
}

// ---- withheld fields (docs/disclosure.md) ----------------------------------------

let withheldIndex = -1;

// showWithheld lists a verified record's withheld fields as REDACTED. A
// viewer who holds disclosures for it (an order delivered them, or it
// filed the record) can check them here: the file is read in this page and
// checked by the verifier in this page; it is sent nowhere.
function showWithheld(i, rec) {
  withheldIndex = i;
  const red = rec && rec.redaction;
  $("#detail-withheld").hidden = !red;
  const badgeEl = $("#disclosures-badge");
  badgeEl.hidden = true;
  badgeEl.dataset.verified = "";
  $("#disclosures-reason").textContent = "";
  $("#disclosures-file").value = "";
  if (!red) return;
  $("#withheld-summary").textContent = `Withheld (${short(red.basis, "DESIGNATION_BASIS_").replaceAll("_", " ")}): ${red.publicSummary || ""}`;
  const ul = $("#withheld-list");
  ul.replaceChildren();
  for (const f of red.fields || []) {
    const n = (f.digests || []).length;
    ul.append(el("li", { "data-withheld": f.path, class: "redacted", text: `${f.path}: REDACTED (${n} salted digest${n === 1 ? "" : "s"})` }));
  }
}

async function checkDisclosures(file) {
  const badgeEl = $("#disclosures-badge");
  let disclosures;
  try {
    disclosures = JSON.parse(await file.text());
  } catch (e) {
    disclosures = null;
    $("#disclosures-reason").textContent = "not a disclosures file: " + e.message;
  }
  const res = disclosures ? withHeader("verifyRecord", { id: recordPage.records[withheldIndex].id, answer: listedAnswer(withheldIndex), disclosures }) : { ok: false };
  badgeEl.hidden = false;
  badgeEl.className = "badge " + (res.ok ? "ok" : "bad");
  badgeEl.dataset.verified = res.ok ? "true" : "false";
  badgeEl.textContent = res.ok ? "DISCLOSURES VERIFIED" : "DISCLOSURES NOT VERIFIED";
  if (!res.ok) {
    if (res.reason) $("#disclosures-reason").textContent = res.reason;
    return;
  }
  $("#disclosures-reason").textContent = "";
  const proven = {};
  for (const d of res.disclosed || []) (proven[d.path] = proven[d.path] || []).push(typeof d.value === "string" ? d.value : JSON.stringify(d.value));
  for (const li of document.querySelectorAll("#withheld-list li")) {
    const p = li.dataset.withheld;
    if (proven[p]) {
      li.className = "proven";
      li.dataset.proven = "true";
      li.textContent = `${p}: PROVEN ${proven[p].join("; ")}` + ((res.withheld || []).includes(p) ? " (more values may stay withheld)" : "");
    }
  }
}

// ---- charts -----------------------------------------------------------------------

function bars(svg, data, cls) {
  const W = 460, H = 240, pad = 46;
  const max = Math.max(1, ...data.map((d) => d[1]));
  const w = (W - pad) / Math.max(1, data.length);
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.replaceChildren();
  const ns = "http://www.w3.org/2000/svg";
  data.forEach(([label, n], i) => {
    const h = ((H - 2 * pad) * n) / max;
    const r = document.createElementNS(ns, "rect");
    r.setAttribute("x", pad / 2 + i * w + 3); r.setAttribute("y", H - pad - h);
    r.setAttribute("width", Math.max(2, w - 6)); r.setAttribute("height", h);
    if (cls && cls(label)) r.setAttribute("class", cls(label));
    const t = document.createElementNS(ns, "text");
    const tx = pad / 2 + i * w + 5, ty = H - pad + 10;
    t.setAttribute("x", tx); t.setAttribute("y", ty);
    t.setAttribute("transform", `rotate(25 ${tx} ${ty})`);
    t.textContent = label.replace(/_/g, " ").slice(0, 14);
    const c = document.createElementNS(ns, "text");
    c.setAttribute("x", pad / 2 + i * w + 3); c.setAttribute("y", H - pad - h - 3);
    c.textContent = String(n);
    svg.append(r, t, c);
  });
}

async function loadCharts() {
  const kinds = {};
  for (const r of (recordPage && recordPage.records) || []) {
    const k = short(r.kind, "RECORD_KIND_");
    kinds[k] = (kinds[k] || 0) + 1;
  }
  bars($("#chart-kinds"), Object.entries(kinds).sort());
  const statuses = [];
  for (const s of ["open", "met", "met_late", "overdue", "waived"]) {
    const a = await api(`/v1/obligations?status=${s}&height=${state.height}&limit=200`);
    statuses.push([s, (a.obligations || []).length]);
  }
  bars($("#chart-status"), statuses, (l) => (l === "overdue" ? "overdue" : ""));
}

// ---- start ------------------------------------------------------------------------

async function pinTrust(s) {
  const t = parseTrust(s);
  const status = $("#trust-status");
  if (!t) {
    status.className = "badge bad";
    status.textContent = "not a trust root: a 64-hex genesis hash, or height:header-hash";
    return false;
  }
  state.trust = t;
  localStorage.setItem("normledger-trust", s.trim().toLowerCase());
  return true;
}

async function refresh() {
  const st = await api("/v1/status");
  state.height = Number(st.latestAttestedHeight);
  $("#chain").textContent = `chain ${st.chainId} · state height ${state.height} · block time ${when(st.latestBlockTime)} · node ${st.version}`;
  state.appHash = null;
  state.blockTime = null;
  state.headerError = null;
  state.obligations.clear();
  const status = $("#trust-status");
  if (state.trust) {
    try {
      ({ appHash: state.appHash, blockTime: state.blockTime } = await verifyHeaders(state.height));
      status.className = "badge ok";
      status.dataset.verified = "true";
      status.textContent = `headers verified to height ${state.height + 1}`;
    } catch (e) {
      state.headerError = e.message;
      status.className = "badge bad";
      status.dataset.verified = "false";
      status.textContent = "NOT VERIFIED: " + e.message;
    }
  }
  await Promise.all([loadMembers(), loadObligations("overdue", "#overdue-table"), loadObligations("open", "#open-table"), loadRecords(), loadSealed(), loadDirectory(), loadCases()]);
  await loadCharts();
  document.body.dataset.loaded = "true";
}

async function main() {
  // Filter values as the node's own OpenAPI document lists them.
  try {
    const doc = await api("/openapi.json");
    for (const p of doc.paths["/v1/records"].get.parameters) {
      if (p.name !== "kind" && p.name !== "sector") continue;
      for (const v of p.enum || []) if (v === v.toLowerCase()) $("#f-" + p.name).append(el("option", { value: v, text: v }));
    }
  } catch (e) {
    console.warn("no filter values: " + e.message);
  }
  $("#record-filter").addEventListener("submit", (ev) => { ev.preventDefault(); loadRecords().then(loadCharts); });
  $("#sealed-filter").addEventListener("submit", (ev) => { ev.preventDefault(); loadSealed(); });
  $("#disclosures-file").addEventListener("change", (ev) => { if (ev.target.files.length) checkDisclosures(ev.target.files[0]); });
  $("#trust-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    pinTrust($("#trust").value).then((ok) => ok && refresh());
  });
  const given = new URLSearchParams(location.search).get("trust") || localStorage.getItem("normledger-trust");
  if (given) {
    $("#trust").value = given;
    await pinTrust(given);
  }
  try {
    state.genesisJson = (await api("/v1/genesis")).genesisJson;
  } catch (e) {
    state.headerError = "no genesis: " + e.message;
  }
  try {
    await loadVerifier();
  } catch (e) {
    state.headerError = "the verifier did not load: " + e.message;
  }
  await refresh();
}

main().catch((e) => {
  document.body.dataset.loaded = "error";
  $("#chain").textContent = "error: " + e.message;
  console.error(e);
});
