// clavis web page: chat with streaming (SSE over fetch), voice note and chat-export uploads.
// Plain JavaScript, no build step.
"use strict";

const $ = (id) => document.getElementById(id);
const chatHistory = [];
let controller = null;

$("api-url").textContent = location.origin + "/v1";
$("api-key").value = localStorage.getItem("clavis-key") || "";
$("api-key").addEventListener("change", () => {
  localStorage.setItem("clavis-key", $("api-key").value);
  loadModels();
});

function headers(json) {
  const h = {};
  const key = $("api-key").value.trim();
  if (key) h["Authorization"] = "Bearer " + key;
  if (json) h["Content-Type"] = "application/json";
  return h;
}

function setStatus(text, cls) {
  const s = $("status");
  s.textContent = text;
  s.className = "status " + (cls || "");
}

async function errorText(resp) {
  try {
    const body = await resp.json();
    return (body.error && body.error.message) || JSON.stringify(body);
  } catch (e) {
    return resp.status + " " + resp.statusText;
  }
}

async function loadModels() {
  try {
    const resp = await fetch("/v1/models", { headers: headers(false) });
    if (!resp.ok) { setStatus(await errorText(resp), "bad"); return; }
    const data = (await resp.json()).data;
    const sel = $("model");
    const keep = sel.value;
    sel.innerHTML = "";
    for (const m of data) {
      if (m.kind === "speech") continue;
      const o = document.createElement("option");
      o.value = o.textContent = m.id;
      sel.appendChild(o);
    }
    if (keep) sel.value = keep;
    setStatus("ready · " + data.length + " models", "ok");
  } catch (e) {
    setStatus("server unreachable", "bad");
  }
}

function addMessage(role, text) {
  const div = document.createElement("div");
  div.className = "msg " + role;
  div.textContent = text;
  $("messages").appendChild(div);
  $("messages").scrollTop = $("messages").scrollHeight;
  return div;
}

// Parse a server-sent-events stream; calls onData(obj) per "data:" line, stops at [DONE].
async function readSSE(resp, onData) {
  const reader = resp.body.getReader();
  const dec = new TextDecoder();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += dec.decode(value, { stream: true });
    let i;
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const event = buf.slice(0, i);
      buf = buf.slice(i + 2);
      for (const line of event.split("\n")) {
        if (!line.startsWith("data: ")) continue;
        const payload = line.slice(6);
        if (payload === "[DONE]") return;
        onData(JSON.parse(payload));
      }
    }
  }
}

async function send(text) {
  chatHistory.push({ role: "user", content: text });
  addMessage("user", text);
  const out = addMessage("assistant", "");
  out.classList.add("streaming");
  $("send").disabled = true;
  $("stop").disabled = false;
  controller = new AbortController();
  const t0 = performance.now();
  let pieces = 0, reply = "", usage = null, route = null;
  try {
    const resp = await fetch("/v1/chat/completions", {
      method: "POST", headers: headers(true), signal: controller.signal,
      body: JSON.stringify({ model: $("model").value, messages: chatHistory, stream: true,
                             max_tokens: 256, stream_options: { include_usage: true } }),
    });
    if (!resp.ok) throw new Error(await errorText(resp));
    await readSSE(resp, (chunk) => {
      if (chunk.error) throw new Error(chunk.error.message);
      if (chunk.clavis) route = chunk.clavis;
      if (chunk.usage) usage = chunk.usage;
      const c = chunk.choices && chunk.choices[0];
      if (c && c.delta && c.delta.content) {
        reply += c.delta.content;
        pieces += 1;
        out.textContent = reply;
        $("messages").scrollTop = $("messages").scrollHeight;
      }
    });
    chatHistory.push({ role: "assistant", content: reply });
    const secs = (performance.now() - t0) / 1000;
    let s = pieces + (pieces === 1 ? " piece" : " pieces") + " in " + secs.toFixed(1) + " s";
    if (route && route.action !== "local-llm") s += " · answered by the router (" + route.action + ")";
    else if (usage) s += " · prompt " + usage.prompt_tokens + " + reply " + usage.completion_tokens + " tokens";
    $("stats").textContent = s;
    if (route) {
      const why = document.createElement("span");
      why.className = "why";
      why.textContent = "router: " + route.route + " → " + route.action;
      why.title = (route.why || []).join("\n");
      out.appendChild(why);
    }
  } catch (e) {
    out.className = "msg error";
    out.textContent = e.name === "AbortError" ? (reply + " [stopped]") : ("Error: " + e.message);
    chatHistory.pop();
  } finally {
    out.classList.remove("streaming");
    out.classList.add("done");
    $("send").disabled = false;
    $("stop").disabled = true;
    controller = null;
  }
}

$("chat-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const text = $("chat-input").value.trim();
  if (!text || controller) return;
  $("chat-input").value = "";
  send(text);
});
$("chat-input").addEventListener("keydown", (ev) => {
  if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); $("chat-form").requestSubmit(); }
});
$("stop").addEventListener("click", () => controller && controller.abort());

// --- uploads ------------------------------------------------------------------------------
function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;",
                                                  '"': "&quot;", "'": "&#39;" }[c]));
}

// A small, safe Markdown subset: headings, bullets, bold, italics, code.
function markdown(md) {
  const lines = String(md || "").split("\n");
  let html = "", inList = false;
  const inline = (t) => escapeHtml(t).replace(/\*\*(.+?)\*\*/g, "<b>$1</b>")
    .replace(/`([^`]+)`/g, "<code>$1</code>").replace(/(^|\s)_(.+?)_(\s|$)/g, "$1<i>$2</i>$3");
  for (const line of lines) {
    const m = line.match(/^(#{1,3})\s+(.*)$/);
    const b = line.match(/^\s*[-*]\s+(.*)$/);
    if (!b && inList) { html += "</ul>"; inList = false; }
    if (m) html += "<h3>" + inline(m[2]) + "</h3>";
    else if (b) { if (!inList) { html += "<ul>"; inList = true; } html += "<li>" + inline(b[1]) + "</li>"; }
    else if (line.trim()) html += "<p>" + inline(line) + "</p>";
  }
  if (inList) html += "</ul>";
  return html;
}

async function upload(url, file, extra, target) {
  target.innerHTML = '<span class="busy">working on ' + escapeHtml(file.name) + "…</span>";
  const form = new FormData();
  form.append("file", file, file.name);
  for (const [k, v] of Object.entries(extra)) if (v) form.append(k, v);
  try {
    const resp = await fetch(url, { method: "POST", headers: headers(false), body: form });
    if (!resp.ok) throw new Error(await errorText(resp));
    const data = await resp.json();
    target.innerHTML = '<div class="md">' + markdown(data.markdown) + "</div>" +
      "<details><summary>raw JSON</summary><pre>" + escapeHtml(JSON.stringify(data, null, 2)) +
      "</pre></details>";
    target.classList.add("done");
  } catch (e) {
    target.innerHTML = '<span class="err">Error: ' + escapeHtml(e.message) + "</span>";
    target.classList.add("done");
  }
}

function dropZone(zoneId, inputId, handler) {
  const zone = $(zoneId), input = $(inputId);
  input.addEventListener("change", () => input.files[0] && handler(input.files[0]));
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    if (e.dataTransfer.files[0]) handler(e.dataTransfer.files[0]);
  });
}

dropZone("voice-drop", "voice-file", (f) => upload("/v1/voicenote", f, {}, $("voice-result")));
dropZone("export-drop", "export-file",
         (f) => upload("/v1/digest", f, { me: $("digest-me").value.trim() }, $("digest-result")));

loadModels();
