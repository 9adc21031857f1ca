// The agent console: lists the queue and talks to channels/agent_console.py. User text is only ever
// inserted with textContent, never as HTML.
const api = `${window.CS_CONFIG.rasaUrl}/webhooks/agent_console`;
const $ = (id) => document.getElementById(id);
let token = sessionStorage.getItem("agentToken") || "";
let selected = null;

async function call(path, options = {}) {
  const response = await fetch(`${api}${path}`, {
    ...options,
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
  });
  if (response.status === 401) {
    $("status").textContent = "无权访问：令牌错误";
    throw new Error("unauthorized");
  }
  if (!response.ok) throw new Error(`${response.status}`);
  return response.json();
}

function minutes(seconds) {
  return seconds < 60 ? `${seconds}秒` : `${Math.floor(seconds / 60)}分钟`;
}

async function refreshQueue() {
  if (!token) return;
  const { queue } = await call("/queue");
  $("status").textContent = "";
  const list = $("queue");
  list.replaceChildren();
  for (const entry of queue) {
    const item = document.createElement("div");
    item.className = "queue-item" + (entry.conversation_id === selected ? " selected" : "");
    item.dataset.conversation = entry.conversation_id;
    const state = entry.status === "taken" ? `已接入（${entry.agent}）` : "等待中";
    item.textContent = `${entry.topic_title} · ${state} · 已等待${minutes(entry.waiting_seconds)}\n${entry.description}`;
    item.addEventListener("click", () => select(entry.conversation_id));
    list.appendChild(item);
  }
  if (queue.length === 0) list.textContent = "暂无排队会话";
}

async function refreshTranscript() {
  if (!selected) return;
  const { messages, paused } = await call(`/conversations/${encodeURIComponent(selected)}`);
  const box = $("transcript");
  box.replaceChildren();
  for (const message of messages) {
    const line = document.createElement("div");
    line.className = message.from;
    line.textContent = `${message.from === "user" ? "用户" : "客服"}：${message.text}`;
    box.appendChild(line);
  }
  box.scrollTop = box.scrollHeight;
  $("take").disabled = paused;
  for (const id of ["reply-text", "send", "close"]) $(id).disabled = !paused;
}

// Evidence the user uploaded (evidence/http.py on this page's own server). Files are fetched with the
// token and shown from blob: addresses, so no token is ever put in a URL.
const evidenceShown = new Map(); // file id -> its element, for the selected conversation

async function evidenceCall(path) {
  const response = await fetch(path, { headers: { Authorization: `Bearer ${token}` } });
  if (!response.ok) throw new Error(`${response.status}`);
  return response;
}

async function blobUrl(path) {
  return URL.createObjectURL(await (await evidenceCall(path)).blob());
}

function sizeLabel(bytes) {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MB` : `${Math.ceil(bytes / 1024)} KB`;
}

async function evidenceItem(file) {
  const figure = document.createElement("figure");
  figure.className = "evidence-card";
  figure.dataset.kind = file.kind;
  const poster = file.thumbnail_url ? await blobUrl(file.thumbnail_url) : "";
  if (file.kind === "video") {
    const video = document.createElement("video");
    video.controls = true;
    video.preload = "none";
    if (poster) video.poster = poster;
    const play = document.createElement("button");
    play.type = "button";
    play.className = "load-video";
    play.textContent = "加载并播放视频";
    play.addEventListener("click", async () => {
      play.disabled = true;
      video.src = await blobUrl(file.file_url);
      play.remove();
      video.play().catch(() => {});
    });
    figure.append(video, play);
  } else {
    const image = document.createElement("img");
    image.className = "thumb";
    image.alt = file.name;
    if (poster) image.src = poster;
    image.title = "点击查看原图";
    image.addEventListener("click", async () => {
      image.src = await blobUrl(file.file_url);
      image.classList.add("full");
    });
    figure.appendChild(image);
  }
  const caption = document.createElement("figcaption");
  const details = [file.ticket, sizeLabel(file.size)];
  if (file.duration) details.push(`${file.duration} 秒`);
  if (file.preview_note) details.push(file.preview_note);
  caption.textContent = `${file.name}\n${details.join(" · ")}${file.note ? `\n备注：${file.note}` : ""}`;
  figure.appendChild(caption);
  return figure;
}

async function refreshEvidence() {
  if (!selected || !token) return;
  const conversation = selected;
  const response = await evidenceCall(`/evidence/api/agent/conversations/${encodeURIComponent(conversation)}`);
  const { files } = await response.json();
  if (conversation !== selected) return;
  const box = $("evidence");
  for (const file of files) {
    if (evidenceShown.has(file.id)) continue;
    evidenceShown.set(file.id, null); // claimed before the await: the 2-second poll may come back
    const item = await evidenceItem(file);
    if (conversation !== selected) return;
    evidenceShown.set(file.id, item);
    box.appendChild(item);
  }
  if (files.length === 0) box.textContent = "暂无证据";
  else if (box.firstChild && box.firstChild.nodeType === Node.TEXT_NODE) box.firstChild.remove();
}

async function select(conversationId) {
  selected = conversationId;
  $("conversation-title").textContent = `会话 ${conversationId}`;
  evidenceShown.clear();
  $("evidence").replaceChildren();
  await refreshTranscript();
  await refreshQueue();
  await refreshEvidence().catch(() => {});
}

async function command(name, text = "", ticket = false) {
  await call(`/conversations/${encodeURIComponent(selected)}/${name}`, {
    method: "POST",
    body: JSON.stringify({ agent: $("agent").value, text, ticket }),
  });
  await refreshTranscript();
  await refreshQueue();
}

$("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  token = $("token").value;
  sessionStorage.setItem("agentToken", token);
  await refreshQueue().catch(() => {});
});
$("take").addEventListener("click", () => command("take"));
$("close").addEventListener("click", async () => {
  const withTicket = $("close-ticket").checked;
  await command("close", withTicket ? $("reply-text").value.trim() : "", withTicket);
  $("reply-text").value = "";
  $("close-ticket").checked = false;
});
$("send").addEventListener("click", async () => {
  const text = $("reply-text").value.trim();
  if (!text) return;
  await command("reply", text);
  $("reply-text").value = "";
});
$("reply-text").addEventListener("keydown", (event) => {
  if (event.key === "Enter") $("send").click();
});

setInterval(() => {
  refreshQueue().catch(() => {});
  refreshTranscript().catch(() => {});
  refreshEvidence().catch(() => {});
}, 2000);
refreshQueue().catch(() => {});
