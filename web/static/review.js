// The review page: the bot's misses for supervisors (channels/review_console.py), with the same log-in
// as the agent console (the session token in this tab's sessionStorage, sent as a bearer header). All
// text is inserted with textContent, never as HTML. Each miss is decided once: accept the bot's guess,
// correct it (intent from a search box, and aspect), out of scope, or skip; results are announced in an
// aria-live region and the focus moves to the next miss.
const base = window.CS_CONFIG.rasaUrl;
const api = `${base}/webhooks/review`;
const $ = (id) => document.getElementById(id);
let token = sessionStorage.getItem("agentToken") || "";
let options = null; // intents, aspects, reasons, topics

class Refused extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

async function call(path, init = {}) {
  const response = await fetch(`${api}${path}`, {
    ...init,
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
  });
  const body = await response.json().catch(() => ({}));
  if (response.status === 401) {
    loggedOut(body.error || "登录已过期，请重新登录");
    throw new Refused(body.error || "未登录", 401);
  }
  if (!response.ok) throw new Refused(body.error || `请求失败（${response.status}）`, response.status);
  return body;
}

function show(message) {
  $("status").textContent = message;
}

function announce(message) {
  $("announce").textContent = message;
}

function report(error) {
  if (!(error instanceof Refused) || error.status !== 401) show(error.message);
}

// --- log-in ----------------------------------------------------------------------------------------

