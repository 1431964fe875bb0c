// Calls to Wirelab's REST API from the page (session cookie + CSRF token).
import type { components } from "./api-types";
import type { Published } from "./live";

export type Lab = components["schemas"]["Lab"];
export type Operation = components["schemas"]["Operation"];
export type Problem = components["schemas"]["Problem"];
export type LabDocument = components["schemas"]["LabDoc"];
export type NodeDocument = components["schemas"]["NodeDoc"];
export type NetworkDocument = components["schemas"]["NetworkDoc"];
export type Capture = components["schemas"]["Capture"];
export type NodeRow = components["schemas"]["Node"];

/** A refused request's body: a sentence, problems, or a form's field errors. */
export type ErrorBody = { detail?: unknown; problems?: Problem[]; [field: string]: unknown } | null;

/** What a share link shows its visitor (`/api/shared/`). */
export interface Shared {
  lab: { name: string; description: string; owner: string; status: string; status_reason: string; updated: string };
  document: LabDocument; mode: "view" | "clone" | "view+clone"; label: string; present: boolean; snapshot: boolean;
  expires: string | null; assigned_ports?: Record<string, number>; assigned_addresses?: Record<string, string>;
  published: Published[];
}

export function csrfToken(): string {
  const match = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

/** What the server said of a refused request: its `detail`, or each problem's sentence. */
function refusal(status: number, body: ErrorBody): string {
  if (typeof body?.detail === "string") return body.detail;
  const problems = (body?.problems ?? []) as Problem[];
  const errors = problems.filter((p) => p.severity === "error");
  if (errors.length) return errors.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message)).join("; ");
  if (body && typeof body === "object") {
    const fields = Object.entries(body).map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(" ") : String(v)}`);
    if (fields.length) return fields.join("; ");
  }
  return `request failed (${status})`;
}

export class ApiError extends Error {
  constructor(public status: number, public body: ErrorBody) {
    super(refusal(status, body));
  }
}

export async function api<T = unknown>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
  const response = await fetch(path, {
    method,
    credentials: "same-origin",
    headers: {
      "Content-Type": "application/json",
      Accept: "application/json",
      "X-CSRFToken": csrfToken(),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) throw new ApiError(response.status, data);
  return data as T;
}

export const labApi = (id: number) => ({
  get: () => api<Lab>("GET", `/api/labs/${id}/`),
  /** The stored document and its version (what a save sends back, so as not to overwrite a change made meanwhile). */
  document: async (): Promise<{ doc: LabDocument; version: string }> => {
    const response = await fetch(`/api/labs/${id}/export/?as=json`, { credentials: "same-origin", headers: { Accept: "application/json" } });
    const text = await response.text();
    if (!response.ok) throw new ApiError(response.status, text ? JSON.parse(text) : null);
    return { doc: JSON.parse(text) as LabDocument, version: (response.headers.get("ETag") ?? "").replace(/"/g, "") };
  },
  save: (doc: LabDocument, version = "") => api<Lab & { problems: Problem[] }>("PUT", `/api/labs/${id}/document/`, doc,
    version ? { "If-Match": `"${version}"` } : {}),
  validate: (doc: LabDocument) => // as this lab's next version: an exercise's locks and kinds too
    api<{ valid: boolean; problems: Problem[] }>("POST", `/api/labs/${id}/check/`, { document: JSON.stringify(doc) }),
  deploy: () => api<Operation>("POST", `/api/labs/${id}/deploy/`),
  destroy: () => api<Operation>("POST", `/api/labs/${id}/destroy/`),
  operations: () => api<Operation[]>("GET", `/api/labs/${id}/operations/`),
  cable: (node: string, iface: string, plugged: boolean) =>
    api("POST", `/api/labs/${id}/cable/`, { node, iface, plugged }),
  impair: (node: string, iface: string, values: Record<string, number>) =>
    api("POST", `/api/labs/${id}/impair/`, { node, iface, ...values }),
  capture: (node: string, iface: string, seconds: number) =>
    api<{ id: number }>("POST", `/api/labs/${id}/captures/`, { node, iface, seconds }),
  captureGet: (capture: number) =>
    api<{ id: number; status: string; error: string; size: number; node: string; iface: string }>("GET", `/api/captures/${capture}/`),
  capturesList: () => api<Capture[]>("GET", `/api/labs/${id}/captures/`),
  nat: (node: string) => api<{ operation: number }>("POST", `/api/labs/${id}/nat/`, { node }),
  trace: (node: string, target: string, protocol: string, port?: number) =>
    api<{ operation: number }>("POST", `/api/labs/${id}/trace/`, { node, target, protocol, ...(port ? { port } : {}) }),
  nodeAction: async (node: string, action: string) => {
    const nodes = await api<NodeRow[]>("GET", `/api/nodes/?lab=${id}`);
    const found = nodes.find((n) => n.name === node);
    if (!found) throw new Error(`no node ${node}`);
    return api("POST", `/api/nodes/${found.id}/action/`, { action });
  },
});

export interface ShareLink {
  id: number; lab: number; label: string; mode: "view" | "clone" | "view+clone"; present: boolean; snapshot: boolean;
  expires: string | null; status: "open" | "expired" | "revoked"; viewers: number | null; created: string;
  last_used: string | null; uses: number; revoked: string | null; token?: string; url?: string; embed_url?: string;
}

export const shareApi = (labId: number) => ({
  list: () => api<ShareLink[]>("GET", `/api/shares/?lab=${labId}`),
  create: (fields: Partial<ShareLink>) => api<ShareLink>("POST", "/api/shares/", { lab: labId, ...fields }),
  revoke: (id: number) => api("DELETE", `/api/shares/${id}/`),
});

/** Calls a share link's visitor makes: the token goes in a header, never in the URL. */
export const sharedApi = (token: string) => {
  const headers = { "X-Wirelab-Share": token };
  return {
    get: () => api<Shared>("GET", "/api/shared/", undefined, headers),
    clone: () => api<Lab & { url: string }>("POST", "/api/shared/clone/", undefined, headers),
  };
};
