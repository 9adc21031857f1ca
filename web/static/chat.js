// The chat page: the rasa-webchat widget against the Rasa server's socketio channel, and what the page
// adds to it.
// - Fast: each bubble is shown as soon as it arrives (no "typing" delay that grows with its length).
// - In order: a message sent while the previous reply is still arriving is held until the server says
//   the reply has ended (`bot_turn_end`, channels/widget.py), so every reply stays under its question.
// - Usable by everyone: every control has a name, quick replies work with the keyboard, new bot messages
//   are announced (an aria-live region), links for phone numbers and e-mails call or write directly.
// - 长辈模式 (elder mode): large type, high contrast, big targets, at most two buttons per reply, replies
//   read aloud. Switched in the widget's header or on the page, remembered, or asked with ?mode=elder.
// - Voice input where the browser offers speech recognition: what was heard goes into the input.
(function () {
  "use strict";

  const MODE_KEY = "cs-chat-mode";
  const REPLY_WAIT_MS = 8000; // a held message goes anyway if the end of a reply never comes
  const SHOW_WAIT_MS = 1000; // ... or if the reply's last bubble is not drawn
  const ANNOUNCED_KEPT = 6; // messages kept in the live region
  const Recognition = window.SpeechRecognition || window.webkitSpeechRecognition;
  const speech = "speechSynthesis" in window ? window.speechSynthesis : null;

  // --- the mode --------------------------------------------------------------------------------------

  function initialMode() {
    const asked = new URLSearchParams(location.search).get("mode");
    if (asked === "elder" || asked === "normal") {
      remember(asked);
      return asked;
    }
    try {
      return localStorage.getItem(MODE_KEY) === "elder" ? "elder" : "normal";
    } catch (error) {
      return "normal";
    }
  }

  function remember(mode) {
    try {
      localStorage.setItem(MODE_KEY, mode);
    } catch (error) {
      // private browsing without storage: the mode lasts as long as the page
    }
  }

  // Sent with every message (the socketio channel reads it as the message's metadata). The widget keeps
  // this very object, so changing its `mode` changes what the next message says.
  const customData = { mode: initialMode() };

  function elder() {
    return customData.mode === "elder";
  }

  function setMode(mode) {
    customData.mode = mode;
    remember(mode);
    document.documentElement.classList.toggle("elder", elder());
    document.querySelectorAll(".elder-switch").forEach((button) => {
      button.setAttribute("aria-pressed", String(elder()));
    });
    if (!elder() && speech) speech.cancel();
    announce(elder() ? "已开启长辈模式：大字，回复会读出来。" : "已关闭长辈模式。", "zh-CN");
    patch();
  }

  // --- language, plain text, announcing and reading aloud ----------------------------------------------

  let conversationLanguage = "zh-CN";

  function languageOf(text) {
    const chinese = (text.match(/[\u3400-\u9fff]/g) || []).length;
    const englishWords = (text.match(/[A-Za-z]{2,}/g) || []).length;
    return englishWords > chinese ? "en" : "zh-CN";
  }

  function plain(text) {
    return text
      .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1") // markdown links: their text
      .replace(/→/g, "，")
      .replace(/[▸☎✉•*_#`【】]/g, " ")
      .replace(/[ \t]+/g, " ")
      .trim();
  }

  function announce(text, lang) {
    const region = document.getElementById("chat-announcer");
    if (!region || !text) return;
    const line = document.createElement("p");
    line.lang = lang;
    line.textContent = text;
    region.appendChild(line);
    while (region.childElementCount > ANNOUNCED_KEPT) region.firstElementChild.remove();
  }

  function readAloud(text, lang) {
    if (!speech || !elder() || !text) return;
    const utterance = new SpeechSynthesisUtterance(text);
    utterance.lang = lang;
    utterance.rate = 0.9;
    speech.speak(utterance);
  }

  function onBotMessage(message) {
    const text = plain((message && message.text) || "");
    if (!text) return;
    unshown += 1;
    clearTimeout(showTimer);
    showTimer = setTimeout(notDrawn, SHOW_WAIT_MS);
    const lang = languageOf(text);
    conversationLanguage = lang;
    announce(text, lang);
    readAloud(text, lang);
  }

  // --- replies in order ------------------------------------------------------------------------------

  let awaiting = 0; // messages sent whose reply has not ended yet
  let unshown = 0; // bot messages received that the widget has not drawn yet (it draws one at a time)
  let shownCount = 0;
  let waitTimer = null;
  let showTimer = null;
  let releasing = false;
  const held = []; // {text} typed, or {reply} clicked, while a reply was still arriving

  function busy() {
    return awaiting > 0 || unshown > 0 || held.length > 0;
  }

  function expectReply() {
    awaiting += 1;
    clearTimeout(waitTimer);
    waitTimer = setTimeout(replyEnded, REPLY_WAIT_MS, true);
  }

  function replyEnded(all) {
    awaiting = all ? 0 : Math.max(0, awaiting - 1);
    if (awaiting > 0) return;
    clearTimeout(waitTimer);
    releaseNext();
  }

  function notDrawn() {
    unshown = 0; // a message the widget did not draw as a bubble: wait for it no longer
    releaseNext();
  }

  function countShown() {
    const bubbles = document.querySelectorAll(".rw-response");
    const count = Array.from(bubbles).filter((bubble) => !bubble.closest(".rw-typing-indication")).length;
    if (count > shownCount) unshown = Math.max(0, unshown - (count - shownCount));
    shownCount = count;
  }

  // The next held message goes once the reply before it has ended and is all on screen.
  function releaseNext() {
    if (awaiting > 0 || unshown > 0 || held.length === 0) return;
    const next = held.shift();
    releasing = true;
    try {
      if (next.reply) {
        if (next.reply.isConnected) next.reply.click();
        else releaseNext(); // the choice is gone: go on with the rest
      } else if (!submitText(next.text)) {
        held.unshift(next);
      }
    } finally {
      releasing = false;
    }
  }

  function setInputValue(input, value) {
    const setter = Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, "value").set;
    setter.call(input, value);
    input.dispatchEvent(new Event("input", { bubbles: true }));
  }

  // Sends `text` through the widget's own form, so it is shown as the user's message; what the user
  // is typing meanwhile stays in the input.
  function submitText(text) {
    const form = document.querySelector("form.rw-sender");
    if (!form) return false;
    const input = form.elements.message;
    const draft = input.value;
    setInputValue(input, text);
    const wasReleasing = releasing;
    releasing = true;
    try {
      form.dispatchEvent(new Event("submit", { cancelable: true }));
    } finally {
      releasing = wasReleasing;
    }
    setInputValue(input, draft);
    return true;
  }

  // Every message the widget sends (typed, a quick reply, the first greeting) waits for its reply.
  function watchSocket() {
    const socket = this; // socket.io calls its listeners with the socket as `this`
    awaiting = 0;
    if (socket.csWatched) return;
    socket.csWatched = true;
    const emit = socket.emit;
    socket.emit = function (event, ...args) {
      if (event === "user_uttered") expectReply();
      return emit.call(this, event, ...args);
    };
  }

  window.addEventListener(
    "submit",
    (event) => {
      const form = event.target;
      if (releasing || !(form instanceof HTMLFormElement) || !form.classList.contains("rw-sender")) return;
      const input = form.elements.message;
      const text = input.value.trim();
      if (!text || !busy()) return;
      event.preventDefault();
      event.stopImmediatePropagation();
      held.push({ text });
      setInputValue(input, "");
    },
    true
  );

  window.addEventListener(
    "click",
    (event) => {
      const reply = event.target instanceof Element && event.target.closest("div.rw-reply");
      if (!reply || releasing || !busy()) return;
      event.preventDefault();
      event.stopImmediatePropagation();
      held.push({ reply });
    },
    true
  );

  // --- names, keyboard, and the page's own controls inside the widget ---------------------------------

  function setAttributes(element, attributes) {
    for (const [name, value] of Object.entries(attributes)) {
      if (element.getAttribute(name) !== value) element.setAttribute(name, value);
    }
  }

  function elderSwitch() {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "elder-switch cs-header-switch";
    button.textContent = "长辈模式";
    button.setAttribute("aria-pressed", String(elder()));
    return button;
  }

  function micButton() {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "cs-mic";
    button.setAttribute("aria-label", "语音输入");
    button.setAttribute("aria-pressed", "false");
    button.title = "语音输入：说完后检查文字，再按发送";
    button.innerHTML =
      '<svg viewBox="0 0 24 24" width="22" height="22" aria-hidden="true" focusable="false">' +
      '<path d="M12 15a3 3 0 0 0 3-3V6a3 3 0 0 0-6 0v6a3 3 0 0 0 3 3zm5-3a5 5 0 0 1-10 0H5a7 7 0 0 0 6 ' +
      '6.9V21h2v-2.1a7 7 0 0 0 6-6.9z"/></svg>';
    return button;
  }

  // At most two buttons a reply in the elder mode: the reply's first (its most specific step) and its
  // last (转人工 wherever the bot offers it).
  function trimButtons() {
    document.querySelectorAll(".rw-group-message.rw-from-response").forEach((group) => {
      const buttons = Array.from(group.querySelectorAll(".rw-reply"));
      buttons.forEach((button, index) => {
        const extra = buttons.length > 2 && index > 0 && index < buttons.length - 1;
        button.classList.toggle("cs-extra-choice", extra);
      });
    });
  }

  function patch() {
    const launcher = document.querySelector(".rw-launcher");
    const open = Boolean(document.querySelector(".rw-conversation-container"));
    if (launcher) {
      const unread = launcher.querySelector(".rw-unread-count-pastille");
      const count = unread ? unread.textContent.trim() : "";
      setAttributes(launcher, {
        "aria-label": open ? "关闭在线客服窗口" : count ? `打开在线客服，${count} 条新消息` : "打开在线客服",
        "aria-expanded": String(open),
      });
    }
    document.querySelectorAll(".rw-close-button").forEach((button) => {
      setAttributes(button, { "aria-label": "关闭在线客服窗口" });
      button.querySelectorAll("img").forEach((image) => setAttributes(image, { alt: "" }));
    });
    const header = document.querySelector(".rw-header");
    if (header && !header.querySelector(".elder-switch")) header.appendChild(elderSwitch());
    const messages = document.querySelector(".rw-messages-container");
    if (messages) setAttributes(messages, { role: "region", "aria-label": "对话记录", tabindex: "0" });
    document.querySelectorAll("div.rw-reply").forEach((reply) => {
      setAttributes(reply, { role: "button", tabindex: "0" });
    });
    document.querySelectorAll(".rw-message-text").forEach((bubble) => {
      if (bubble.dataset.csLang) return;
      bubble.dataset.csLang = languageOf(bubble.textContent);
      if (bubble.dataset.csLang === "en") bubble.setAttribute("lang", "en");
    });
    document.querySelectorAll('.rw-message-text a[href^="tel:"], .rw-message-text a[href^="mailto:"]').forEach(
      (link) => link.removeAttribute("target") // calls and mails open the phone or mail app, not a tab
    );
    const form = document.querySelector("form.rw-sender");
    if (form) {
      setAttributes(form.elements.message, { "aria-label": "输入您的问题" });
      const send = form.querySelector(".rw-send");
      if (send) {
        setAttributes(send, { "aria-label": "发送" });
        send.querySelectorAll("svg").forEach((icon) => setAttributes(icon, { "aria-hidden": "true" }));
        if (Recognition && !form.querySelector(".cs-mic")) form.insertBefore(micButton(), send);
      }
    }
    trimButtons();
    countShown();
    releaseNext();
  }

  // --- voice input -----------------------------------------------------------------------------------

  let listening = null;

  function listen(button) {
    if (listening) {
      listening.stop();
      return;
    }
    const recognition = new Recognition();
    recognition.lang = conversationLanguage === "en" ? "en-US" : "zh-CN";
    recognition.interimResults = false;
    recognition.maxAlternatives = 1;
    recognition.onresult = (event) => {
      const heard = Array.from(event.results)
        .map((result) => result[0].transcript)
        .join("")
        .trim();
      const input = document.querySelector(".rw-new-message");
      if (!heard || !input) return;
      setInputValue(input, heard);
      input.focus();
      announce(`听到：${heard}。请检查后按回车发送。`, "zh-CN");
    };
    recognition.onerror = (event) => {
      if (event.error !== "aborted") announce("没有听清，请再说一次或直接输入。", "zh-CN");
    };
    recognition.onend = () => {
      listening = null;
      button.setAttribute("aria-pressed", "false");
      button.classList.remove("listening");
    };
    listening = recognition;
    button.setAttribute("aria-pressed", "true");
    button.classList.add("listening");
    recognition.start();
  }

  // --- events ----------------------------------------------------------------------------------------

  document.addEventListener("click", (event) => {
    const target = event.target instanceof Element ? event.target : null;
    if (!target) return;
    if (target.closest(".elder-switch")) setMode(elder() ? "normal" : "elder");
    const mic = target.closest(".cs-mic");
    if (mic) listen(mic);
    if (target.closest(".rw-close-button")) {
      setTimeout(() => document.querySelector(".rw-launcher")?.focus(), 0);
    }
  });

  // Quick replies are <div>s in the widget: Enter and Space choose them, then the input has the focus.
  document.addEventListener("keydown", (event) => {
    const reply = event.target instanceof Element && event.target.closest("div.rw-reply");
    if (reply && (event.key === "Enter" || event.key === " ")) {
      event.preventDefault();
      reply.click();
      setTimeout(() => document.querySelector(".rw-new-message")?.focus(), 0);
    } else if (event.key === "Escape" && speech) {
      speech.cancel(); // stop reading aloud
    }
  });

  new MutationObserver(patch).observe(document.body, { childList: true, subtree: true });
  document.documentElement.classList.toggle("elder", elder());
  document.querySelectorAll(".elder-switch").forEach((button) => {
    button.setAttribute("aria-pressed", String(elder()));
  });

  WebChat.default(
    {
      selector: "#webchat",
      initPayload: "/greet",
      socketUrl: window.CS_CONFIG.rasaUrl,
      socketPath: "/socket.io/",
      customData,
      title: "抖音智能客服（模拟器）",
      subtitle: "信息来自公开文章，非官方",
      inputTextFieldHint: "请输入您的问题…",
      params: { storage: "local" }, // the conversation survives a page reload
      embedded: false,
      showFullScreenButton: false,
      displayUnreadCount: true, // on the launcher while the chat is closed (its name says it too)
      disableTooltips: true, // the widget draws them inside the launcher button, with a button inside
      customMessageDelay: () => 0, // the answer appears as soon as it exists
      onSocketEvent: {
        connect: watchSocket,
        disconnect: () => replyEnded(true),
        bot_uttered: onBotMessage,
        bot_turn_end: () => replyEnded(false),
      },
    },
    null
  );

  // The page's example questions: they open the chat (its launcher appears once the widget is connected)
  // and are sent through its form, shown as the user's own message, after the greeting of a new
  // conversation (the widget sends its first message when it opens).
  function whenStarted(then, tries = 200, opened = false) {
    const form = document.querySelector("form.rw-sender");
    const launcher = document.querySelector(".rw-launcher");
    if (!form && !opened && launcher && !document.querySelector(".rw-conversation-container")) {
      launcher.click();
      opened = true;
    }
    const started = awaiting > 0 || document.querySelector(".rw-response");
    if (form && (started || tries <= 140)) then();
    else if (tries > 0) setTimeout(whenStarted, 50, then, tries - 1, opened);
  }

  document.querySelectorAll(".starters button").forEach((button) => {
    button.addEventListener("click", () => {
      whenStarted(() => {
        held.push({ text: button.dataset.text });
        releaseNext();
      });
    });
  });
})();
