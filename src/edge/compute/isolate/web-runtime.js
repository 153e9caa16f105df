// The Web platform a worker sees, evaluated inside each worker's V8 isolate before the worker's
// module. An isolate has only ECMAScript built-ins; everything here is either plain JavaScript over
// them (Headers, Request, Response, streams, URLSearchParams, TextEncoder/Decoder, atob/btoa) or a
// thin wrapper over one of the host functions in `host` (crypto, URL parsing, fetch, KV, the cache,
// timers, console). Host functions take and return copies (strings, numbers, ArrayBuffers, plain
// arrays): no host object ever enters the isolate.
//
// This is a script (not a module) run as `(function (host) { ... })`; it installs globals and
// returns the dispatcher the host calls per request. Written as plain JavaScript because it runs in
// the isolate, not in Node (it is not type-checked against Node's types on purpose).
//
// One file (longer than the project's ~400 lines) because it is one script evaluated in each isolate,
// its classes sharing private helpers; sections are marked `// --- name ---`.
//
// Built-ins are captured at the top, before the worker's code runs, so a worker that tampers with
// prototypes (Array.prototype.push, Promise.prototype.then, JSON.parse …) breaks only its own code.
// eslint-disable-next-line @typescript-eslint/no-unused-expressions -- the host evaluates this expression
(function install(host) {
  'use strict';
  const G = globalThis;
  const ObjectFreeze = Object.freeze;
  const ObjectDefine = Object.defineProperty;
  const ArrayIsArray = Array.isArray;
  const JSONParse = JSON.parse;
  const JSONStringify = JSON.stringify;
  const PromiseCtor = Promise;
  const PromiseResolve = Promise.resolve.bind(Promise);
  const PromiseAllSettled = Promise.allSettled.bind(Promise);
  const PromiseThen = Promise.prototype.then;
  const U8 = Uint8Array;
  const AB = ArrayBuffer;
  const StringFromCharCode = String.fromCharCode;
  const MapCtor = Map;
  const WeakMapCtor = WeakMap;
  const TypeErrorCtor = TypeError;
  const SymbolAsyncIterator = Symbol.asyncIterator;
  const SymbolIterator = Symbol.iterator;
  const then = (p, f, r) => PromiseThen.call(p, f, r);
  const apply = Reflect.apply;

  // --- bytes ---------------------------------------------------------------------------------

  function toBytes(data) {
    if (data instanceof U8) return data;
    if (data instanceof AB) return new U8(data);
    if (AB.isView(data)) return new U8(data.buffer, data.byteOffset, data.byteLength);
    throw new TypeErrorCtor('expected an ArrayBuffer or a typed array');
  }
  /** A standalone ArrayBuffer holding exactly the bytes (what the host copies out). */
  function toBuffer(data) {
    const bytes = toBytes(data);
    if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength) return bytes.buffer;
    return bytes.slice().buffer;
  }
  function concat(chunks, total) {
    const out = new U8(total);
    let at = 0;
    for (let i = 0; i < chunks.length; i++) {
      out.set(chunks[i], at);
      at += chunks[i].byteLength;
    }
    return out;
  }

  // --- TextEncoder / TextDecoder (UTF-8, WHATWG Encoding) -----------------------------------------

  function utf8Encode(input) {
    const s = String(input);
    const out = new U8(s.length * 3);
    let n = 0;
    for (let i = 0; i < s.length; i++) {
      let c = s.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
        const d = s.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          i++;
        } else c = 0xfffd;
      } else if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
      if (c < 0x80) out[n++] = c;
      else if (c < 0x800) {
        out[n++] = 0xc0 | (c >> 6);
        out[n++] = 0x80 | (c & 63);
      } else if (c < 0x10000) {
        out[n++] = 0xe0 | (c >> 12);
        out[n++] = 0x80 | ((c >> 6) & 63);
        out[n++] = 0x80 | (c & 63);
      } else {
        out[n++] = 0xf0 | (c >> 18);
        out[n++] = 0x80 | ((c >> 12) & 63);
        out[n++] = 0x80 | ((c >> 6) & 63);
        out[n++] = 0x80 | (c & 63);
      }
    }
    return out.slice(0, n);
  }

  /** Decodes UTF-8; invalid sequences become U+FFFD (or throw when fatal). Returns [text, leftover bytes]. */
  function utf8Decode(bytes, fatal, stream) {
    let out = '';
    let parts = '';
    let i = 0;
    const n = bytes.length;
    const bad = () => {
      if (fatal) throw new TypeErrorCtor('The encoded data was not valid for encoding utf-8');
      out += '\ufffd';
    };
    while (i < n) {
      const b = bytes[i];
      if (b < 0x80) {
        out += StringFromCharCode(b);
        i++;
      } else {
        const len = b >= 0xf0 && b <= 0xf4 ? 4 : b >= 0xe0 ? (b <= 0xef ? 3 : 0) : b >= 0xc2 ? 2 : 0;
        if (len === 0) {
          bad();
          i++;
          continue;
        }
        if (i + len > n) {
          // Possibly a sequence cut by a chunk boundary.
          let ok = true;
          for (let k = i + 1; k < n; k++) if ((bytes[k] & 0xc0) !== 0x80) ok = false;
          if (stream && ok) return [parts + out, bytes.slice(i)];
        }
        let c = b & (len === 2 ? 0x1f : len === 3 ? 0x0f : 0x07);
        let k = 1;
        for (; k < len && i + k < n; k++) {
          const x = bytes[i + k];
          if ((x & 0xc0) !== 0x80) break;
          if (
            k === 1 &&
            ((b === 0xe0 && x < 0xa0) ||
              (b === 0xed && x > 0x9f) ||
              (b === 0xf0 && x < 0x90) ||
              (b === 0xf4 && x > 0x8f))
          )
            break;
          c = (c << 6) | (x & 63);
        }
        if (k < len) {
          bad();
          i += k;
          continue;
        }
        i += len;
        if (c >= 0x10000) {
          c -= 0x10000;
          out += StringFromCharCode(0xd800 + (c >> 10), 0xdc00 + (c & 0x3ff));
        } else out += StringFromCharCode(c);
      }
      if (out.length > 8192) {
        parts += out;
        out = '';
      }
    }
    return [parts + out, null];
  }

  class TextEncoder {
    get encoding() {
      return 'utf-8';
    }
    encode(input = '') {
      return utf8Encode(input);
    }
    encodeInto(input, dest) {
      const bytes = utf8Encode(input);
      const n = Math.min(bytes.length, dest.length);
      dest.set(bytes.subarray(0, n));
      return { read: String(input).length, written: n };
    }
  }

  class TextDecoder {
    #fatal;
    #ignoreBOM;
    #pending = null;
    #sawStart = false;
    constructor(label = 'utf-8', options = {}) {
      const l = String(label).trim().toLowerCase();
      if (l !== 'utf-8' && l !== 'utf8' && l !== 'unicode-1-1-utf-8')
        throw new RangeError(`TextDecoder: only utf-8 is supported, not "${label}"`);
      this.#fatal = !!options.fatal;
      this.#ignoreBOM = !!options.ignoreBOM;
    }
    get encoding() {
      return 'utf-8';
    }
    get fatal() {
      return this.#fatal;
    }
    get ignoreBOM() {
      return this.#ignoreBOM;
    }
    decode(input, options = {}) {
      let bytes = input === undefined ? new U8(0) : toBytes(input);
      if (this.#pending !== null) {
        bytes = concat([this.#pending, bytes], this.#pending.length + bytes.length);
        this.#pending = null;
      }
      const stream = !!options.stream;
      const [text, rest] = utf8Decode(bytes, this.#fatal, stream);
      this.#pending = rest;
      let result = text;
      if (!this.#sawStart && !this.#ignoreBOM && result.charCodeAt(0) === 0xfeff) result = result.slice(1);
      this.#sawStart = stream && (this.#sawStart || result.length > 0 || text.length > 0);
      if (!stream && this.#pending !== null) {
        this.#pending = null;
        if (this.#fatal) throw new TypeErrorCtor('The encoded data was not valid for encoding utf-8');
        result += '\ufffd';
      }
      return result;
    }
  }

  // --- atob / btoa -------------------------------------------------------------------------------

  const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  function btoa(data) {
    const s = String(data);
    let out = '';
    for (let i = 0; i < s.length; i += 3) {
      const a = s.charCodeAt(i);
      const b = s.charCodeAt(i + 1);
      const c = s.charCodeAt(i + 2);
      if (a > 255 || b > 255 || c > 255) throw new DOMException('Invalid character', 'InvalidCharacterError');
      const n = (a << 16) | ((b || 0) << 8) | (c || 0);
      out += B64[n >> 18] + B64[(n >> 12) & 63];
      out += i + 1 < s.length ? B64[(n >> 6) & 63] : '=';
      out += i + 2 < s.length ? B64[n & 63] : '=';
    }
    return out;
  }
  function atob(data) {
    let s = String(data).replace(/[\t\n\f\r ]/g, '');
    if (s.length % 4 === 0) s = s.replace(/==?$/, '');
    if (s.length % 4 === 1 || /[^A-Za-z0-9+/]/.test(s))
      throw new DOMException('The string to be decoded is not correctly encoded.', 'InvalidCharacterError');
    let out = '';
    let bits = 0;
    let acc = 0;
    for (let i = 0; i < s.length; i++) {
      acc = (acc << 6) | B64.indexOf(s[i]);
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        out += StringFromCharCode((acc >> bits) & 255);
      }
    }
    return out;
  }

  class DOMException extends Error {
    #name;
    constructor(message = '', name = 'Error') {
      super(message);
      this.#name = name;
    }
    get name() {
      return this.#name;
    }
  }

  // --- URLSearchParams / URL ---------------------------------------------------------------------

  function formEncode(s) {
    return encodeURIComponent(s)
      .replace(/%20/g, '+')
      .replace(/[!'()~]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
  }
  function formDecode(s) {
    const t = s.replace(/\+/g, ' ');
    try {
      return decodeURIComponent(t);
    } catch {
      return t.replace(/%([0-9a-fA-F]{2})/g, (_, h) => StringFromCharCode(parseInt(h, 16)));
    }
  }

  class URLSearchParams {
    #list = [];
    #url = null;
    constructor(init = '') {
      if (typeof init === 'string') this.#parse(init);
      else if (init instanceof URLSearchParams) this.#list = init.#list.map((p) => [p[0], p[1]]);
      else if (init !== null && typeof init === 'object') {
        if (typeof init[SymbolIterator] === 'function') {
          for (const pair of init) {
            const p = [...pair];
            if (p.length !== 2) throw new TypeErrorCtor('URLSearchParams: each pair must have two items');
            this.#list.push([String(p[0]), String(p[1])]);
          }
        } else for (const k of Object.keys(init)) this.#list.push([k, String(init[k])]);
      }
    }
    #parse(s) {
      this.#list = [];
      const q = s.startsWith('?') ? s.slice(1) : s;
      if (q === '') return;
      for (const part of q.split('&')) {
        if (part === '') continue;
        const eq = part.indexOf('=');
        const k = eq < 0 ? part : part.slice(0, eq);
        const v = eq < 0 ? '' : part.slice(eq + 1);
        this.#list.push([formDecode(k), formDecode(v)]);
      }
    }
    static _attach(params, url, search) {
      params.#url = url;
      params.#parse(search);
    }
    static _reparse(params, search) {
      params.#parse(search);
    }
    #update() {
      if (this.#url !== null) URL._setSearchFromParams(this.#url, this.toString());
    }
    get size() {
      return this.#list.length;
    }
    append(k, v) {
      this.#list.push([String(k), String(v)]);
      this.#update();
    }
    delete(k, v) {
      const key = String(k);
      this.#list = this.#list.filter((p) => p[0] !== key || (v !== undefined && p[1] !== String(v)));
      this.#update();
    }
    get(k) {
      const key = String(k);
      const p = this.#list.find((x) => x[0] === key);
      return p === undefined ? null : p[1];
    }
    getAll(k) {
      const key = String(k);
      return this.#list.filter((x) => x[0] === key).map((x) => x[1]);
    }
    has(k, v) {
      const key = String(k);
      return this.#list.some((x) => x[0] === key && (v === undefined || x[1] === String(v)));
    }
    set(k, v) {
      const key = String(k);
      const i = this.#list.findIndex((x) => x[0] === key);
      if (i < 0) this.#list.push([key, String(v)]);
      else {
        this.#list[i] = [key, String(v)];
        this.#list = this.#list.filter((x, j) => j <= i || x[0] !== key);
      }
      this.#update();
    }
    sort() {
      // Stable sort by UTF-16 code units, as the standard says.
      this.#list = this.#list
        .map((p, i) => [p, i])
        .sort((a, b) => (a[0][0] < b[0][0] ? -1 : a[0][0] > b[0][0] ? 1 : a[1] - b[1]))
        .map((x) => x[0]);
      this.#update();
    }
    forEach(fn, thisArg) {
      for (const [k, v] of this.#list) fn.call(thisArg, v, k, this);
    }
    *entries() {
      for (const p of this.#list) yield [p[0], p[1]];
    }
    *keys() {
      for (const p of this.#list) yield p[0];
    }
    *values() {
      for (const p of this.#list) yield p[1];
    }
    [SymbolIterator]() {
      return this.entries();
    }
    toString() {
      return this.#list.map((p) => formEncode(p[0]) + '=' + formEncode(p[1])).join('&');
    }
  }

  /** WHATWG URL: parsing and setters are the host's (Node's URL), on strings only. */
  class URL {
    #p;
    #params = null;
    constructor(url, base) {
      const parts = host.urlParse(String(url), base === undefined ? null : String(base));
      if (parts === null) throw new TypeErrorCtor(`Invalid URL: ${String(url)}`);
      this.#p = parts;
    }
    static canParse(url, base) {
      return host.urlParse(String(url), base === undefined ? null : String(base)) !== null;
    }
    static parse(url, base) {
      try {
        return new URL(url, base);
      } catch {
        return null;
      }
    }
    static _setSearchFromParams(url, query) {
      url.#p = host.urlSet(url.#p.href, 'search', query);
      if (query === '') url.#p = host.urlSet(url.#p.href, 'search', '');
    }
    #set(part, value) {
      this.#p = host.urlSet(this.#p.href, part, String(value));
      if (this.#params !== null && (part === 'search' || part === 'href'))
        URLSearchParams._reparse(this.#params, this.#p.search);
    }
    get searchParams() {
      if (this.#params === null) {
        this.#params = new URLSearchParams();
        URLSearchParams._attach(this.#params, this, this.#p.search);
      }
      return this.#params;
    }
    get href() {
      return this.#p.href;
    }
    set href(v) {
      this.#set('href', v);
    }
    get protocol() {
      return this.#p.protocol;
    }
    set protocol(v) {
      this.#set('protocol', v);
    }
    get username() {
      return this.#p.username;
    }
    set username(v) {
      this.#set('username', v);
    }
    get password() {
      return this.#p.password;
    }
    set password(v) {
      this.#set('password', v);
    }
    get host() {
      return this.#p.host;
    }
    set host(v) {
      this.#set('host', v);
    }
    get hostname() {
      return this.#p.hostname;
    }
    set hostname(v) {
      this.#set('hostname', v);
    }
    get port() {
      return this.#p.port;
    }
    set port(v) {
      this.#set('port', v);
    }
    get pathname() {
      return this.#p.pathname;
    }
    set pathname(v) {
      this.#set('pathname', v);
    }
    get search() {
      return this.#p.search;
    }
    set search(v) {
      this.#set('search', v);
    }
    get hash() {
      return this.#p.hash;
    }
    set hash(v) {
      this.#set('hash', v);
    }
    get origin() {
      return this.#p.origin;
    }
    toString() {
      return this.#p.href;
    }
    toJSON() {
      return this.#p.href;
    }
  }

  // --- Headers -----------------------------------------------------------------------------------

  const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
  function normName(name) {
    const n = String(name);
    if (!TOKEN.test(n)) throw new TypeErrorCtor(`Invalid header name: "${n}"`);
    return n.toLowerCase();
  }
  function normValue(value) {
    const v = String(value).replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, '');
    if (/[\0\r\n]/.test(v)) throw new TypeErrorCtor('Invalid header value');
    return v;
  }

  class Headers {
    #map = new MapCtor();
    #cookies = [];
    #guard = 'none';
    constructor(init) {
      if (init === undefined || init === null) return;
      if (init instanceof Headers) {
        for (const [k, v] of init.#map) this.#map.set(k, v);
        this.#cookies = init.#cookies.slice();
      } else if (typeof init[SymbolIterator] === 'function') {
        for (const pair of init) {
          const p = [...pair];
          if (p.length !== 2) throw new TypeErrorCtor('Headers: each pair must have two items');
          this.append(p[0], p[1]);
        }
      } else if (typeof init === 'object') {
        for (const k of Object.keys(init)) this.append(k, init[k]);
      }
    }
    static _immutable(h) {
      h.#guard = 'immutable';
      return h;
    }
    #check() {
      if (this.#guard === 'immutable') throw new TypeErrorCtor('Headers are immutable');
    }
    append(name, value) {
      this.#check();
      const k = normName(name);
      const v = normValue(value);
      if (k === 'set-cookie') this.#cookies.push(v);
      else {
        const prior = this.#map.get(k);
        this.#map.set(k, prior === undefined ? v : prior + ', ' + v);
      }
    }
    set(name, value) {
      this.#check();
      const k = normName(name);
      const v = normValue(value);
      if (k === 'set-cookie') this.#cookies = [v];
      else this.#map.set(k, v);
    }
    delete(name) {
      this.#check();
      const k = normName(name);
      if (k === 'set-cookie') this.#cookies = [];
      else this.#map.delete(k);
    }
    get(name) {
      const k = normName(name);
      if (k === 'set-cookie') return this.#cookies.length === 0 ? null : this.#cookies.join(', ');
      const v = this.#map.get(k);
      return v === undefined ? null : v;
    }
    getSetCookie() {
      return this.#cookies.slice();
    }
    getAll(name) {
      if (normName(name) !== 'set-cookie') throw new TypeErrorCtor('getAll() only supports Set-Cookie');
      return this.#cookies.slice();
    }
    has(name) {
      const k = normName(name);
      return k === 'set-cookie' ? this.#cookies.length > 0 : this.#map.has(k);
    }
    *entries() {
      const names = [...this.#map.keys()];
      if (this.#cookies.length > 0) names.push('set-cookie');
      names.sort();
      for (const k of names) {
        if (k === 'set-cookie') for (const c of this.#cookies) yield [k, c];
        else yield [k, this.#map.get(k)];
      }
    }
    *keys() {
      for (const [k] of this.entries()) yield k;
    }
    *values() {
      for (const [, v] of this.entries()) yield v;
    }
    forEach(fn, thisArg) {
      for (const [k, v] of this.entries()) fn.call(thisArg, v, k, this);
    }
    [SymbolIterator]() {
      return this.entries();
    }
    /** [[name, value]] for the host (Set-Cookie values one per entry). */
    static _flat(h) {
      const out = [];
      for (const [k, v] of h.#map) out.push([k, v]);
      for (const c of h.#cookies) out.push(['set-cookie', c]);
      return out;
    }
  }

  // --- Streams (WHATWG Streams, the parts workers use) -------------------------------------------

  const QUEUE = Symbol('queue');

  class ReadableStreamDefaultController {
    #s;
    constructor(stream) {
      this.#s = stream;
    }
    get desiredSize() {
      return this.#s[QUEUE].closed ? 0 : Math.max(0, this.#s[QUEUE].hwm - this.#s[QUEUE].chunks.length);
    }
    enqueue(chunk) {
      const q = this.#s[QUEUE];
      if (q.closed || q.errored) throw new TypeErrorCtor('ReadableStream is closed');
      if (q.waiters.length > 0) q.waiters.shift().resolve({ value: chunk, done: false });
      else q.chunks.push(chunk);
    }
    close() {
      const q = this.#s[QUEUE];
      if (q.closed) throw new TypeErrorCtor('ReadableStream is already closed');
      q.closed = true;
      if (q.chunks.length === 0)
        while (q.waiters.length > 0) q.waiters.shift().resolve({ value: undefined, done: true });
    }
    error(e) {
      const q = this.#s[QUEUE];
      q.errored = true;
      q.error = e;
      q.chunks = [];
      while (q.waiters.length > 0) q.waiters.shift().reject(e);
    }
  }

  class ReadableStreamDefaultReader {
    #s;
    constructor(stream) {
      if (stream.locked) throw new TypeErrorCtor('ReadableStream is locked');
      this.#s = stream;
      stream[QUEUE].locked = true;
    }
    get closed() {
      return this.#s[QUEUE].closedPromise;
    }
    read() {
      const s = this.#s;
      if (s === null) return Promise.reject(new TypeErrorCtor('reader released'));
      const q = s[QUEUE];
      if (q.errored) return Promise.reject(q.error);
      if (q.chunks.length > 0) {
        const value = q.chunks.shift();
        s._pull();
        return PromiseResolve({ value, done: false });
      }
      if (q.closed) return PromiseResolve({ value: undefined, done: true });
      return new PromiseCtor((resolve, reject) => {
        q.waiters.push({ resolve, reject });
        s._pull();
      });
    }
    releaseLock() {
      if (this.#s !== null) this.#s[QUEUE].locked = false;
      this.#s = null;
    }
    cancel(reason) {
      return this.#s === null ? PromiseResolve() : this.#s._cancel(reason);
    }
  }

  class ReadableStream {
    constructor(source = {}, strategy = {}) {
      let resolveClosed;
      const closedPromise = new PromiseCtor((r) => (resolveClosed = r));
      this[QUEUE] = {
        chunks: [],
        waiters: [],
        closed: false,
        errored: false,
        error: undefined,
        locked: false,
        pulling: false,
        hwm: strategy.highWaterMark ?? 1,
        source,
        closedPromise,
        resolveClosed,
        started: false,
      };
      ObjectDefine(this, QUEUE, { enumerable: false });
      const controller = new ReadableStreamDefaultController(this);
      this[QUEUE].controller = controller;
      const q = this[QUEUE];
      try {
        then(
          PromiseResolve(typeof source.start === 'function' ? source.start(controller) : undefined),
          () => {
            q.started = true;
            this._pull();
          },
          (e) => controller.error(e),
        );
      } catch (e) {
        controller.error(e);
      }
    }
    _pull() {
      const q = this[QUEUE];
      if (!q.started || q.pulling || q.closed || q.errored || typeof q.source.pull !== 'function') return;
      if (q.chunks.length >= q.hwm && q.waiters.length === 0) return;
      q.pulling = true;
      let r;
      try {
        r = PromiseResolve(q.source.pull(q.controller));
      } catch (e) {
        q.controller.error(e);
        return;
      }
      then(
        r,
        () => {
          q.pulling = false;
          if (q.waiters.length > 0) this._pull();
        },
        (e) => q.controller.error(e),
      );
    }
    _cancel(reason) {
      const q = this[QUEUE];
      q.closed = true;
      q.chunks = [];
      while (q.waiters.length > 0) q.waiters.shift().resolve({ value: undefined, done: true });
      return PromiseResolve(typeof q.source.cancel === 'function' ? q.source.cancel(reason) : undefined).then(
        () => undefined,
      );
    }
    get locked() {
      return this[QUEUE].locked;
    }
    getReader(options) {
      if (options && options.mode === 'byob') throw new TypeErrorCtor('BYOB readers are not supported');
      return new ReadableStreamDefaultReader(this);
    }
    cancel(reason) {
      if (this.locked) return Promise.reject(new TypeErrorCtor('ReadableStream is locked'));
      return this._cancel(reason);
    }
    async pipeTo(dest, options = {}) {
      const reader = this.getReader();
      const writer = dest.getWriter();
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          await writer.write(value);
        }
        if (!options.preventClose) await writer.close();
      } catch (e) {
        if (!options.preventAbort) await writer.abort(e);
        throw e;
      } finally {
        reader.releaseLock();
        writer.releaseLock();
      }
    }
    pipeThrough(transform, options) {
      then(this.pipeTo(transform.writable, options), undefined, () => undefined);
      return transform.readable;
    }
    tee() {
      const reader = this.getReader();
      const controllers = [];
      const make = () =>
        new ReadableStream({
          start(c) {
            controllers.push(c);
          },
        });
      const a = make();
      const b = make();
      (async () => {
        try {
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            for (const c of controllers) c.enqueue(value);
          }
          for (const c of controllers) c.close();
        } catch (e) {
          for (const c of controllers) c.error(e);
        }
      })();
      return [a, b];
    }
    async *values() {
      const reader = this.getReader();
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          yield value;
        }
      } finally {
        reader.releaseLock();
      }
    }
    [SymbolAsyncIterator]() {
      return this.values();
    }
    static from(iterable) {
      const it =
        typeof iterable[SymbolAsyncIterator] === 'function'
          ? iterable[SymbolAsyncIterator]()
          : iterable[SymbolIterator]();
      return new ReadableStream({
        async pull(c) {
          const { value, done } = await it.next();
          if (done) c.close();
          else c.enqueue(value);
        },
      });
    }
  }

  class WritableStreamDefaultWriter {
    #s;
    constructor(stream) {
      if (stream.locked) throw new TypeErrorCtor('WritableStream is locked');
      this.#s = stream;
      stream._locked = true;
    }
    get ready() {
      return PromiseResolve();
    }
    get closed() {
      return this.#s._closed;
    }
    get desiredSize() {
      return 1;
    }
    write(chunk) {
      return this.#s._enqueue(() => this.#s._sink.write && this.#s._sink.write(chunk, this.#s._controller));
    }
    close() {
      return this.#s._enqueue(() => this.#s._sink.close && this.#s._sink.close());
    }
    abort(reason) {
      return PromiseResolve(this.#s._sink.abort && this.#s._sink.abort(reason));
    }
    releaseLock() {
      if (this.#s) this.#s._locked = false;
      this.#s = null;
    }
  }

  class WritableStream {
    constructor(sink = {}) {
      this._sink = sink;
      this._locked = false;
      this._chain = PromiseResolve(sink.start ? sink.start({ error() {} }) : undefined);
      this._controller = { error() {} };
      this._closed = PromiseResolve();
    }
    _enqueue(op) {
      const next = then(this._chain, () => op());
      this._chain = then(next, undefined, () => undefined);
      return then(next, () => undefined);
    }
    get locked() {
      return this._locked;
    }
    getWriter() {
      return new WritableStreamDefaultWriter(this);
    }
    close() {
      return this._enqueue(() => this._sink.close && this._sink.close());
    }
    abort(reason) {
      return PromiseResolve(this._sink.abort && this._sink.abort(reason));
    }
  }

  class TransformStream {
    constructor(transformer = {}) {
      let rc;
      this.readable = new ReadableStream({
        start(c) {
          rc = c;
        },
      });
      const controller = {
        enqueue: (chunk) => rc.enqueue(chunk),
        error: (e) => rc.error(e),
        terminate: () => rc.close(),
        get desiredSize() {
          return 1;
        },
      };
      const started = PromiseResolve(transformer.start ? transformer.start(controller) : undefined);
      this.writable = new WritableStream({
        async write(chunk) {
          await started;
          if (transformer.transform) await transformer.transform(chunk, controller);
          else rc.enqueue(chunk);
        },
        async close() {
          await started;
          if (transformer.flush) await transformer.flush(controller);
          rc.close();
        },
        abort(e) {
          rc.error(e);
        },
      });
    }
  }

  class TextEncoderStream extends TransformStream {
    constructor() {
      const enc = new TextEncoder();
      super({ transform: (chunk, c) => c.enqueue(enc.encode(chunk)) });
    }
  }
  class TextDecoderStream extends TransformStream {
    constructor(label, options) {
      const dec = new TextDecoder(label, options);
      super({
        transform: (chunk, c) => {
          const s = dec.decode(chunk, { stream: true });
          if (s !== '') c.enqueue(s);
        },
        flush: (c) => {
          const s = dec.decode();
          if (s !== '') c.enqueue(s);
        },
      });
    }
  }

  /** Reads a stream of byte chunks (or strings) to one Uint8Array. */
  async function readAll(stream) {
    const reader = stream.getReader();
    const chunks = [];
    let total = 0;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      const bytes = typeof value === 'string' ? utf8Encode(value) : toBytes(value);
      chunks.push(bytes);
      total += bytes.byteLength;
    }
    reader.releaseLock();
    return concat(chunks, total);
  }

  function streamOf(bytes) {
    return new ReadableStream({
      start(c) {
        if (bytes.byteLength > 0) c.enqueue(bytes);
        c.close();
      },
    });
  }

  // --- Body, Request, Response -------------------------------------------------------------------

  /** Turns a BodyInit into [bytes | stream, content type]. */
  function extractBody(init) {
    if (init === null || init === undefined) return [null, null];
    if (typeof init === 'string') return [utf8Encode(init), 'text/plain;charset=UTF-8'];
    if (init instanceof URLSearchParams)
      return [utf8Encode(init.toString()), 'application/x-www-form-urlencoded;charset=UTF-8'];
    if (init instanceof ReadableStream) return [init, null];
    if (init instanceof AB || AB.isView(init)) return [toBytes(init).slice(), null];
    return [utf8Encode(String(init)), 'text/plain;charset=UTF-8'];
  }

  const BODY = Symbol('body');

  class Body {
    constructor(init) {
      const [body, type] = extractBody(init);
      this[BODY] = {
        bytes: body instanceof ReadableStream ? null : body,
        stream: body instanceof ReadableStream ? body : null,
        used: false,
      };
      ObjectDefine(this, BODY, { enumerable: false });
      return type;
    }
    get body() {
      const b = this[BODY];
      if (b.stream === null && b.bytes !== null) {
        b.stream = streamOf(b.bytes);
        b.bytes = null;
      }
      return b.stream;
    }
    get bodyUsed() {
      return this[BODY].used;
    }
    async arrayBuffer() {
      return toBuffer(await this._bytes());
    }
    async bytes() {
      return await this._bytes();
    }
    async text() {
      return utf8Decode(await this._bytes(), false, false)[0];
    }
    async json() {
      return JSONParse(await this.text());
    }
    async formData() {
      throw new TypeErrorCtor('formData() is not supported');
    }
    async blob() {
      throw new TypeErrorCtor('blob() is not supported');
    }
    _bytes() {
      const b = this[BODY];
      if (b.used) return Promise.reject(new TypeErrorCtor('Body has already been used'));
      b.used = true;
      if (b.bytes !== null) return PromiseResolve(b.bytes);
      if (b.stream !== null) return readAll(b.stream);
      return PromiseResolve(new U8(0));
    }
    _cloneBody() {
      const b = this[BODY];
      if (b.used) throw new TypeErrorCtor('Body has already been used');
      if (b.stream === null) return b.bytes === null ? null : b.bytes;
      const [x, y] = b.stream.tee();
      b.stream = x;
      return y;
    }
  }

  const METHODS = new Set(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'PATCH']);

  class Request extends Body {
    #method;
    #url;
    #headers;
    #redirect;
    #cf;
    #signal;
    constructor(input, init = {}) {
      const from = input instanceof Request ? input : null;
      const bodyInit = init.body !== undefined ? init.body : from !== null ? from._cloneBody() : null;
      const type = super(bodyInit);
      let method = init.method !== undefined ? String(init.method) : from !== null ? from.#method : 'GET';
      if (METHODS.has(method.toUpperCase())) method = method.toUpperCase();
      if (!TOKEN.test(method)) throw new TypeErrorCtor(`Invalid method: "${method}"`);
      if ((method === 'GET' || method === 'HEAD') && bodyInit !== null && bodyInit !== undefined)
        throw new TypeErrorCtor('Request with GET/HEAD method cannot have a body.');
      this.#method = method;
      this.#url = from !== null ? from.#url : new URL(String(input)).href;
      this.#headers = new Headers(
        init.headers !== undefined ? init.headers : from !== null ? from.#headers : undefined,
      );
      if (type !== null && !this.#headers.has('content-type')) this.#headers.set('content-type', type);
      this.#redirect = init.redirect || (from !== null ? from.#redirect : 'follow');
      this.#cf = init.cf !== undefined ? init.cf : from !== null ? from.#cf : undefined;
      this.#signal = init.signal || (from !== null ? from.#signal : null) || new AbortController().signal;
    }
    get method() {
      return this.#method;
    }
    get url() {
      return this.#url;
    }
    get headers() {
      return this.#headers;
    }
    get redirect() {
      return this.#redirect;
    }
    get cf() {
      return this.#cf;
    }
    get signal() {
      return this.#signal;
    }
    clone() {
      return new Request(this, {});
    }
  }

  class Response extends Body {
    #status;
    #statusText;
    #headers;
    #type;
    #url;
    constructor(body = null, init = {}) {
      const type = super(body);
      const status = init.status === undefined ? 200 : Number(init.status);
      if (!Number.isInteger(status) || status < 200 || status > 599)
        throw new RangeError(`Response status must be 200 to 599, got ${init.status}`);
      if ((status === 204 || status === 304 || status === 205) && body !== null && body !== undefined)
        throw new TypeErrorCtor(`Response with status ${status} cannot have a body`);
      this.#status = status;
      this.#statusText = init.statusText === undefined ? '' : String(init.statusText);
      this.#headers = new Headers(init.headers);
      if (type !== null && !this.#headers.has('content-type')) this.#headers.set('content-type', type);
      this.#type = 'default';
      this.#url = '';
    }
    static json(data, init = {}) {
      const headers = new Headers(init.headers);
      if (!headers.has('content-type')) headers.set('content-type', 'application/json');
      return new Response(JSONStringify(data), { ...init, headers });
    }
    static redirect(url, status = 302) {
      if (![301, 302, 303, 307, 308].includes(status))
        throw new RangeError(`Invalid redirect status ${status}`);
      return new Response(null, { status, headers: { location: new URL(url).href } });
    }
    static error() {
      const r = new Response(null, { status: 200 });
      r.#status = 0;
      r.#type = 'error';
      return r;
    }
    static _fromHost(h, url) {
      const r = new Response(h.body === null || h.body.byteLength === 0 ? null : new U8(h.body), {
        status: h.status === 101 || h.status < 200 ? 200 : h.status,
        statusText: h.statusText,
        headers: h.headers,
      });
      r.#status = h.status;
      r.#url = url;
      return r;
    }
    get status() {
      return this.#status;
    }
    get statusText() {
      return this.#statusText;
    }
    get ok() {
      return this.#status >= 200 && this.#status < 300;
    }
    get headers() {
      return this.#headers;
    }
    get type() {
      return this.#type;
    }
    get url() {
      return this.#url;
    }
    get redirected() {
      return false;
    }
    clone() {
      const r = new Response(this._cloneBody(), {
        status: 200,
        statusText: this.#statusText,
        headers: this.#headers,
      });
      r.#status = this.#status;
      return r;
    }
  }

  // --- AbortController (signals for fetch and streams) --------------------------------------------

  class AbortSignal {
    aborted = false;
    reason = undefined;
    #listeners = [];
    addEventListener(type, fn) {
      if (type === 'abort') this.#listeners.push(fn);
    }
    removeEventListener(type, fn) {
      this.#listeners = this.#listeners.filter((f) => f !== fn);
    }
    throwIfAborted() {
      if (this.aborted) throw this.reason;
    }
    static _abort(signal, reason) {
      if (signal.aborted) return;
      signal.aborted = true;
      signal.reason =
        reason === undefined ? new DOMException('This operation was aborted', 'AbortError') : reason;
      for (const fn of signal.#listeners) fn({ type: 'abort' });
    }
    static abort(reason) {
      const s = new AbortSignal();
      AbortSignal._abort(s, reason);
      return s;
    }
  }
  class AbortController {
    signal = new AbortSignal();
    abort(reason) {
      AbortSignal._abort(this.signal, reason);
    }
  }

  // --- timers: host-driven, cancelled when the isolate has no request in flight -------------------

  let inFlight = 0;
  let timerGeneration = 0;
  let nextTimer = 1;
  const timers = new MapCtor();
  function setTimeout(fn, ms = 0, ...args) {
    if (typeof fn !== 'function') throw new TypeErrorCtor('setTimeout: the callback must be a function');
    const id = nextTimer++;
    const generation = timerGeneration;
    timers.set(id, generation);
    then(host.sleep(Math.max(0, Number(ms) || 0)), () => {
      if (timers.get(id) !== generation || generation !== timerGeneration) return;
      timers.delete(id);
      apply(fn, undefined, args);
    });
    return id;
  }
  function clearTimeout(id) {
    timers.delete(id);
  }
  function setInterval() {
    throw new TypeErrorCtor('setInterval is not supported in a worker: use setTimeout within a request');
  }
  function queueMicrotask(fn) {
    then(PromiseResolve(), fn);
  }

  // --- crypto ------------------------------------------------------------------------------------

  const keyMaterial = new WeakMapCtor();
  class CryptoKey {
    constructor(type, extractable, algorithm, usages) {
      this.type = type;
      this.extractable = extractable;
      this.algorithm = ObjectFreeze(algorithm);
      this.usages = ObjectFreeze(usages.slice());
      ObjectFreeze(this);
    }
  }
  function hashName(h) {
    const n = typeof h === 'string' ? h : h && h.name;
    const up = String(n).toUpperCase();
    if (!['SHA-1', 'SHA-256', 'SHA-384', 'SHA-512'].includes(up))
      throw new DOMException(`Unsupported hash: ${n}`, 'NotSupportedError');
    return up;
  }
  function algName(a) {
    return String(typeof a === 'string' ? a : a.name).toUpperCase();
  }
  function keyFor(key, usage, alg) {
    if (!(key instanceof CryptoKey) || !keyMaterial.has(key))
      throw new TypeErrorCtor('key is not a CryptoKey');
    if (!key.usages.includes(usage))
      throw new DOMException(`key does not allow ${usage}`, 'InvalidAccessError');
    if (key.algorithm.name !== alg)
      throw new DOMException(`key is for ${key.algorithm.name}, not ${alg}`, 'InvalidAccessError');
    return keyMaterial.get(key);
  }
  function makeKey(raw, extractable, alg, usages) {
    const key = new CryptoKey('secret', !!extractable, alg, usages);
    keyMaterial.set(key, raw);
    return key;
  }
  const subtle = ObjectFreeze({
    async digest(alg, data) {
      return host.digest(hashName(alg), toBuffer(data));
    },
    async importKey(format, keyData, alg, extractable, usages) {
      if (format !== 'raw')
        throw new DOMException('only the raw key format is supported', 'NotSupportedError');
      const name = algName(alg);
      const raw = toBytes(keyData).slice();
      if (name === 'HMAC')
        return makeKey(
          raw,
          extractable,
          { name: 'HMAC', hash: { name: hashName(alg.hash) }, length: raw.length * 8 },
          usages,
        );
      if (name === 'AES-GCM') {
        if (![16, 24, 32].includes(raw.length))
          throw new DOMException('AES key must be 128, 192 or 256 bits', 'DataError');
        return makeKey(raw, extractable, { name: 'AES-GCM', length: raw.length * 8 }, usages);
      }
      throw new DOMException(`Unsupported algorithm: ${name}`, 'NotSupportedError');
    },
    async exportKey(format, key) {
      if (format !== 'raw')
        throw new DOMException('only the raw key format is supported', 'NotSupportedError');
      if (!key.extractable) throw new DOMException('key is not extractable', 'InvalidAccessError');
      return keyMaterial.get(key).slice().buffer;
    },
    async generateKey(alg, extractable, usages) {
      const name = algName(alg);
      if (name === 'HMAC') {
        const bytes = alg.length
          ? alg.length / 8
          : hashName(alg.hash) === 'SHA-512' || hashName(alg.hash) === 'SHA-384'
            ? 128
            : 64;
        return makeKey(
          new U8(host.random(bytes)),
          extractable,
          { name: 'HMAC', hash: { name: hashName(alg.hash) }, length: bytes * 8 },
          usages,
        );
      }
      if (name === 'AES-GCM')
        return subtle.importKey('raw', new U8(host.random(alg.length / 8)), { name }, extractable, usages);
      throw new DOMException(`Unsupported algorithm: ${name}`, 'NotSupportedError');
    },
    async sign(alg, key, data) {
      const raw = keyFor(key, 'sign', algName(alg));
      return host.hmac(key.algorithm.hash.name, raw.slice().buffer, toBuffer(data));
    },
    async verify(alg, key, signature, data) {
      const raw = keyFor(key, 'verify', algName(alg));
      return host.hmacVerify(
        key.algorithm.hash.name,
        raw.slice().buffer,
        toBuffer(signature),
        toBuffer(data),
      );
    },
    async encrypt(alg, key, data) {
      const raw = keyFor(key, 'encrypt', algName(alg));
      return host.aesGcm(
        true,
        raw.slice().buffer,
        toBuffer(alg.iv),
        toBuffer(data),
        alg.additionalData ? toBuffer(alg.additionalData) : null,
        alg.tagLength || 128,
      );
    },
    async decrypt(alg, key, data) {
      const raw = keyFor(key, 'decrypt', algName(alg));
      const out = await host.aesGcm(
        false,
        raw.slice().buffer,
        toBuffer(alg.iv),
        toBuffer(data),
        alg.additionalData ? toBuffer(alg.additionalData) : null,
        alg.tagLength || 128,
      );
      if (out === null)
        throw new DOMException('The operation failed for an operation-specific reason', 'OperationError');
      return out;
    },
  });
  const crypto = ObjectFreeze({
    subtle,
    getRandomValues(array) {
      if (!(
        array instanceof Int8Array ||
        array instanceof U8 ||
        array instanceof Uint8ClampedArray ||
        array instanceof Int16Array ||
        array instanceof Uint16Array ||
        array instanceof Int32Array ||
        array instanceof Uint32Array ||
        array instanceof BigInt64Array ||
        array instanceof BigUint64Array
      ))
        throw new DOMException('getRandomValues: an integer typed array is required', 'TypeMismatchError');
      if (array.byteLength > 65536)
        throw new DOMException('getRandomValues: at most 65536 bytes', 'QuotaExceededError');
      new U8(array.buffer, array.byteOffset, array.byteLength).set(new U8(host.random(array.byteLength)));
      return array;
    },
    randomUUID() {
      const b = new U8(host.random(16));
      b[6] = (b[6] & 0x0f) | 0x40;
      b[8] = (b[8] & 0x3f) | 0x80;
      let hex = '';
      for (let i = 0; i < 16; i++) hex += (b[i] + 0x100).toString(16).slice(1);
      return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
    },
  });

  // --- console -----------------------------------------------------------------------------------

  function show(v, depth = 0) {
    if (typeof v === 'string') return depth === 0 ? v : JSONStringify(v);
    if (v instanceof Error) return `${v.name}: ${v.message}`;
    if (typeof v === 'function') return `[Function ${v.name || 'anonymous'}]`;
    if (typeof v !== 'object' || v === null) return String(v);
    if (depth > 2) return ArrayIsArray(v) ? '[Array]' : '[Object]';
    try {
      if (ArrayIsArray(v)) return '[' + v.map((x) => show(x, depth + 1)).join(', ') + ']';
      return (
        '{' +
        Object.keys(v)
          .map((k) => `${k}: ${show(v[k], depth + 1)}`)
          .join(', ') +
        '}'
      );
    } catch {
      return '[Object]';
    }
  }
  const consoleObj = {};
  for (const level of ['log', 'info', 'warn', 'error', 'debug']) {
    consoleObj[level] = (...args) => {
      host.log(level, args.map((a) => show(a)).join(' '));
    };
  }

  // --- fetch (sub-requests through the node's cache) ---------------------------------------------

  async function fetch(input, init) {
    const req = input instanceof Request && init === undefined ? input : new Request(input, init);
    const body = req.method === 'GET' || req.method === 'HEAD' ? null : toBuffer(await req._bytes());
    const url = req.url;
    const proto = url.slice(0, url.indexOf(':'));
    if (proto !== 'http' && proto !== 'https')
      throw new TypeErrorCtor(`fetch: unsupported scheme "${proto}:"`);
    const res = await host.fetch(req.method, url, Headers._flat(req.headers), body, req.redirect);
    if (typeof res === 'string') throw new TypeErrorCtor(res);
    return Response._fromHost(res, url);
  }

  // --- KV bindings -------------------------------------------------------------------------------

  class KVNamespace {
    #ns;
    constructor(ns) {
      this.#ns = ns;
    }
    async get(key, options) {
      const type = typeof options === 'string' ? options : (options && options.type) || 'text';
      const r = await this.getWithMetadata(key, type);
      return r.value;
    }
    async getWithMetadata(key, options) {
      const type = typeof options === 'string' ? options : (options && options.type) || 'text';
      const r = await host.kvGet(this.#ns, String(key));
      if (r === null) return { value: null, metadata: null };
      const bytes = new U8(r.value);
      const metadata = r.metadata === null ? null : JSONParse(r.metadata);
      if (type === 'text') return { value: utf8Decode(bytes, false, false)[0], metadata };
      if (type === 'json') return { value: JSONParse(utf8Decode(bytes, false, false)[0]), metadata };
      if (type === 'arrayBuffer') return { value: toBuffer(bytes), metadata };
      if (type === 'stream') return { value: streamOf(bytes), metadata };
      throw new TypeErrorCtor(`KV get: unknown type "${type}"`);
    }
    async put(key, value, options = {}) {
      let bytes;
      if (typeof value === 'string') bytes = utf8Encode(value);
      else if (value instanceof ReadableStream) bytes = await readAll(value);
      else bytes = toBytes(value);
      const metadata = options.metadata === undefined ? null : JSONStringify(options.metadata);
      const ttl = options.expirationTtl === undefined ? null : Number(options.expirationTtl);
      const exp = options.expiration === undefined ? null : Number(options.expiration);
      const err = await host.kvPut(this.#ns, String(key), toBuffer(bytes), metadata, ttl, exp);
      if (err !== null) throw new TypeErrorCtor(err);
    }
    async delete(key) {
      const err = await host.kvDelete(this.#ns, String(key));
      if (err !== null) throw new TypeErrorCtor(err);
    }
    async list(options = {}) {
      const r = await host.kvList(
        this.#ns,
        options.prefix === undefined ? '' : String(options.prefix),
        options.limit === undefined ? 1000 : Number(options.limit),
        options.cursor === undefined ? null : String(options.cursor),
      );
      return {
        keys: r.keys.map((k) => ({
          name: k.name,
          expiration: k.expiration === null ? undefined : k.expiration,
          metadata: k.metadata === null ? undefined : JSONParse(k.metadata),
        })),
        list_complete: r.cursor === null,
        cursor: r.cursor === null ? undefined : r.cursor,
      };
    }
  }

  // --- Cache API (caches.default on the node's cache) -------------------------------------------

  function cacheUrl(request) {
    const url = request instanceof Request ? request.url : new URL(String(request)).href;
    return url;
  }
  class Cache {
    async match(request) {
      const method = request instanceof Request ? request.method : 'GET';
      if (method !== 'GET') return undefined;
      const r = await host.cacheMatch(
        cacheUrl(request),
        request instanceof Request ? Headers._flat(request.headers) : [],
      );
      return r === null ? undefined : Response._fromHost(r, cacheUrl(request));
    }
    async put(request, response) {
      const method = request instanceof Request ? request.method : 'GET';
      if (method !== 'GET') throw new TypeErrorCtor('Cache.put: only GET requests can be cached');
      if (response.status === 206) throw new TypeErrorCtor('Cache.put: a 206 response cannot be cached');
      const body = toBuffer(await response._bytes());
      const err = await host.cachePut(
        cacheUrl(request),
        response.status,
        Headers._flat(response.headers),
        body,
      );
      if (err !== null) throw new TypeErrorCtor(err);
    }
    async delete(request) {
      return host.cacheDelete(cacheUrl(request));
    }
  }
  const caches = ObjectFreeze({
    default: new Cache(),
    async open() {
      return new Cache();
    },
  });

  // --- structuredClone ---------------------------------------------------------------------------

  function structuredClone(value) {
    // The host's copy is V8's own serializer (ExternalCopy): the structured clone algorithm.
    return host.clone(value);
  }

  // --- install -----------------------------------------------------------------------------------

  const globals = {
    TextEncoder,
    TextDecoder,
    TextEncoderStream,
    TextDecoderStream,
    atob,
    btoa,
    DOMException,
    URL,
    URLSearchParams,
    Headers,
    Request,
    Response,
    ReadableStream,
    ReadableStreamDefaultReader,
    WritableStream,
    TransformStream,
    AbortController,
    AbortSignal,
    setTimeout,
    clearTimeout,
    setInterval,
    clearInterval: clearTimeout,
    queueMicrotask,
    crypto,
    CryptoKey,
    console: ObjectFreeze(consoleObj),
    fetch,
    caches,
    structuredClone,
    navigator: ObjectFreeze({ userAgent: 'Meridian-Workers' }),
  };
  for (const name of Object.keys(globals)) {
    ObjectDefine(G, name, { value: globals[name], writable: true, configurable: true, enumerable: false });
  }
  ObjectDefine(G, 'self', { value: G, writable: true, configurable: true, enumerable: false });

  // --- the dispatcher the host calls ------------------------------------------------------------

  let handler = null;
  /** Set by the host after the module evaluated: its default export. */
  function setHandler(mod) {
    if (mod === null || typeof mod !== 'object' || typeof mod.fetch !== 'function')
      return 'the module must `export default { async fetch(request, env, ctx) { ... } }`';
    handler = mod;
    return null;
  }

  function makeEnv(bindings) {
    const env = {};
    for (const b of bindings) {
      env[b.name] = b.type === 'kv_namespace' ? ObjectFreeze(new KVNamespace(b.namespace_id)) : b.text;
    }
    return ObjectFreeze(env);
  }

  let env = null;
  function setBindings(bindings) {
    env = makeEnv(bindings);
  }

  /**
   * One request: `head` is {method, url, headers: [[name, value]], cf}; `body` an ArrayBuffer or
   * null. Answers {status, statusText, headers, body: ArrayBuffer} or {error: string}; the host
   * then awaits `settle` for ctx.waitUntil work.
   */
  async function dispatch(id, method, url, headers, body, cf) {
    inFlight++;
    const waits = [];
    const ctx = ObjectFreeze({
      waitUntil(p) {
        waits.push(p);
      },
      passThroughOnException() {},
    });
    let result;
    try {
      const request = new Request(url, {
        method,
        headers,
        body: body === null ? null : body === true ? requestStream(id) : new U8(body),
        cf: ObjectFreeze(cf),
      });
      const response = await handler.fetch(request, env, ctx);
      if (!(response instanceof Response))
        throw new TypeErrorCtor('the fetch handler must return a Response');
      const b = response[BODY];
      if (method !== 'HEAD' && b.stream !== null && !b.used) {
        // A stream body goes out chunk by chunk as the worker produces it; the request stays in
        // flight (under its limits) until the stream ends.
        b.used = true;
        waits.push(pumpBody(id, b.stream));
        result = {
          status: response.status,
          statusText: response.statusText,
          headers: Headers._flat(response.headers),
          body: null,
        };
      } else {
        const bytes = method === 'HEAD' ? new U8(0) : await response._bytes();
        result = {
          status: response.status,
          statusText: response.statusText,
          headers: Headers._flat(response.headers),
          body: toBuffer(bytes),
        };
      }
    } catch (e) {
      result = { error: e instanceof Error ? `${e.name}: ${e.message}` : `uncaught: ${show(e)}` };
    }
    result.waits = waits.length;
    // No ctx.waitUntil work: the request ends with its response (the host calls no settle).
    if (waits.length === 0) endRequest();
    else pendingWaits.set(id, waits);
    return result;
  }
  const pendingWaits = new MapCtor();
  /** A request body the host streams in: each read pulls the next chunk from the client. */
  function requestStream(id) {
    return new ReadableStream({
      async pull(c) {
        const chunk = await host.requestChunk(id);
        if (chunk === null) c.close();
        else c.enqueue(new U8(chunk));
      },
    });
  }
  /** Sends a response stream's chunks to the host; false from the host: the client went away. */
  async function pumpBody(id, stream) {
    const reader = stream.getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        const bytes = typeof value === 'string' ? utf8Encode(value) : toBytes(value);
        if (bytes.byteLength === 0) continue;
        if (!(await host.bodyChunk(id, toBuffer(bytes)))) {
          await reader.cancel();
          return;
        }
      }
      await host.bodyChunk(id, null);
    } catch (e) {
      await host.bodyChunk(id, `error: ${e instanceof Error ? e.message : show(e)}`);
    }
  }
  function endRequest() {
    inFlight--;
    if (inFlight === 0) {
      // Timers do not outlive the requests: none may fire while the isolate is idle.
      timerGeneration++;
      timers.clear();
    }
  }
  /** Runs after the response went out: waits for ctx.waitUntil promises, then ends the request. */
  async function settle(id) {
    const waits = pendingWaits.get(id) || [];
    pendingWaits.delete(id);
    try {
      await PromiseAllSettled(waits);
    } finally {
      endRequest();
    }
  }
  /** After the module evaluated: its namespace (the default export is the handler) and the bindings. */
  function setup(ns, bindings) {
    const problem = setHandler(ns.default);
    if (problem !== null) return problem;
    setBindings(bindings);
    return null;
  }
  return { setup, dispatch, settle };
});
