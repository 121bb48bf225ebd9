/**
 * An escaping `html` tagged template: every interpolated value is HTML-escaped unless it is
 * itself `Html` (a nested template or {@link raw}); arrays are joined; null, undefined and false
 * render as nothing. The portal builds every page with it, so user data (tags, names, emails)
 * can never become markup.
 *
 * @module
 */

/** Markup that is already safe. */
export class Html {
  /** The markup. */
  readonly text: string;
  /** Wraps markup known to be safe. */
  constructor(text: string) {
    this.text = text;
  }
  /** The markup. */
  toString(): string {
    return this.text;
  }
}

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** `text` with &, <, >, " and ' escaped. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

/** Interpolated value of a template. */
export type HtmlValue = Html | string | number | boolean | null | undefined | HtmlValue[];

function render(v: HtmlValue): string {
  if (v === null || v === undefined || v === false) return "";
  if (v instanceof Html) return v.text;
  if (Array.isArray(v)) return v.map(render).join("");
  return escapeHtml(String(v));
}

/** The tagged template (see the module doc). */
export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): Html {
  let out = strings[0];
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1];
  return new Html(out);
}

/** Markup from a trusted constant (never from user data). */
export function raw(text: string): Html {
  return new Html(text);
}
