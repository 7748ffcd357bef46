/**
 * A small HTTP client that behaves like a browser where sign-in flows care: a cookie jar per host, redirects
 * followed by hand (each hop visible to the test), and HTML forms submitted with their hidden fields.
 */
export interface Hop {
  url: string;
  status: number;
  setCookies: string[];
}

export class BrowserClient {
  /** host -> cookie name -> value */
  readonly jar = new Map<string, Map<string, string>>();
  readonly hops: Hop[] = [];

  cookie(url: string, name: string): string | undefined {
    return this.jar.get(new URL(url).host)?.get(name);
  }

  async request(
    url: string,
    init: { method?: string; headers?: Record<string, string>; body?: string } = {},
  ): Promise<Response> {
    const host = new URL(url).host;
    const cookies = [...(this.jar.get(host) ?? new Map<string, string>())].map(([k, v]) => `${k}=${v}`).join('; ');
    const res = await fetch(url, {
      method: init.method ?? 'GET',
      redirect: 'manual',
      headers: { ...(cookies ? { cookie: cookies } : {}), ...init.headers },
      body: init.body,
    });
    const setCookies = res.headers.getSetCookie();
    for (const line of setCookies) {
      const [pair, ...attributes] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const jar = this.jar.get(host) ?? new Map<string, string>();
      this.jar.set(host, jar);
      const expired = attributes.some((a) => /^\s*max-age=0\s*$/i.test(a)) || value === '';
      if (expired) jar.delete(name);
      else jar.set(name, value);
    }
    this.hops.push({ url, status: res.status, setCookies });
    return res;
  }

  /** GETs `url` and follows redirects until a page that is not one; returns it and the URL it came from. */
  async follow(url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}) {
    let res = await this.request(url, init);
    let at = url;
    for (let i = 0; i < 20 && res.status >= 300 && res.status < 400; i++) {
      await res.arrayBuffer();
      at = new URL(res.headers.get('location')!, at).href;
      res = await this.request(at);
    }
    return { res, url: at };
  }

  /** Submits the first form of an HTML page with its hidden fields and `fields`, following the redirects after. */
  async submitForm(pageUrl: string, html: string, fields: Record<string, string>) {
    const form = /<form[^>]*action="([^"]*)"[^>]*>([\s\S]*?)<\/form>/i.exec(html);
    if (!form) throw new Error(`no form on ${pageUrl}: ${html.slice(0, 300)}`);
    const action = new URL(form[1]!.replace(/&amp;/g, '&'), pageUrl).href;
    const body = new URLSearchParams();
    for (const input of form[2]!.matchAll(/<input[^>]*type="hidden"[^>]*name="([^"]*)"[^>]*value="([^"]*)"/gi)) {
      body.set(input[1]!, input[2]!);
    }
    for (const [k, v] of Object.entries(fields)) body.set(k, v);
    return this.follow(action, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: body.toString(),
    });
  }
}
