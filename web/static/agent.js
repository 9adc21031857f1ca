// The agent console: talks to channels/agent_console.py with the agent's session token (kept in this
// tab's sessionStorage, sent as a bearer header, never in a URL). Live updates come from a server-sent
// event stream read with fetch (EventSource cannot send the header). User text is only ever inserted
// with textContent, never as HTML. Conversation ids are any text the user's channel chose: they go into
// URLs through encodeURIComponent only (the server decodes them once). A supervisor also sees the record
// of who read which conversation.
const api = `${window.CS_CONFIG.rasaUrl}/webhooks/agent_console`;
const $ = (id) => document.getElementById(id);
const TITLE = document.title;
let token = sessionStorage.getItem("agentToken") || "";
let me = null;
let selected = null;
let selectedRefused = false; // the server refused the selected conversation: not asked again on events
let selectedLanguage = "zh";
let cannedChannels = [];
let unseen = 0; // console events about the queue or my chats while the tab was hidden

class Unauthorized extends Error {}

class Refused extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

async function call(path, options = {}) {
  const response = await fetch(`${api}${path}`, {
    ...options,
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
  });
  const body = await response.json().catch(() => ({}));
  if (response.status === 401 && !path.startsWith("/login")) {
    loggedOut(body.error || "登录已过期，请重新登录");
    throw new Unauthorized();
  }
  if (!response.ok) throw new Refused(body.error || `请求失败（${response.status}）`, response.status);
  return body;
}

function show(message) {
  $("status").textContent = message;
}

function report(error) {
  if (!(error instanceof Unauthorized)) show(error.message);
}

function minutes(seconds) {
  return seconds < 60 ? `${seconds}秒` : `${Math.floor(seconds / 60)}分钟`;
}

// --- log-in ----------------------------------------------------------------------------------------

function loggedIn(agent) {
  me = agent;
  $("login").hidden = true;
  $("whoami").hidden = false;
  $("queue-pane").hidden = false;
  $("conversation-pane").hidden = false;
  $("agent-name").textContent = agent.display_name;
  $("agent-role").textContent = agent.role === "supervisor" ? "（主管）" : "";
  $("max-chats").textContent = agent.max_chats;
  $("audit-pane").hidden = agent.role !== "supervisor";
  $("review-link").hidden = agent.role !== "supervisor"; // the review page (web/review.html), same log-in
  show("");
}

function loggedOut(message = "") {
  token = "";
  me = null;
  selected = null;
  sessionStorage.removeItem("agentToken");
  $("login").hidden = false;
  $("whoami").hidden = true;
  $("queue-pane").hidden = true;
  $("conversation-pane").hidden = true;
  $("audit-pane").hidden = true;
  $("review-link").hidden = true;
  show(message);
}

wireSession({
  token: () => token,
  setToken: (value) => {
    token = value;
  },
  start: () => start(),
  show,
  report,
  loggedOut,
});

// --- queue and notices -----------------------------------------------------------------------------

function notice() {
  $("badge").hidden = unseen === 0;
  $("badge").textContent = unseen;
  document.title = unseen ? `(${unseen}) 新消息 · ${TITLE}` : TITLE;
}

document.addEventListener("visibilitychange", () => {
  if (!document.hidden) {
    unseen = 0;
    notice();
  }
});

async function refreshQueue() {
  const { queue } = await call("/queue");
  const list = $("queue");
  list.replaceChildren();
  for (const entry of queue) {
    const item = document.createElement("button"); // a button: chosen with the keyboard as well
    item.type = "button";
    item.className = "queue-item" + (entry.conversation_id === selected ? " selected" : "");
    item.setAttribute("aria-current", String(entry.conversation_id === selected));
    if (entry.green_channel) item.classList.add("green");
    if (entry.mine) item.classList.add("mine");
    item.dataset.conversation = entry.conversation_id;
    const state =
      entry.status === "taken" ? (entry.mine ? "我的会话" : `${entry.agent_name}处理中`) : "等待中";
    const green = entry.green_channel ? ` · 绿色通道：${entry.green_channel}` : "";
    item.textContent = `${entry.topic_title} · ${state} · 已等待${minutes(entry.waiting_seconds)}${green}\n${entry.description}`;
    item.addEventListener("click", () => select(entry.conversation_id).catch(report));
    list.appendChild(item);
  }
  if (queue.length === 0) list.textContent = "暂无排队会话";
  const mine = queue.filter((entry) => entry.mine).length;
  $("open-chats").textContent = mine;
}

async function refreshColleagues() {
  const { agents } = await call("/agents");
  const select = $("transfer-to");
  const chosen = select.value;
  select.replaceChildren(new Option("转交给在线同事…", ""));
  for (const agent of agents) {
    if (agent.username === me.username) continue;
    const full = agent.open_chats >= agent.max_chats;
    const option = new Option(`${agent.display_name}（${agent.open_chats}/${agent.max_chats}）`, agent.username);
    option.disabled = full;
    select.appendChild(option);
  }
  select.value = chosen;
}

// --- the selected conversation -----------------------------------------------------------------------