function loggedOut(message = "") {
  token = "";
  sessionStorage.removeItem("agentToken");
  $("login").hidden = false;
  $("whoami").hidden = true;
  $("review").hidden = true;
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

// --- the list --------------------------------------------------------------------------------------

function titleOf(intent) {
  return intent ? `${intent.title}（${intent.name}）` : "—";
}

function aspectTitle(name) {
  const found = options.aspects.find((aspect) => aspect.name === name);
  return found ? found.title : name;
}

function percent(value) {
  return value === null || value === undefined ? "" : ` ${Math.round(value * 100)}%`;
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function term(list, label, value) {
  list.append(element("dt", "", label), element("dd", "", value));
}

function button(text, className, handler) {
  const node = element("button", className, text);
  node.type = "button";
  node.addEventListener("click", handler);
  return node;
}

function renderMiss(miss) {
  const card = element("article", "miss");
  card.dataset.event = miss.event_id;
  const textId = `miss-${miss.event_id}-text`;
  card.setAttribute("aria-labelledby", textId);
  const text = element("p", "miss-text");
  text.id = textId;
  text.textContent = miss.text;
  if (miss.count > 1) text.append(element("span", "count", ` ×${miss.count}`));
  const time = miss.at.slice(5, 16).replace("T", " ");
  const meta = element("p", "meta", `${time} · 会话 ${miss.conversation_id} · `);
  for (const reason of miss.reasons) meta.append(element("span", `tag tag-${reason.name}`, reason.title));

  const reading = element("dl", "reading");
  const aspectSource = miss.aspect_source === "nlu" ? `模型${percent(miss.aspect_confidence)}` : "词表";
  term(reading, "机器人读成", `${titleOf(miss.intent)}${percent(miss.confidence)} · 方面：${miss.aspect_title}（${aspectSource}）`);
  if (miss.ranking.length > 1) {
    term(reading, "其他可能", miss.ranking.slice(1).map((item) => `${item.title}${percent(item.confidence)}`).join("；"));
  }
  term(reading, "机器人的答复", miss.answer.length ? miss.answer.join("\n") : "（没有答复）");
  if (miss.chosen) term(reading, "用户随后选了", titleOf(options.intentsByName[miss.chosen]));
  card.append(text, meta, reading);

  if (miss.before.length || miss.after.length) {
    const details = element("details", "context");
    details.append(element("summary", "", "查看上下文（个人信息已隐藏）"));
    const list = element("ol");
    const line = (message, extra = "") =>
      list.append(element("li", `${message.from}${extra}`, `${message.from === "user" ? "用户" : "机器人"}：${message.text}`));
    miss.before.forEach((message) => line(message));
    line({ from: "user", text: miss.text }, " this");
    miss.answer.forEach((answer) => line({ from: "bot", text: answer }));
    miss.after.forEach((message) => line(message));
    details.append(list);
    card.append(details);
  }

  const blocked = Boolean(miss.held_out);
  const theirs = miss.claimed_by && !miss.mine;
  if (blocked) card.append(element("p", "note", `这句话属于测试集（${miss.held_out}），不能写入训练数据，只能跳过。`));
  if (theirs) card.append(element("p", "note", `${miss.claimed_by} 正在标注这句话。`));

  const actions = element("div", "actions");
  actions.setAttribute("role", "group");
  actions.setAttribute("aria-label", "处理这条消息");
  const guess = miss.guess ? options.intentsByName[miss.guess.name] : null;
  const guessAspect = guess && guess.aspect ? ` / ${miss.aspect_title}` : "";
  const accept = button(guess ? `采纳：${guess.title}${guessAspect}` : "采纳（机器人没有猜测）", "primary accept", () =>
    decide(card, miss, { decision: "accept" }),
  );
  accept.disabled = !guess || blocked || theirs;
  const correct = button("改为其他意图…", "correct", () => openEditor(card, miss));
  correct.disabled = blocked || theirs;
  const outOfScope = button("标为无关", "oos", () => decide(card, miss, { decision: "out_of_scope" }));
  outOfScope.disabled = blocked || theirs;
  const skip = button("跳过", "skip", () => decide(card, miss, { decision: "skip" }));
  skip.disabled = theirs;
  actions.append(accept, correct, outOfScope, skip);
  card.append(actions, editor(card, miss));
  return card;
}

function editor(card, miss) {
  const form = element("form", "editor");
  form.hidden = true;
  const intentId = `intent-${miss.event_id}`;
  const aspectId = `aspect-${miss.event_id}`;
  const hintId = `hint-${miss.event_id}`;
  const intentLabel = element("label", "", "正确的意图");
  intentLabel.htmlFor = intentId;
  const intent = element("input", "intent");
  intent.id = intentId;
  intent.setAttribute("list", "intent-options");
  intent.autocomplete = "off";
  intent.setAttribute("aria-describedby", hintId);
  const aspectLabel = element("label", "", "方面");
  aspectLabel.htmlFor = aspectId;
  const aspect = element("select", "aspect");
  aspect.id = aspectId;
  for (const option of options.aspects) aspect.append(new Option(option.title, option.name));
  aspect.value = miss.aspect || "none";
  const hint = element("p", "hint", "输入中文标题或英文名搜索，从列表中选择；方面只对问题类型和追问有效。");
  hint.id = hintId;
  intent.addEventListener("input", () => {
    const chosen = intentFrom(intent.value);
    aspect.disabled = Boolean(chosen) && !chosen.aspect;
  });
  const save = element("button", "primary", "保存标注");
  save.type = "submit";
  const cancel = button("取消", "cancel", () => closeEditor(card, miss, true));
  form.append(intentLabel, intent, aspectLabel, aspect, save, cancel, hint);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const chosen = intentFrom(intent.value);
    if (!chosen) {
      hint.textContent = "没有这个意图：请从列表中选择。";
      intent.setAttribute("aria-invalid", "true");
      intent.focus();
      return;
    }
    intent.removeAttribute("aria-invalid");
    const body = { decision: "correct", intent: chosen.name };
    if (chosen.aspect) body.aspect = aspect.value;
    decide(card, miss, body);
  });
  return form;
}

function intentFrom(value) {
  const typed = value.trim();
  const named = typed.match(/（([a-z_]+)）$/);
  const name = named ? named[1] : typed;
  return options.intents.find((intent) => intent.name === name || intent.title === typed) || null;
}

async function openEditor(card, miss) {
  try {
    await call(`/misses/${miss.event_id}/claim`, { method: "POST", body: "{}" });
  } catch (error) {
    report(error);
    if (error.status === 409) await refresh();
    return;
  }
  card.querySelector(".actions").hidden = true;
  const form = card.querySelector(".editor");
  form.hidden = false;
  const intent = form.querySelector(".intent");
  intent.value = miss.guess ? titleOf(options.intentsByName[miss.guess.name]) : "";
  intent.dispatchEvent(new Event("input")); // the aspect list follows the intent shown
  intent.focus();
  intent.select();
  announce(`正在标注「${miss.text}」：选择正确的意图和方面`);
}

