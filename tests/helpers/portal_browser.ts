/**
 * Test helper for the Auth Portal without a browser: a cookie jar over fetch that does not follow
 * redirects, and form posting with the page's CSRF token.
 *
 * @module
 */

/** A tiny browser: cookies, GET pages, POST forms (no JavaScript). */
export class FormClient {
  readonly base: string;
  readonly cookies = new Map<string, string>();
  /** The last page's HTML. */
  html = "";

  constructor(base: string) {
    this.base = base;
  }

  #remember(res: Response): void {
    for (const c of res.headers.getSetCookie()) {
      const [pair, ...attrs] = c.split(";");
      const i = pair.indexOf("=");
      const name = pair.slice(0, i);
      const value = pair.slice(i + 1);
      if (attrs.some((a) => /max-age=0/i.test(a.trim())) || value === "") this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  #cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
  }

  /** GET `path` (no redirect following); keeps the HTML. */
  async get(path: string): Promise<Response> {
    const res = await fetch(this.base + path, {
      headers: { cookie: this.#cookieHeader() },
      redirect: "manual",
    });
    this.#remember(res);
    this.html = await res.text();
    return res;
  }

  /** The CSRF token of the last page's forms. */
  csrf(): string {
    const m = /name="csrf" value="([0-9a-f]+)"/.exec(this.html);
    if (!m) throw new Error("no form token on the page");
    return m[1];
  }

  /** POSTs a form; `csrf` defaults to the last page's token; extra headers (Origin…) allowed. */
  async post(
    path: string,
    fields: Record<string, string>,
    options: { csrf?: string | null; headers?: Record<string, string> } = {},
  ): Promise<Response> {
    const body = new URLSearchParams(fields);
    const token = options.csrf === undefined ? this.csrf() : options.csrf;
    if (token !== null) body.set("csrf", token);
    const res = await fetch(this.base + path, {
      method: "POST",
      headers: {
        cookie: this.#cookieHeader(),
        "content-type": "application/x-www-form-urlencoded",
        origin: new URL(this.base).origin,
        "sec-fetch-site": "same-origin",
        ...options.headers,
      },
      body,
      redirect: "manual",
    });
    this.#remember(res);
    await res.body?.cancel();
    return res;
  }

  /** POSTs a form and GETs where it redirects to; returns that page's HTML. */
  async submit(path: string, fields: Record<string, string>): Promise<string> {
    const res = await this.post(path, fields);
    if (res.status !== 303) throw new Error(`${path}: expected 303, got ${res.status}`);
    const to = res.headers.get("location")!;
    await this.get(to.split("#")[0]);
    return this.html;
  }
}
