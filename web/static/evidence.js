// The evidence upload page (/evidence/<ticket>?lang=zh|en&t=<signed link>): files are chosen or
// dropped, each gets a note, and each is sent on its own (XMLHttpRequest, for its progress bar) to
// evidence/http.py, which checks and stores it. Names and notes are shown with textContent only.
(() => {
  const TEXT = {
    zh: {
      title: "上传证据",
      intro: "上传图片或过程录屏，处理这张工单的客服会看到它们。图片中的位置等拍摄信息会在保存前去除。",
      drop: "把图片或视频拖到这里，或者",
      pick: "选择文件",
      upload: "开始上传",
      received: "已收到的文件",
      none: "还没有文件。",
      caseLine: (ticket, until) => `工单 ${ticket} · 链接有效期至 ${until}`,
      limits: (files, perFile, perCase) =>
        `PNG、JPEG、WebP 图片或 MP4、WebM、MOV 视频；最多 ${files} 个文件，每个不超过 ${perFile}，合计不超过 ${perCase}。`,
      note: "备注（可选，例如“封号前的操作录屏”）",
      waiting: "等待上传",
      sending: "上传中…",
      tooBig: (limit) => `超过单个文件 ${limit} 的上限，不会上传。`,
      failed: "上传失败（网络中断），请重试。",
      done: (stored, refused) => `完成：保存 ${stored} 个，未保存 ${refused} 个。`,
      duration: (seconds) => `${seconds} 秒`,
      video: "视频",
      picture: "图片",
    },
    en: {
      title: "Upload evidence",
      intro:
        "Upload pictures or a screen recording; the agent handling this ticket will see them. " +
        "Location and camera details are removed from pictures before they are stored.",
      drop: "Drop pictures or videos here, or",
      pick: "choose files",
      upload: "Upload",
      received: "Files received",
      none: "No files yet.",
      caseLine: (ticket, until) => `Ticket ${ticket} · link valid until ${until}`,
      limits: (files, perFile, perCase) =>
        `PNG, JPEG or WebP pictures, MP4, WebM or MOV videos; at most ${files} files, ${perFile} each, ${perCase} in all.`,
      note: "Note (optional, e.g. “recording before the ban”)",
      waiting: "Waiting",
      sending: "Uploading…",
      tooBig: (limit) => `Over the ${limit} limit per file; not uploaded.`,
      failed: "Upload failed (connection lost); please try again.",
      done: (stored, refused) => `Done: ${stored} saved, ${refused} not saved.`,
      duration: (seconds) => `${seconds} s`,
      video: "video",
      picture: "picture",
    },
  };

  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.search);
  const lang = params.get("lang") === "en" ? "en" : "zh";
  const t = TEXT[lang];
  const token = params.get("t") || "";
  const ticket = decodeURIComponent(location.pathname.split("/")[2] || "");
  const api = `/evidence/api/case/${encodeURIComponent(ticket)}`;
  const query = `?t=${encodeURIComponent(token)}&lang=${lang}`;
  let limits = null;
  let pending = [];

  document.documentElement.lang = lang === "en" ? "en" : "zh-CN";
  document.title = `${t.title} · Douyin CS simulator`;
  document.querySelectorAll("[data-text]").forEach((node) => {
    node.textContent = t[node.dataset.text];
  });

  function megabytes(bytes) {
    const value = bytes / (1024 * 1024);
    return value >= 0.1 ? `${Math.round(value * 10) / 10} MB` : `${Math.max(1, Math.ceil(bytes / 1024))} KB`;
  }

  function setStatus(text, isError = false) {
    $("status").textContent = text;
    $("status").className = isError ? "error" : "";
  }

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function renderFile(file) {
    const item = element("li", "evidence-item");
    item.dataset.kind = file.kind;
    if (file.thumbnail_url) {
      const image = element("img", "thumb");
      image.src = file.thumbnail_url;
      image.alt = file.name;
      item.appendChild(image);
    } else {
      item.appendChild(element("div", "thumb placeholder", file.preview_note || t[file.kind] || ""));
    }
    const about = element("div", "about");
    about.appendChild(element("div", "name", file.name));
    const details = [file.kind === "video" ? t.video : t.picture, megabytes(file.upload_size)];
    if (file.duration) details.push(t.duration(file.duration));
    about.appendChild(element("div", "muted", details.join(" · ")));
    if (file.note) about.appendChild(element("div", "note", file.note));
    if (file.preview_note) about.appendChild(element("div", "muted", file.preview_note));
    item.appendChild(about);
    return item;
  }

  function renderFiles(files) {
    const list = $("files");
    list.replaceChildren(...files.map(renderFile));
    if (files.length === 0) list.appendChild(element("li", "muted", t.none));
  }

  async function load() {
    const response = await fetch(`${api}${query}`);
    const data = await response.json();
    if (!response.ok) {
      setStatus(data.message || String(response.status), true);
      $("drop").classList.add("disabled");
      $("picker").disabled = true;
      return;
    }
    limits = data.limits;
    const until = new Date(data.expires_at * 1000).toLocaleString(lang === "en" ? "en-GB" : "zh-CN");
    $("case").textContent = t.caseLine(data.ticket, until);
    $("limits").textContent = t.limits(
      limits.max_files,
      megabytes(limits.max_file_bytes),
      megabytes(limits.max_case_bytes)
    );
    renderFiles(data.files);
  }

  function addFiles(fileList) {
    for (const file of fileList) {
      const item = element("li", "evidence-item pending");
      const about = element("div", "about");
      about.appendChild(element("div", "name", file.name));
      about.appendChild(element("div", "muted", megabytes(file.size)));
      const note = element("input", "note-input");
      note.placeholder = t.note;
      note.maxLength = 200;
      about.appendChild(note);
      const progress = element("progress");
      progress.max = 100;
      progress.value = 0;
      about.appendChild(progress);
      const state = element("div", "state", t.waiting);
      about.appendChild(state);
      item.appendChild(about);
      $("pending").appendChild(item);
      const entry = { file, note, progress, state, item, done: false };
      if (limits && file.size > limits.max_file_bytes) {
        state.textContent = t.tooBig(megabytes(limits.max_file_bytes));
        state.className = "state error";
        entry.done = true;
      }
      pending.push(entry);
    }
    $("upload").disabled = !pending.some((entry) => !entry.done);
  }

  function send(entry) {
    return new Promise((resolve) => {
      const request = new XMLHttpRequest();
      request.open("POST", `${api}/files${query}`);
      request.setRequestHeader("Content-Type", "application/octet-stream"); // the server ignores it
      request.setRequestHeader("X-File-Name", encodeURIComponent(entry.file.name));
      request.setRequestHeader("X-File-Note", encodeURIComponent(entry.note.value.trim()));
      request.upload.onprogress = (event) => {
        if (event.lengthComputable) entry.progress.value = Math.round((100 * event.loaded) / event.total);
      };
      request.onload = () => {
        let data = {};
        try {
          data = JSON.parse(request.responseText);
        } catch (error) {
          data = { message: String(request.status) };
        }
        resolve({ ok: request.status < 300, data });
      };
      request.onerror = () => resolve({ ok: false, data: { message: t.failed } });
      entry.state.textContent = t.sending;
      request.send(entry.file);
    });
  }

  async function uploadAll() {
    $("upload").disabled = true;
    let stored = 0;
    let refused = 0;
    for (const entry of pending.filter((candidate) => !candidate.done)) {
      entry.note.disabled = true;
      const { ok, data } = await send(entry);
      entry.done = true;
      entry.progress.value = ok ? 100 : entry.progress.value;
      entry.state.textContent = data.message || "";
      entry.state.className = ok ? "state ok" : "state error";
      if (ok) stored += 1;
      else refused += 1;
    }
    pending = pending.filter((entry) => !entry.done || entry.state.classList.contains("error"));
    await load();
    const summary = t.done(stored, refused);
    const response = await fetch(`${api}/notify${query}`, { method: "POST" });
    const told = await response.json().catch(() => ({}));
    setStatus(told.message ? `${summary} ${told.message}` : summary, !response.ok);
  }

  const drop = $("drop");
  drop.addEventListener("dragover", (event) => {
    event.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    if (!$("picker").disabled) addFiles(event.dataTransfer.files);
  });
  $("picker").addEventListener("change", () => {
    addFiles($("picker").files);
    $("picker").value = "";
  });
  $("upload").addEventListener("click", () => uploadAll().catch((error) => setStatus(String(error), true)));
  load().catch((error) => setStatus(String(error), true));
})();
