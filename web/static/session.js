// The agents' log-in, shared by the agent console (agent.js) and the review page (review.js): the
// form #login (#username, #password) and the button #logout. The session token lives in this tab's
// sessionStorage and is only ever sent as a bearer header, never in a URL.
const CONSOLE_API = `${window.CS_CONFIG.rasaUrl}/webhooks/agent_console`;

// Wires the log-in form and the log-out button. `page` gives: token() and setToken(t), start() after a
// log-in, show(message) for a refusal, report(error) for a failure, loggedOut(message) after a log-out.
function wireSession(page) {
  const field = (id) => document.getElementById(id);
  field("login").addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const response = await fetch(`${CONSOLE_API}/login`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ username: field("username").value, password: field("password").value }),
      });
      const body = await response.json().catch(() => ({}));
      if (!response.ok) return page.show(body.error || `登录失败（${response.status}）`);
      page.setToken(body.token);
      sessionStorage.setItem("agentToken", body.token);
      field("password").value = "";
      await page.start();
    } catch (error) {
      page.report(error);
    }
  });
  field("logout").addEventListener("click", async () => {
    await fetch(`${CONSOLE_API}/logout`, {
      method: "POST",
      headers: { Authorization: `Bearer ${page.token()}` },
    }).catch(() => {});
    page.loggedOut("已退出登录");
  });
}
