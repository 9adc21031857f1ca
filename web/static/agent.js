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

async function select(conversationId) {
  selected = conversationId;
  $("conversation-title").textContent = `会话 ${conversationId}`;
  await refreshTranscript();
  await refreshQueue();
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
}, 2000);
refreshQueue().catch(() => {});
