// The owner's share links in the side panel: make one (shown once), see who is watching, revoke.
import { ApiError, shareApi, type ShareLink } from "./api";
import { esc } from "./panel";

const MODES: Record<string, string> = { view: "view", clone: "clone", "view+clone": "view + clone" };
const EXPIRIES: [string, string][] = [["", "never"], ["3600", "in 1 hour"], ["86400", "in 1 day"], ["604800", "in 1 week"], ["2592000", "in 30 days"]];

const when = (iso: string | null) => (iso ? new Date(iso).toLocaleString() : "never");

export class SharePanel {
  links: ShareLink[] = [];
  isOpen = false;
  private created: ShareLink | null = null;
  private timer = 0;
  private api: ReturnType<typeof shareApi>;

  constructor(labId: number, private host: HTMLElement, private onClose: () => void) {
    this.api = shareApi(labId);
  }

  /** Whether the owner's view is being followed by viewers of a presenting link. */
  get presenting(): boolean {
    return this.links.some((l) => l.present && l.status === "open");
  }

  async load(): Promise<void> {
    this.links = await this.api.list();
  }

  async open(): Promise<void> {
    this.isOpen = true;
    this.created = null;
    await this.load();
    this.render();
    this.timer = window.setInterval(() => this.refresh(), 5000);
  }

  close(): void {
    this.isOpen = false;
    window.clearInterval(this.timer);
  }

  /** The list again (viewers, last use); the form keeps what is being typed. */
  async refresh(): Promise<void> {
    await this.load();
    const table = this.host.querySelector("#share-links");
    if (this.isOpen && table) table.innerHTML = this.table();
  }

  table(): string {
    const rows = this.links.map((l) => `<tr data-id="${l.id}">
      <td><b>${esc(l.label || `link ${l.id}`)}</b><br>${esc(MODES[l.mode])}${l.snapshot ? ", snapshot" : ""}${l.present ? ", presenting" : ""}</td>
      <td class="link-status ${esc(l.status)}">${esc(l.status)}<br><span class="muted">expires ${esc(when(l.expires))}</span></td>
      <td><span class="viewers">${l.viewers ?? "?"}</span> watching<br><span class="muted">used ${esc(when(l.last_used))}</span></td>
      <td>${l.status === "open" ? `<button data-revoke="${l.id}">Revoke</button>` : ""}</td></tr>`).join("");
    return rows ? `<table><tbody>${rows}</tbody></table>` : '<p class="muted">none yet</p>';
  }

  render(): void {
    const fresh = this.created;
    this.host.innerHTML = `<h2>Share this lab</h2><div id="share">
      <form id="share-form">
        <label>Label<input name="label" maxlength="100" placeholder="e.g. class of Monday"></label>
        <label>Allows<select name="mode">${Object.entries(MODES).map(([v, t]) => `<option value="${v}">${t}</option>`).join("")}</select></label>
        <label>Expires<select name="expires">${EXPIRIES.map(([v, t]) => `<option value="${v}" ${v === "604800" ? "selected" : ""}>${t}</option>`).join("")}</select></label>
        <label class="check"><input type="checkbox" name="snapshot"> a snapshot of the lab as it is now</label>
        <label class="check"><input type="checkbox" name="present"> viewers follow what I show (present)</label>
        <button type="submit" id="share-create">Create link</button>
      </form>
      ${fresh ? `<h3>New link: copy it now, it is shown only once</h3>
        <div class="new-link" id="share-url">${esc(fresh.url)}</div>
        <div class="buttons"><button data-copy="url">Copy link</button><button data-copy="embed">Copy embed code</button></div>` : ""}
      <h3>Links</h3><div id="share-links">${this.table()}</div>
      <div class="buttons"><button data-share="close">Close</button></div></div>`;
    const form = this.host.querySelector("#share-form") as HTMLFormElement;
    form.onsubmit = (event) => {
      event.preventDefault();
      this.create(new FormData(form));
    };
    this.host.querySelector("#share")!.addEventListener("click", (event) => this.click(event));
  }

  async create(form: FormData): Promise<void> {
    const seconds = Number(form.get("expires") || 0);
    try {
      this.created = await this.api.create({
        label: String(form.get("label") ?? ""),
        mode: form.get("mode") as ShareLink["mode"],
        snapshot: form.get("snapshot") === "on",
        present: form.get("present") === "on",
        expires: seconds ? new Date(Date.now() + seconds * 1000).toISOString() : null,
      });
      await this.load();
      this.render();
    } catch (error) {
      const body = (error as ApiError).body ?? {};
      const detail = typeof body.detail === "string" ? body.detail
        : Object.entries(body).map(([field, why]) => `${field}: ${(why as string[]).join(" ")}`).join("; ");
      this.host.querySelector("#share-form")!.insertAdjacentHTML("beforeend", `<div class="error">${esc(detail || (error as Error).message)}</div>`);
    }
  }

  async click(event: Event): Promise<void> {
    const button = (event.target as HTMLElement).closest("button");
    if (!button) return;
    if (button.dataset.share === "close") {
      this.close();
      this.onClose();
    } else if (button.dataset.revoke) {
      if (!confirm("Revoke this link? Whoever watches through it is shut out, and it answers no more.")) return;
      await this.api.revoke(Number(button.dataset.revoke));
      await this.refresh();
    } else if (button.dataset.copy && this.created) {
      const text = button.dataset.copy === "url" ? this.created.url!
        : `<iframe src="${this.created.embed_url}" width="800" height="500" style="border:0"></iframe>`;
      await navigator.clipboard?.writeText(text).catch(() => undefined);
      button.textContent = "Copied";
    }
  }
}