function term(list, label, value) {
  const dt = document.createElement("dt");
  dt.textContent = label;
  const dd = document.createElement("dd");
  dd.textContent = value;
  list.append(dt, dd);
}

function renderContext(context) {
  const list = $("context");
  list.replaceChildren();
  term(list, "问题类型", context.topic_title || "未识别");
  term(list, "语言", context.language === "en" ? "英语" : "中文");
  term(list, "用户最初的话", context.first_words || "—");
  if (context.problem) term(list, "问题描述", context.problem);
  term(list, "未解决的机器人回答", context.unhelpful_answer.length ? context.unhelpful_answer.join("\n") : "—");
  const tickets = context.tickets.map(
    (ticket) => `${ticket.number} · ${ticket.status === "closed" ? "已办结" : "处理中"} · 证据${ticket.evidence}个`
  );
  term(list, "工单", tickets.length ? tickets.join("\n") : "无");
  const ratings = context.ratings.map(
    (rating) => `${rating.of === "agent" ? `人工（${rating.agent}）` : "智能客服"} ${rating.score}/5`
  );
  term(list, "历史评分", ratings.length ? ratings.join("；") : "无");
}

function renderNotes(notes) {
  const box = $("notes");
  box.replaceChildren();
  for (const note of notes) {
    const line = document.createElement("div");
    line.className = "note";
    line.textContent = `${note.author}（${note.at.slice(11, 16)}）：${note.text}`;
    box.appendChild(line);
  }
  if (notes.length === 0) box.textContent = "暂无备注";
}

function refusedConversation(message) {
  for (const id of ["transcript", "context", "notes", "evidence"]) $(id).replaceChildren();
  evidenceShown.clear();
  $("owner").textContent = message;
  $("masked").hidden = true;
  $("take").disabled = true;
  for (const id of ["reply-text", "send", "close", "transfer", "transfer-to"]) $(id).disabled = true;
}

async function refreshConversation() {
  if (!selected) return;
  const asked = selected;
  let conversation;
  try {
    conversation = await call(`/conversations/${encodeURIComponent(asked)}`);
  } catch (error) {
    if (!(error instanceof Refused) || error.status !== 403 || asked !== selected) throw error;
    selectedRefused = true;
    return refusedConversation(error.message);
  }
  if (conversation.conversation_id !== selected) return;
  selectedRefused = false;
  $("masked").hidden = !conversation.masked;
  const box = $("transcript");
  box.replaceChildren();
  for (const message of conversation.messages) {
    const line = document.createElement("div");
    line.className = message.from;
    line.textContent = `${message.from === "user" ? "用户" : "客服"}：${message.text}`;
    box.appendChild(line);
  }
  box.scrollTop = box.scrollHeight;
  renderContext(conversation.context);
  renderNotes(conversation.notes);
  if (conversation.context.language !== selectedLanguage) {
    selectedLanguage = conversation.context.language;
    await loadCanned();
  }
  const mine = conversation.mine;
  $("owner").textContent = conversation.agent ? (mine ? "您正在处理此会话" : "其他客服正在处理此会话，您不能回复") : "等待接入";
  $("take").disabled = Boolean(conversation.agent);
  for (const id of ["reply-text", "send", "close", "transfer", "transfer-to"]) $(id).disabled = !mine;
}

async function select(conversationId) {
  selected = conversationId;
  selectedRefused = false;
  $("conversation-title").textContent = `会话 ${conversationId}`;
  evidenceShown.clear();
  $("evidence").replaceChildren();
  await refreshConversation();
  await refreshQueue();
  await refreshColleagues();
  await refreshEvidence().catch(() => {});
}

async function command(name, body = {}) {
  try {
    await call(`/conversations/${encodeURIComponent(selected)}/${name}`, {
      method: "POST",
      body: JSON.stringify(body),
    });
    show("");
    return true;
  } catch (error) {
    report(error);
    return false;
  } finally {
    await refreshConversation().catch(report);
    await refreshQueue().catch(report);
  }
}

$("take").addEventListener("click", () => command("take"));
$("send").addEventListener("click", async () => {
  const text = $("reply-text").value.trim();
  if (text && (await command("reply", { text }))) $("reply-text").value = "";
});
$("reply-text").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) {
    event.preventDefault();
    $("send").click();
  }
});
$("transfer").addEventListener("click", async () => {
  const to = $("transfer-to").value;
  if (!to) return show("请选择一位在线同事");
  await command("transfer", { to });
  await refreshColleagues().catch(report);
});
$("close").addEventListener("click", async () => {
  const ticket = $("close-ticket").checked;
  if (await command("close", { text: ticket ? $("reply-text").value.trim() : "", ticket })) {
    $("reply-text").value = "";
    $("close-ticket").checked = false;
  }
});
$("note-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = $("note-text").value.trim();
  if (text && (await command("notes", { text }))) $("note-text").value = "";
});

// --- canned facts: a channel's line from knowledge/, inserted where the cursor is -------------------

async function loadCanned() {
  const { channels } = await call(`/canned?language=${selectedLanguage}`);
  cannedChannels = channels;
  const select = $("canned-channel");
  const chosen = select.value;
  select.replaceChildren(new Option("插入渠道信息…", ""));
  for (const channel of channels) select.appendChild(new Option(channel.name, channel.channel));
  select.value = chosen;
  renderCanned();
}

