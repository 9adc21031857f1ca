// Starts the rasa-webchat widget against the Rasa server's socketio channel.
WebChat.default(
  {
    selector: "#webchat",
    initPayload: "/greet",
    socketUrl: window.CS_CONFIG.rasaUrl,
    socketPath: "/socket.io/",
    title: "抖音智能客服（模拟器）",
    subtitle: "信息来自公开文章，非官方",
    inputTextFieldHint: "请输入您的问题…",
    params: { storage: "local" }, // the conversation survives a page reload
    embedded: false,
    showFullScreenButton: false,
    displayUnreadCount: false,
  },
  null
);

document.querySelectorAll(".starters button").forEach((button) => {
  button.addEventListener("click", () => {
    WebChat.open();
    WebChat.send(button.dataset.text);
  });
});
