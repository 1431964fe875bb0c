// Teachers' messages on every page of a signed-in person: unread ones in a band under the
// header until marked read, the last few again under "Messages", new ones as they are sent.
// (Plain script, not the editor's bundle: every page loads it, and it needs none of that.)
(() => {
  const nav = document.querySelector("header nav");
  if (!nav || !document.body.dataset.signedIn) return;
  const csrf = () => (document.cookie.match(/(?:^|; )csrftoken=([^;]+)/) || [])[1] || "";
  const call = (method, path) =>
    fetch(path, { method, credentials: "same-origin", headers: { Accept: "application/json", "X-CSRFToken": decodeURIComponent(csrf()) } })
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`inbox: ${r.status}`))));

  const band = document.createElement("section");
  band.id = "inbox";
  band.setAttribute("role", "status");
  band.setAttribute("aria-live", "polite");
  document.querySelector("header").after(band);
  const link = document.createElement("button");
  link.className = "link inbox-link";
  link.type = "button";
  nav.prepend(link);
  let inbox = { unread: 0, messages: [] };
  let history = false; // the last few shown, read ones too

  const line = (m) => {
    const li = document.createElement("li");
    li.className = m.unread ? "unread" : "read";
    const who = document.createElement("b");
    who.textContent = m.from;
    const when = new Date(m.sent).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    li.append(who, ` to ${m.course_name} at ${when}: `, m.message);
    return li;
  };

  function render() {
    const before = band.offsetHeight;
    show();
    if (band.offsetHeight !== before) window.dispatchEvent(new Event("resize")); // a canvas below fits again
  }

  function show() {
    link.textContent = inbox.unread ? `Messages (${inbox.unread})` : "Messages";
    link.hidden = !inbox.messages.length;
    const shown = history ? inbox.messages : inbox.messages.filter((m) => m.unread);
    band.replaceChildren();
    band.hidden = !shown.length;
    if (!shown.length) return;
    const list = document.createElement("ul");
    list.append(...shown.map(line));
    const done = document.createElement("button");
    done.type = "button";
    done.textContent = inbox.unread ? "Mark read" : "Close";
    done.onclick = () => {
      history = false;
      if (!inbox.unread) return render();
      call("POST", "/api/inbox/read/").then((fresh) => { inbox = fresh; render(); }).catch(() => undefined);
    };
    band.append(list, done);
  }

  link.onclick = () => { history = !history; render(); };

  function listen(delay) {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/ws/inbox/`);
    socket.onopen = () => { delay = 1000; };
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (message.type !== "message" || inbox.messages.some((m) => m.id === message.id)) return;
      inbox = { unread: inbox.unread + 1, messages: [{ ...message, unread: true }, ...inbox.messages].slice(0, 20) };
      render();
    };
    socket.onclose = (event) => {
      if (event.code !== 4403) setTimeout(() => listen(Math.min(delay * 2, 30000)), delay);
    };
  }

  call("GET", "/api/inbox/").then((fresh) => { inbox = fresh; render(); }).catch(() => undefined);
  listen(1000);
})();
