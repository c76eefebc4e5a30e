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
// words is an enum value as words: "clear and convincing".
const words = (v, prefix) => short(v, prefix).replaceAll("_", " ");
// hex is protojson bytes (base64) as lowercase hex.
function hex(b64) {
  try {
    return Array.from(atob(b64 || ""), (c) => c.charCodeAt(0).toString(16).padStart(2, "0")).join("");
  } catch (e) {
    return "";
  }
}
// tag is a small marker: EXERCISE, NEAR-MISS, digest matches...
const tag = (text, cls, attrs) => el("span", { class: "badge " + cls, ...(attrs || {}), text });

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

// provenObligation reads obligation id (with its proof) and verifies it;
// status is the HTTP status of a failed read (404: the node has none).
async function provenObligation(id) {
  if (!state.obligations.has(id)) {
    state.obligations.set(id, api(`/v1/obligations/${encodeURIComponent(id)}?height=${state.height}&prove=true`).then(
      (ans) => ({ ans, res: withHeader("verifyObligation", { id, answer: ans }) }),
      (e) => ({ ans: null, status: e.status, res: { ok: false, reason: `obligation ${shortId(id)}: ${e.message}` } }),
    ));
  }
  return state.obligations.get(id);
}

// recompute checks a figure of member's against the proven obligations it
// lists: each listed once (seen holds the ids already counted, shared by
// the figures that must not count one twice), every one must verify, be
// owed by member, have the status the figure counts it under, and be an
// exercise duty exactly when the figure counts exercise duties (real
// figures never count one).
async function recompute(member, ids, expect, exercise = false, seen = new Set()) {
  for (const id of ids) {
    if (seen.has(id)) return { ok: false, reason: `obligation ${shortId(id)} is counted twice` };
    seen.add(id);
    const { res } = await provenObligation(id);
    if (!res.ok) return { ok: false, reason: res.reason };
    const o = res.obligation || {};
    if (o.debtor !== member) return { ok: false, reason: `obligation ${shortId(id)} is owed by ${o.debtor || "no one"} in its proof, not ${member}` };
    const st = short(o.status, "OBLIGATION_STATUS_");
    if (!expect(st)) return { ok: false, reason: `obligation ${shortId(id)} is ${st} in its proof` };
    if (Boolean(o.exercise) !== exercise) {
      return { ok: false, reason: `obligation ${shortId(id)} is ${exercise ? "a real duty" : "an exercise duty"} in its proof, counted as ${exercise ? "exercise" : "real"}` };
    }
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
    c = (await api(`/v1/compliance/${encodeURIComponent(m.id)}?height=${state.height}`)).compliance;
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
  // Exercise duties, apart: never in the figures above.
  const ex = (c.exerciseObligations || []).filter((x) => Number(x.count || 0) > 0);
  if (ex.length) {
    overdue.append(el("div", { class: "exercise-note" }, tag("EXERCISE", "exercise", { "data-marker": "exercise" }),
      " apart: " + ex.map((x) => `${x.count} ${words(x.status, "OBLIGATION_STATUS_")}`).join(", ")));
  }
  const ta = c.timeToAcknowledge || {};
  ack.textContent = Number(ta.samples || 0) ? `${Math.round(Number(ta.medianSeconds || 0) / 60)} min (median of ${ta.samples})` : "—";
  if (!mres.ok) return;
  // The figures, recomputed from their proven inputs.
  const odIds = od.ids || [];
  let res = odIds.length === Number(od.count || 0) ? await recompute(m.id, odIds, (s) => s === "overdue") : { ok: false, reason: "the overdue count does not match the obligations it lists" };
  if (res.ok) {
    const ids = ot.obligationIds || [];
    let met = 0;
    res = ids.length === den ? await recompute(m.id, ids, (s) => { if (s === "met") met++; return ["met", "met_late", "overdue"].includes(s); }) : { ok: false, reason: "the on-time rate does not match the obligations it lists" };
    if (res.ok && met !== num) res = { ok: false, reason: `on-time rate: ${met} of the proven obligations were met on time, the node says ${num}` };
  }
  // One set across the exercise counts: a duty has one status, counted once.
  const exSeen = new Set();
  for (const x of ex) {
    if (!res.ok) break;
    const ids = x.obligationIds || [];
    const want = short(x.status, "OBLIGATION_STATUS_");
    res = ids.length === Number(x.count || 0) ? await recompute(m.id, ids, (s) => s === want, true, exSeen) : { ok: false, reason: "an exercise count does not match the obligations it lists" };
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

// loadObligations lists the obligations of one status: the proven real
// duties first, then the proven exercise duties (placed by exercise
// traffic) apart below them, each marked EXERCISE as its proof says: they
// never count in compliance. An obligation that does not verify goes in
// neither group: it is listed last, NOT VERIFIED, as the node's claim
// (never marked EXERCISE, whatever the node says), counted in neither
// total.
async function loadObligations(status, table) {
  const ans = await api(`/v1/obligations?status=${encodeURIComponent(status)}&height=${state.height}&prove=true&limit=200`);
  const tbody = $(table + " tbody");
  tbody.replaceChildren();
  // Each with its verification; the proven obligation when it verifies,
  // else the node's claim under its NOT VERIFIED badge.
  const rows = (ans.obligations || []).map((o, i) => {
    const res = withHeader("verifyObligation", { id: o.id, answer: { obligation: o, height: ans.height, proof: (ans.proofs || [])[i] } });
    return { o: (res.ok && res.obligation) || o, res };
  });
  const proven = rows.filter((x) => x.res.ok);
  const real = proven.filter((x) => !x.o.exercise), drills = proven.filter((x) => x.o.exercise);
  const unverified = rows.filter((x) => !x.res.ok);
  const byDue = (a, b) => (a.o.due < b.o.due ? -1 : 1);
  real.sort(byDue);
  drills.sort(byDue);
  const count = $(table + "-count");
  if (count) {
    count.textContent = `${real.length} real` + (drills.length ? `; ${drills.length} exercise, apart` : "") +
      (unverified.length ? `; ${unverified.length} NOT VERIFIED (counted in neither)` : "");
  }
  if (!real.length) tbody.append(el("tr", {}, el("td", { colspan: "6", class: "muted", text: `no verified real ${status} obligations` })));
  const row = ({ o, res }, group) => {
    const st = short(o.status, "OBLIGATION_STATUS_");
    const tr = el("tr", { "data-obligation": o.id, "data-group": group });
    const kind = el("td", { text: short(o.kind, "OBLIGATION_KIND_") });
    const due = el("td", {});
    if (group === "unverified") {
      // The node's claim: no status styling, no EXERCISE marker.
      tr.className = "unverified";
      due.textContent = `${when(o.due)} (the node says: ${words(o.status, "OBLIGATION_STATUS_") || "no status"})`;
    } else {
      tr.className = st + (group === "exercise" ? " exercise" : "");
      if (group === "exercise") kind.append(" ", tag("EXERCISE", "exercise", { "data-marker": "exercise", title: "placed by exercise traffic: never counts in compliance" }));
      if (st === "overdue") due.className = "status-overdue";
      due.textContent = when(o.due) + (st === "overdue" ? " (overdue)" : "");
    }
    tr.append(el("td", {}, el("code", { text: shortId(o.id) })), kind,
      el("td", { text: o.debtor }), el("td", { text: (o.creditors || []).join(", ") }), due, badge(res));
    return tr;
  };
  for (const x of real) tbody.append(row(x, "real"));
  if (drills.length) {
    tbody.append(el("tr", { class: "exercise-head" }, el("td", { colspan: "6", text: `Exercise duties (${drills.length}): drills, kept apart; they never count in compliance` })));
    for (const x of drills) tbody.append(row(x, "exercise"));
  }
  if (unverified.length) {
    tbody.append(el("tr", { class: "unverified-head" }, el("td", { colspan: "6", text: `NOT VERIFIED (${unverified.length}): the node's claims, which did not verify; counted neither as real nor as exercise duties` })));
    for (const x of unverified) tbody.append(row(x, "unverified"));
  }
  return rows.length;
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
    const ans = await api(`/v1/records/${encodeURIComponent(id)}?height=${state.height}&prove=true`);
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
      notice = (await api(`/v1/sealed/${encodeURIComponent(r.id)}?height=${state.height}`)).notice;
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
      ans = await api(`/v1/cases/${encodeURIComponent(listed.id)}?height=${state.height}&prove=true`);
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

// ---- collective statements -----------------------------------------------------------

// sha256Hex is SHA-256 of text (UTF-8) in hex, computed in this page; null
// where the page has no crypto.subtle (not a secure context: https or
// localhost).
async function sha256Hex(text) {
  if (!globalThis.crypto || !crypto.subtle) return null;
  const d = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, "0")).join("");
}

// checkStatement proves an adopt_statement proposal p (as the node lists
// it): its record, which gives the statement's title, text and digest as
// the proposer signed them, and its state and every elector's vote (or
// proven absence of one) at the page's height (verifyProposal). What the
// row shows of status and votes is the proven state, never the listing.
async function checkStatement(p) {
  // recordOk: the proposal record (the statement's title, text and
  // digest) verified, whatever became of the proposal's state.
  const out = { res: { ok: true }, recordOk: false, st: null, proposer: "", votes: [], proven: null };
  const fail = (reason) => ({ ...out, res: { ok: false, reason } });
  let ans;
  try {
    ans = await api(`/v1/records/${encodeURIComponent(p.id)}?height=${state.height}&prove=true`);
  } catch (e) {
    return fail(`proposal record ${shortId(p.id)}: ${e.message}`);
  }
  const rres = withHeader("verifyRecord", { id: p.id, answer: ans });
  // The statement as the verifier decoded it from the signed bytes; an
  // unverified answer shows the node's copy under NOT VERIFIED.
  const tx = ((rres.ok && rres.record) || ans.record || {}).decoded || {};
  const prop = ((tx.body || {}).record || {}).proposal || {};
  out.st = (prop.action || {}).adoptStatement || null;
  out.proposer = (tx.body || {}).signer || p.proposer;
  if (!rres.ok) return fail(rres.reason);
  out.recordOk = true;
  if (!out.st) return fail(`record ${shortId(p.id)} does not adopt a statement`);
  let pans;
  try {
    pans = await api(`/v1/proposals/${encodeURIComponent(p.id)}?height=${state.height}&prove=true`);
  } catch (e) {
    return fail(`proposal state: ${e.message}`);
  }
  const pres = withHeader("verifyProposal", { id: p.id, answer: pans });
  if (!pres.ok) return fail(`proposal state: ${pres.reason}`);
  out.proven = pres.proposal || {};
  if (out.proven.proposer !== out.proposer) return fail("the proven proposal state is not the proven proposal record's");
  for (const v of pres.votes || []) {
    out.votes.push(`${v.elector}: ${short(v.option, "VOTE_OPTION_")}`);
  }
  if (short(p.status, "PROPOSAL_STATUS_") !== short(out.proven.status, "PROPOSAL_STATUS_")) {
    return fail(`the node lists it ${short(p.status, "PROPOSAL_STATUS_")}; proven: ${short(out.proven.status, "PROPOSAL_STATUS_")}`);
  }
  return out;
}

async function loadStatements() {
  const tbody = $("#statements-table tbody");
  let props = [];
  try {
    for (const st of ["passed", "voting"]) {
      const a = await api(`/v1/proposals?status=${st}&height=${state.height}&limit=200`);
      props.push(...(a.proposals || []));
    }
  } catch (e) {
    tbody.replaceChildren(el("tr", {}, el("td", { colspan: "5", class: "reason", text: e.message })));
    return;
  }
  props = props.filter((p) => p.action === "GOV_ACTION_ADOPT_STATEMENT");
  tbody.replaceChildren();
  if (!props.length) tbody.append(el("tr", {}, el("td", { colspan: "5", class: "muted", text: "no collective statements" })));
  for (const p of props) {
    let { res, recordOk, st, proposer, votes, proven } = await checkStatement(p);
    const shown = proven || p;
    const what = el("td", { class: "statement" });
    if (st) {
      what.append(el("strong", { text: st.title || p.title || "" }), el("blockquote", { class: "statement-text", text: st.text || "" }));
      if ((st.normRefs || []).length) what.append(el("div", { class: "muted", text: "norms: " + st.normRefs.join(", ") }));
    } else {
      what.append(el("span", { class: "muted", text: p.title || "" }));
    }
    // The digest, checked here: SHA-256 of the text shown, of a verified
    // record only (the node's unverified copy proves nothing either way).
    const digest = el("td", { class: "statement-digest" });
    if (st && !recordOk) {
      digest.append(tag("digest not checked", "pending", { "data-digest": "unchecked", title: "the proposal record did not verify: its text and digest are the node's unproven copy" }));
    } else if (st) {
      const got = await sha256Hex(st.text || ""), want = hex(st.textDigest);
      if (got === null) {
        digest.append(tag("digest not checked", "pending", { "data-digest": "unchecked",
          title: "this page has no crypto.subtle (open it over https or from localhost) to hash the text itself; the ledger checked the text against its digest when it admitted the proposal, and the record is proven admitted" }));
      } else if (got === want) {
        digest.append(tag("digest matches", "ok", { "data-digest": "match" }), el("div", { class: "muted" }, el("code", { class: "digest", text: want })));
      } else {
        digest.append(tag("DIGEST MISMATCH", "bad", { "data-digest": "mismatch" }),
          el("div", { class: "reason" }, "SHA-256 of the text is ", el("code", { class: "digest", text: got }), ", its textDigest ", el("code", { class: "digest", text: want || "(none)" })));
        if (res.ok) res = { ok: false, reason: "the statement's text does not hash to its textDigest" };
      }
    }
    const status = short(shown.status, "PROPOSAL_STATUS_");
    const adoption = el("td", { class: "statement-adoption" },
      status === "passed" ? el("span", { class: res.ok ? "adopted" : "", text: `adopted ${when(shown.decidedAt)}` }) : el("span", { text: `${status}, voting until ${when(shown.deadline)}` }));
    if (votes.length) adoption.append(list(votes));
    const tr = el("tr", { "data-statement": p.id, "data-status": status });
    tr.append(what, el("td", {}, el("code", { text: proposer || "" }), el("div", { class: "muted" }, el("code", { text: shortId(p.id), title: p.id }), " ", when(p.createdAt))),
      adoption, digest, badge(res));
    if (res.ok) tr.lastChild.querySelector(".badge").title = "statement proven as signed; its state and every elector's vote proven at this height";
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
    st = (await api(`/v1/pings/${encodeURIComponent(r.id)}?height=${state.height}`)).status;
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
    const res = verifyListed(i);
    const kind = el("td", { text: short(r.kind, "RECORD_KIND_") });
    for (const m of recordMarkers(res)) kind.append(" ", m);
    tr.append(el("td", { text: r.seq }), el("td", { text: when(r.blockTime) }), kind,
      el("td", { text: r.author }), el("td", {}, open), badge(res));
    tbody.append(tr);
  });
  return recs;
}

const nearMiss = (d) => ["INCIDENT_OUTCOME_BLOCKED", "INCIDENT_OUTCOME_FAILED_ATTEMPT"].includes((d || {}).outcome);

// recordMarkers are a record's EXERCISE and NEAR-MISS markers, read only
// from the record as the verifier decoded it from the signed bytes: an
// unverified answer gets none.
function recordMarkers(res) {
  if (!res.ok) return [];
  const rec = (((res.record || {}).decoded || {}).body || {}).record || {};
  const out = [];
  if (rec.exercise) out.push(tag("EXERCISE", "exercise", { "data-marker": "exercise", title: "exercise traffic: its duties count apart, never in compliance" }));
  if (nearMiss(rec.incidentDisclosure)) {
    out.push(tag("NEAR-MISS", "near-miss", { "data-marker": "near-miss", title: `a near-miss: ${words(rec.incidentDisclosure.outcome, "INCIDENT_OUTCOME_")}` }));
  }
  return out;
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
  const facts = { kind: short(r.kind, "RECORD_KIND_"), author: r.author, signers: ((res.ok ? res.signers : r.signers) || []).join(", "), "committed at": `height ${r.height}, ${when(r.blockTime)}`, "ledger position": r.seq };
  for (const [k, v] of Object.entries(facts)) meta.append(el("dt", { text: k }), el("dd", { text: v }));
  // Show the record as the verifier decoded it from the signed bytes; an
  // unverified answer shows the node's copy under its NOT VERIFIED badge.
  const tx = (res.ok && res.record && res.record.decoded) || r.decoded || {};
  const rec = (tx.body && tx.body.record) || {};
  const markers = $("#detail-markers");
  markers.replaceChildren();
  for (const m of recordMarkers(res)) markers.append(" ", m);
  // The readable summary is of the verified record only: no tags,
  // co-signatures or reply dates are read from an unverified copy.
  const summary = res.ok ? recordSummary(r.id, rec, res.signers || []) :
    [el("p", { class: "reason", "data-summary": "unverified" }, tag("NOT VERIFIED", "bad"),
      " No summary: the record did not verify. The fields below are the node's copy, unproven.")];
  $("#detail-summary").replaceChildren(...summary);
  $("#detail-body").replaceChildren(...(summary.length ? [el("h4", { text: res.ok ? "Every field" : "Every field (the node's copy, NOT VERIFIED)" })] : []), renderValue(rec));
  showWithheld(i, res.ok ? rec : null);
  $("#record-detail").scrollIntoView();
}

// ---- readable summaries (docs/evidence.md) ----------------------------------------

// facts is a definition list of the entries that have a value.
function facts(entries) {
  const dl = el("dl", { class: "summary" });
  for (const [k, v] of entries) {
    if (v === undefined || v === null || v === "" || (v instanceof Element && v.matches("ul:empty"))) continue;
    dl.append(el("dt", { text: k }), el("dd", {}, v));
  }
  return dl;
}

const list = (items) => {
  const ul = el("ul", { class: "summary-list" });
  for (const x of items || []) ul.append(el("li", {}, x));
  return ul;
};
const idList = (ids) => list((ids || []).map((id) => el("code", { text: shortId(id), title: id })));

// coSigners says, for each member a record names as co-signing (its
// co-attributors, co-assessors), whether it signed the transaction: the
// signers are the verifier's, read from the signed transaction (the author
// first, then each co-signer).
function coSigners(members, signers) {
  const co = new Set((signers || []).slice(1));
  return list((members || []).map((m) => el("span", { "data-cosigner": m, "data-cosigned": co.has(m) ? "true" : "false" }, el("code", { text: m }), ": ",
    co.has(m) ? tag("co-signed the transaction", "ok") : tag("DID NOT CO-SIGN the transaction", "bad"))));
}

const dimensions = ["PHYSICAL", "PSYCHOLOGICAL", "ECONOMIC", "DIGITAL", "SOCIETAL", "INFORMATIONAL"];
const dimensionRank = (d) => dimensions.indexOf(short(d, "HARM_DIMENSION_").toUpperCase());
const orderRank = (o) => ["FIRST", "SECOND", "THIRD"].indexOf(short(o, "EFFECT_ORDER_").toUpperCase());

function estimateText(e, unit) {
  if (!e) return "not estimated";
  const n = (x) => Number(x || 0).toLocaleString("en");
  return `${n(e.best)} ${unit || ""} (${n(e.min)} to ${n(e.max)})`.replace("  ", " ");
}

function harmsTable(harms) {
  const sorted = [...(harms || [])].sort((a, b) => dimensionRank(a.dimension) - dimensionRank(b.dimension) || orderRank(a.order) - orderRank(b.order));
  const tbody = el("tbody");
  for (const h of sorted) {
    const hours = Number(h.durationHours || 0);
    tbody.append(el("tr", { "data-harm": short(h.dimension, "HARM_DIMENSION_") },
      el("td", { text: words(h.dimension, "HARM_DIMENSION_") }), el("td", { text: words(h.order, "EFFECT_ORDER_") + " order" }),
      el("td", { text: h.description || "" }), el("td", { text: estimateText(h.estimate, h.unit) }),
      el("td", { text: hours ? `${hours} h` : "unknown or not over" })));
  }
  return el("table", { class: "harms" }, el("thead", {}, el("tr", {}, ...["Dimension", "Order", "Harm", "Estimate (best, range)", "Duration"].map((t) => el("th", { text: t })))), tbody);
}

// obligationId is ledger.ObligationID: the lowercase hex of the first 16
// bytes of SHA-256("normledger/v1/obligation" 0x00 kind 0x00 source 0x00
// debtor), kind as its enum number in decimal; null where the page has no
// crypto.subtle.
async function obligationId(kind, source, debtor) {
  const h = await sha256Hex(`normledger/v1/obligation\x00${kind}\x00${source}\x00${debtor}`);
  return h && h.slice(0, 32);
}

const REPLY_ATTRIBUTION = 29; // OBLIGATION_KIND_REPLY_ATTRIBUTION

// fillReplyDuties lists, in ul, the reply duty attribution id placed on
// each party it names: the obligation at the id the ledger derives for it,
// read and proven here, which must be that party's reply to this record.
// Its due date and status are the proven obligation's. The lines are
// added at once (each "checking…"), then filled in.
async function fillReplyDuties(ul, id, attributed) {
  const parties = [...new Set(attributed.map((p) => p.party).filter(Boolean))];
  const lines = parties.map((party) => {
    const li = el("li", { "data-reply-duty": party }, el("code", { text: party }), ": ");
    const what = el("span", { class: "muted", text: "checking…" });
    li.append(what);
    ul.append(li);
    return { party, li, what };
  });
  for (const { party, li, what } of lines) {
    const set = (verified, ...kids) => {
      li.dataset.verified = verified;
      what.className = "";
      what.replaceChildren(...kids);
    };
    const oid = await obligationId(REPLY_ATTRIBUTION, id, party);
    if (!oid) {
      set("unchecked", tag("not checked", "pending", { title: "this page has no crypto.subtle (open it over https or from localhost) to derive the duty's id" }));
      continue;
    }
    const { res, status } = await provenObligation(oid);
    if (!res.ok && status === 404) {
      set("none", el("span", { class: "muted", text: "the node has no reply duty for it (not proven absent here; only a state member the attribution names, not one of its authors, owes one)" }));
      continue;
    }
    if (!res.ok) {
      set("false", tag("NOT VERIFIED", "bad", { title: res.reason || "" }), el("span", { class: "reason", text: " " + (res.reason || "") }));
      continue;
    }
    const o = res.obligation || {};
    if (short(o.kind, "OBLIGATION_KIND_") !== "reply_attribution" || o.sourceRecord !== id || o.debtor !== party) {
      set("false", tag("NOT VERIFIED", "bad"), el("span", { class: "reason", text: ` obligation ${shortId(oid)} is not ${party}'s reply to this attribution` }));
      continue;
    }
    const st = short(o.status, "OBLIGATION_STATUS_");
    const done = ["met", "met_late"].includes(st) ? ` ${when(o.statusAt)}` : "";
    set("true", `reply due ${when(o.due)}; ${words(o.status, "OBLIGATION_STATUS_")}${done}${o.exercise ? " (an exercise duty)" : ""} `,
      tag("proven", "ok", { title: `obligation ${oid}, proven at height ${state.height}` }));
    if (st === "overdue") what.classList.add("status-overdue");
  }
}

// recordSummary is what a reader needs of a record of the evidence kinds,
// in words, above the record's full fields: of record id, as the verifier
// decoded it from the signed bytes (rec), with the signers it read from the
// signed transaction. Only ever called for a verified record.
function recordSummary(id, rec, signers) {
  const out = [];
  if (rec.exercise) {
    out.push(el("p", { class: "exercise-note" }, tag("EXERCISE", "exercise"), " Exercise traffic: the duties it places are drills, counted apart and never in compliance."));
  }
  const inc = rec.incidentDisclosure;
  if (nearMiss(inc)) {
    out.push(el("p", { class: "near-miss-note" }, tag("NEAR-MISS", "near-miss"), ` Outcome: ${words(inc.outcome, "INCIDENT_OUTCOME_")}; the attack did not take effect.`));
  }
  const a = rec.attribution;
  if (a) {
    const hours = Number(a.replyWithinHours || 0) || 720;
    // Each named party's reply duty, and its due date, from the proven
    // obligation the ledger placed (never computed here).
    const replies = el("ul", { class: "summary-list reply-duties" });
    fillReplyDuties(replies, id, a.attributed || []).catch((e) => replies.append(el("li", { class: "reason", text: "reply duties: " + e.message })));
    out.push(el("h4", { text: `Attribution (${words(a.kind, "ATTRIBUTION_KIND_")})` }), facts([
      ["kind", words(a.kind, "ATTRIBUTION_KIND_")],
      ["standard of proof", words(a.standardOfProof, "STANDARD_OF_PROOF_")],
      ["legal basis", a.legalBasis],
      ["confidence", `${words(a.confidence, "CONFIDENCE_") || "unspecified"} (intent: ${words(a.intentConfidence, "CONFIDENCE_") || "unspecified"})`],
      ["incidents", idList(a.incidents)],
      ["attributed to", list((a.attributed || []).map((p) => el("span", {}, el("code", { text: p.party }), `: ${words(p.conduct, "CONDUCT_BASIS_") || "conduct basis unspecified"}`)))],
      ["co-attributors", coSigners(a.coAttributors, signers)],
      ["reply window", `${hours} hours${a.replyWithinHours ? "" : " (the default)"} from the record's block time`],
      ["reply duties", replies],
      ["evidence digest", a.evidenceDigest ? el("code", { class: "digest", text: hex(a.evidenceDigest) }) : "none"],
      ["evidence", list(a.evidence)],
      ["summary", a.summary],
    ]));
  }
  const d = rec.declaration;
  if (d) {
    out.push(el("h4", { text: `National declaration for ${d.year || "no year"}` }), facts([
      ["year", String(d.year || "")],
      ["doctrine", d.doctrineSummary],
      ["thresholds", list(d.thresholds)],
      ["organisation", list((d.organisation || []).map((b) => `${b.name}: ${b.role || ""}`))],
      ["terminology", list((d.terminology || []).map((t) => el("span", {}, el("b", { text: t.term }), `: ${t.definition || ""}`)))],
      ["strategy documents", list(d.strategyRefs)],
    ]));
  }
  const h = rec.harmAssessment;
  if (h && (h.harms || h.methodologyRef || h.coAssessors || h.dissents || h.vulnerableGroups || h.cascadeRefs)) {
    out.push(el("h4", { text: "Harm assessment" }), facts([
      ["status", words(h.status, "ASSESSMENT_STATUS_")],
      ["method", h.methodologyRef ? el("code", { text: shortId(h.methodologyRef), title: h.methodologyRef }) : ""],
      ["incidents", idList(h.subjectIncidents)],
      ["persons affected", h.personsAffected ? estimateText(h.personsAffected, "persons") : ""],
      ["causation confidence", words(h.causationConfidence, "CONFIDENCE_")],
      ["harms", (h.harms || []).length ? harmsTable(h.harms) : ""],
      ["vulnerable groups", list(h.vulnerableGroups)],
      ["cascades from", idList(h.cascadeRefs)],
      ["co-assessors", coSigners(h.coAssessors, signers)],
      ["dissents", list((h.dissents || []).map((x) => el("span", { "data-dissent": x.member }, el("code", { text: x.member }), `: “${x.statement || ""}”`)))],
    ]));
  }
  const m = rec.methodology;
  if (m) {
    out.push(el("h4", { text: `Method: ${m.name || ""} ${m.version || ""}` }), facts([
      ["name", m.name],
      ["version", m.version],
      ["document digest", m.documentDigest ? el("code", { class: "digest", text: hex(m.documentDigest) }) : ""],
      ["document", m.uri],
      ["summary", m.summary],
      ["dimensions", list((m.dimensions || []).map((x) => words(x, "HARM_DIMENSION_")))],
    ]));
  }
  return out;
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
  // As the node lists them (these listings are not proven): real duties
  // by the node's word, exercise duties counted apart.
  const statuses = [];
  let drills = 0;
  for (const s of ["open", "met", "met_late", "overdue", "waived"]) {
    const a = await api(`/v1/obligations?status=${s}&height=${state.height}&limit=200`);
    const obs = a.obligations || [];
    statuses.push([s, obs.filter((o) => !o.exercise).length]);
    drills += obs.length - statuses[statuses.length - 1][1];
  }
  bars($("#chart-status"), statuses, (l) => (l === "overdue" ? "overdue" : ""));
  $("#status-caption").textContent = "Obligations by status, as the node lists them, not verified (real duties" + (drills ? `; ${drills} exercise duties apart)` : ")");
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
  await Promise.all([loadMembers(), loadObligations("overdue", "#overdue-table"), loadObligations("open", "#open-table"), loadRecords(), loadSealed(), loadDirectory(), loadCases(), loadStatements()]);
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
  // Filters given in the address: a link to a filtered list, or the form
  // sent as a plain GET.
  const params = new URLSearchParams(location.search);
  for (const k of ["kind", "author", "sector"]) if (params.get(k)) $("#f-" + k).value = params.get(k);
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