async function closeEditor(card, miss, release) {
  card.querySelector(".editor").hidden = true;
  card.querySelector(".actions").hidden = false;
  card.querySelector(".correct").focus();
  if (!release) return;
  try {
    await call(`/misses/${miss.event_id}/release`, { method: "POST", body: "{}" });
    announce(`已取消标注「${miss.text}」，其他主管可以处理它`);
  } catch (error) {
    report(error);
  }
}

async function decide(card, miss, body) {
  let result;
  try {
    result = await call(`/misses/${miss.event_id}/label`, { method: "POST", body: JSON.stringify(body) });
  } catch (error) {
    report(error);
    if (error.status === 409) await refresh();
    return;
  }
  show("");
  const label = result.label;
  const what =
    label.decision === "skip"
      ? "已跳过"
      : `已标注为 ${options.intentsByName[label.intent].title}${label.aspect ? ` / ${aspectTitle(label.aspect)}` : ""}`;
  announce(`「${label.text}」${what}`);
  const next = card.nextElementSibling || card.parentElement.nextElementSibling?.querySelector(".miss");
  const group = card.parentElement;
  card.remove();
  if (!group.querySelector(".miss")) group.remove();
  updateCounts(-1);
  const target = next && next.isConnected ? next.querySelector("button:not([disabled])") : null;
  (target || $("misses")).focus();
}

let shownTotal = 0;
let reviewedTotal = 0;

function updateCounts(change) {
  shownTotal += change;
  reviewedTotal -= change;
  $("summary").textContent = `待复核 ${shownTotal} 条（同一句话只算一次），已复核 ${reviewedTotal} 条。`;
}

function fillFilters(perReason) {
  const reason = $("reason");
  const chosen = reason.value;
  reason.replaceChildren(new Option("全部原因", ""));
  for (const item of options.reasons) reason.append(new Option(`${item.title}（${perReason[item.name] || 0}）`, item.name));
  reason.value = chosen;
}

async function refresh() {
  const query = new URLSearchParams({ days: $("days").value });
  if ($("reason").value) query.set("reason", $("reason").value);
  if ($("topic").value) query.set("topic", $("topic").value);
  const listing = await call(`/misses?${query}`);
  fillFilters(listing.per_reason);
  shownTotal = listing.total;
  reviewedTotal = listing.reviewed;
  updateCounts(0);
  const box = $("misses");
  box.replaceChildren();
  for (const reason of options.reasons) {
    const misses = listing.misses.filter((miss) => miss.reason === reason.name);
    if (!misses.length) continue;
    const group = element("section", "group");
    const headingId = `group-${reason.name}`;
    group.setAttribute("aria-labelledby", headingId);
    const heading = element("h3", "", `${reason.title}（${misses.length}）`);
    heading.id = headingId;
    group.append(heading, ...misses.map(renderMiss));
    box.append(group);
  }
  if (!listing.misses.length) box.append(element("p", "empty", "没有待复核的消息。"));
}

$("filters").addEventListener("submit", (event) => {
  event.preventDefault();
  refresh().catch(report);
});
for (const id of ["reason", "topic", "days"]) $(id).addEventListener("change", () => refresh().catch(report));

// --- start -------------------------------------------------------------------------------------------

async function start() {
  try {
    options = await call("/options");
  } catch (error) {
    if (error.status === 403) {
      $("login").hidden = true;
      $("whoami").hidden = false;
      $("me-name").textContent = "";
      $("review").hidden = true;
      show(error.message);
    } else report(error);
    return;
  }
  options.intentsByName = Object.fromEntries(options.intents.map((intent) => [intent.name, intent]));
  $("intent-options").replaceChildren(...options.intents.map((intent) => new Option(titleOf(intent))));
  const topic = $("topic");
  topic.replaceChildren(new Option("全部类型", ""));
  for (const item of options.topics) topic.append(new Option(item.title, item.name));
  $("login").hidden = true;
  $("whoami").hidden = false;
  $("me-name").textContent = `${options.me.display_name}（主管）`;
  $("review").hidden = false;
  show("");
  await refresh();
}

if (token) start().catch(report);
else loggedOut();