function renderCanned() {
  const box = $("canned-facts");
  box.replaceChildren();
  const channel = cannedChannels.find((entry) => entry.channel === $("canned-channel").value);
  for (const fact of channel ? channel.facts : []) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "canned-fact";
    button.dataset.aspect = fact.aspect;
    button.textContent = fact.label;
    button.title = fact.text;
    button.addEventListener("click", () => insertFact(fact.text));
    box.appendChild(button);
  }
}

function insertFact(text) {
  const box = $("reply-text");
  if (box.disabled) return show("请先接入该会话");
  const start = box.selectionStart ?? box.value.length;
  const end = box.selectionEnd ?? box.value.length;
  box.value = box.value.slice(0, start) + text + box.value.slice(end);
  box.focus();
  box.selectionStart = box.selectionEnd = start + text.length;
}

$("canned-channel").addEventListener("change", renderCanned);

// --- live: server-sent events read from a fetch stream ----------------------------------------------

let lastEventId = "";

async function listen() {
  while (token) {
    try {
      const headers = { Authorization: `Bearer ${token}` };
      if (lastEventId) headers["Last-Event-ID"] = lastEventId;
      const response = await fetch(`${api}/events`, { headers });
      if (response.status === 401) return loggedOut("登录已过期，请重新登录");
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          handleEvent(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
        }
      }
    } catch (error) {
      await new Promise((resolve) => setTimeout(resolve, 2000)); // server restarting: try again
    }
  }
}

function handleEvent(block) {
  const fields = {};
  for (const line of block.split("\n")) {
    const colon = line.indexOf(":");
    if (colon > 0) fields[line.slice(0, colon)] = line.slice(colon + 1).trimStart();
  }
  if (fields.id) lastEventId = fields.id;
  if (fields.event === "ended") return loggedOut("您已退出登录或账号已停用，请重新登录");
  if (fields.event !== "console" || !fields.data) return;
  const event = JSON.parse(fields.data);
  const aboutMe = event.agent === me?.username;
  if (event.kind === "queued" || (event.kind === "message" && aboutMe) || (event.kind === "transferred" && aboutMe)) {
    if (document.hidden || event.conversation_id !== selected) {
      unseen += 1;
      notice();
    }
  }
  if (event.kind === "left") {
    // The user stopped waiting (said so, or went silent): gone from the queue, said where it is open.
    const at = new Date().toLocaleTimeString("zh-CN", { hour: "2-digit", minute: "2-digit" });
    if (event.conversation_id === selected) show(`该用户已于 ${at} 离开排队`);
  }
  refreshQueue().catch(report);
  refreshColleagues().catch(report);
  if (me?.role === "supervisor" && !$("audit-pane").hidden) refreshAudit().catch(report);
  // A refused conversation is asked again only when it may have become readable: queued, or given to me.
  const readableNow = !selectedRefused || event.kind === "queued" || aboutMe;
  if (event.conversation_id === selected && readableNow) {
    refreshConversation().catch(report);
    if (event.kind === "evidence") refreshEvidence().catch(() => {});
  }
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
    image.tabIndex = 0; // Enter shows the original, as a click does
    image.addEventListener("keydown", (event) => {
      if (event.key === "Enter") image.click();
    });
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
    evidenceShown.set(file.id, null); // claimed before the await: a second refresh may come back first
    const item = await evidenceItem(file);
    if (conversation !== selected) return;
    evidenceShown.set(file.id, item);
    box.appendChild(item);
  }
  if (files.length === 0) box.textContent = "暂无证据";
  else if (box.firstChild && box.firstChild.nodeType === Node.TEXT_NODE) box.firstChild.remove();
}

// --- supervisors: who read which conversation ----------------------------------------------------------

async function refreshAudit() {
  const conversation = $("audit-conversation").value.trim();
  const query = conversation ? `&conversation_id=${encodeURIComponent(conversation)}` : "";
  const { reads } = await call(`/audit/reads?limit=50${query}`);
  const body = $("audit").tBodies[0];
  body.replaceChildren();
  for (const read of reads) {
    const row = body.insertRow();
    const cells = [
      read.at.slice(0, 19).replace("T", " "),
      read.agent,
      read.role === "supervisor" ? "主管" : "客服",
      read.conversation_id,
      read.granted ? (read.unmasked ? "已查看（原文）" : "已查看（已隐藏个人信息）") : "已拒绝",
    ];
    for (const text of cells) row.insertCell().textContent = text;
    if (!read.granted) row.cells[4].className = "refused";
  }
}

$("audit-form").addEventListener("submit", (event) => {
  event.preventDefault();
  refreshAudit().catch(report);
});

// --- start -------------------------------------------------------------------------------------------

async function start() {
  const { agent } = await call("/me");
  loggedIn(agent);
  await Promise.all([refreshQueue(), refreshColleagues(), loadCanned()]);
  if (agent.role === "supervisor") await refreshAudit();
  listen();
}

if (token) start().catch(report);
else loggedOut();
