// The demo page: follow the build, then chat with the model over server-sent events.
(() => {
  const api = document.getElementById("chat-app").dataset.api;
  const history = [];
  const $ = (id) => document.getElementById(id);
  async function poll() {
    const response = await fetch(api);
    if (!response.ok) { $("demo-state").textContent = "gone"; return; }
    const job = await response.json();
    $("demo-state").textContent = job.state;
    $("demo-progress").value = job.progress;
    $("demo-error").textContent = job.error || "";
    if (job.state === "ready") { $("prompt").disabled = false; $("send").disabled = false; return; }
    if (job.state !== "failed") setTimeout(poll, 500);
  }
  function bubble(role, text) {
    const p = document.createElement("p");
    p.className = `message ${role}`;
    const who = document.createElement("strong");
    who.textContent = role === "user" ? "You: " : "Model: ";
    const body = document.createElement("span");
    body.textContent = text;
    p.append(who, body);
    $("transcript").append(p);
    return body;
  }
  $("chat-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = $("prompt").value.trim();
    if (!text) return;
    $("prompt").value = "";
    bubble("user", text);
    history.push({role: "user", content: text});
    const answer = bubble("assistant", "");
    answer.id = "answer-" + history.length;
    $("send").disabled = true;
    const response = await fetch(`${api}/v1/chat/completions`, {
      method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({messages: history, stream: true, max_tokens: 128}),
    });
    if (!response.ok) {  // problem+json: too long a prompt (422), too many chats (429)...
      const problem = await response.json().catch(() => ({}));
      answer.textContent = `[${response.status}: ${problem.detail || response.statusText}]`;
      answer.dataset.done = "true";
      history.pop();
      $("send").disabled = false;
      return;
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const {value, done} = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, {stream: true});
      const events = buffer.split("\n\n");
      buffer = events.pop();
      for (const event of events) {
        const data = event.replace(/^data: /, "");
        if (data === "[DONE]") continue;
        const chunk = JSON.parse(data);
        const delta = chunk.choices && chunk.choices[0].delta.content;
        if (delta) answer.textContent += delta;
        if (chunk.error) answer.textContent += ` [error: ${chunk.error.message}]`;
      }
    }
    answer.dataset.done = "true";
    history.push({role: "assistant", content: answer.textContent});
    $("send").disabled = false;
  });
  poll();
})();
