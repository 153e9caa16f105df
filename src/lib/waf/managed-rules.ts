// Meridian's managed rule set: detection rules against SQL injection, XSS, path traversal, remote
// code and file inclusion, scanners and protocol anomalies, each with an id, a category and a
// paranoia level (1: few false positives, on by default; 2–4: stricter, for zones that accept more
// false positives), in the spirit of the OWASP Core Rule Set's levels. Written for Meridian (the
// patterns are our own, from the attack classes CRS and the OWASP cheat sheets describe; see
// docs/security.md): npm has no maintained libinjection port, so SQLi and XSS are caught by token
// patterns over the normalised value rather than libinjection's fingerprints.
//
// Every pattern runs on V8's regex engine over a normalised value of at most MAX_INSPECT
// characters, and none has a nested or overlapping quantifier (no catastrophic backtracking):
// customer-written expressions go through RE2 (lib/rules); these are ours, reviewed, and faster.
import { normalize, normalizeJoined } from './normalize.ts';

export type ManagedCategory = 'sqli' | 'xss' | 'traversal' | 'rce' | 'rfi' | 'scanner' | 'protocol';
export type ManagedAction = 'block' | 'managed_challenge' | 'js_challenge' | 'log';

/** Where a rule looks: the normalised request parts (ManagedInput). */
type Target = 'args' | 'path' | 'cookies' | 'ua' | 'headers' | 'method' | 'raw';

export interface ManagedRuleDef {
  readonly id: string;
  readonly category: ManagedCategory;
  readonly paranoia: 1 | 2 | 3 | 4;
  readonly description: string;
  readonly targets: readonly Target[];
  readonly pattern: RegExp;
  /** Substrings one of which a matching value contains (null: none known, always run). */
  readonly hints: readonly string[] | null;
  /** Default action (Cloudflare's managed rules default to block). */
  readonly action: ManagedAction;
}

const ARGS: readonly Target[] = ['args', 'cookies'];
const ARGS_PATH: readonly Target[] = ['args', 'path', 'cookies'];

const rule = (
  id: string,
  category: ManagedCategory,
  paranoia: 1 | 2 | 3 | 4,
  targets: readonly Target[],
  pattern: RegExp,
  description: string,
): ManagedRuleDef => ({
  id,
  category,
  paranoia,
  targets,
  // m: ^ and $ at each value of a joined target (Inspected).
  pattern: new RegExp(pattern.source, `${pattern.flags.replace('m', '')}m`),
  description,
  hints: HINTS[id] ?? null,
  action: 'block',
});

/**
 * For each rule, strings one of which every value it can match contains (checked with includes()
 * before the pattern runs: most values contain none, and the pattern is never tried). A rule
 * without hints always runs. A test checks that each hint list lets the rule's corpus attacks through.
 */
const HINTS: Readonly<Record<string, readonly string[]>> = {
  'mr-sqli-union': ['union'],
  'mr-sqli-tautology': ["'", '"', '`', ')'],
  'mr-sqli-numeric-tautology': ['or', 'and', 'xor', '||', '&&'],
  'mr-sqli-terminate': ["'", '"', '`'],
  'mr-sqli-stacked': [';'],
  'mr-sqli-functions': [
    'sleep',
    'benchmark',
    'waitfor',
    'load_file',
    'into',
    'information_schema',
    'extractvalue',
    'updatexml',
    'xp_cmdshell',
    'sys',
    'dbms_pipe',
    'utl_inaddr',
    '@@version',
    'group_concat',
  ],
  'mr-sqli-select-from': ['select'],
  'mr-sqli-order-by': [' by'],
  'mr-sqli-concat': ['concat', 'char', 'chr', '0x', 'cast', 'convert'],
  'mr-sqli-quote-keyword': ["'", '"', '`'],
  'mr-sqli-bool-literal': ['true', 'false'],
  'mr-sqli-comment': ['--', '#', '/*'],
  'mr-xss-script': ['<'],
  'mr-xss-handler': ['<'],
  'mr-xss-uri': ['script', 'data'],
  'mr-xss-tags': ['<'],
  'mr-xss-attrs': ['srcdoc', 'formaction', 'xlink', 'expression'],
  'mr-xss-dom': [
    'document',
    'window',
    'innerhtml',
    'alert',
    'prompt',
    'confirm',
    'eval',
    'fromcharcode',
    'atob',
  ],
  'mr-xss-quote-break': ["'", '"', '`'],
  'mr-xss-any-tag': ['<'],
  'mr-lfi-dotdot': ['..', '\u00e0', '\u00e1'],
  'mr-lfi-files': [
    'etc/',
    'proc/',
    'boot.ini',
    'win.ini',
    'system32',
    'system.ini',
    'htpasswd',
    'web.config',
  ],
  'mr-lfi-nullbyte': ['%', '\u0000'],
  'mr-rce-shell': [';', '|', '&', '`', '$('],
  'mr-rce-subst': ['$(', '`', '${ifs}'],
  'mr-rce-jndi': ['${'],
  'mr-rce-php': ['<?', '('],
  'mr-rce-introspection': ['__', 'getruntime', 'processbuilder', 'java.lang'],
  'mr-rce-template': ['{{', '${', '#{'],
  'mr-rce-unix-paths': ['/bin/', '/sbin/'],
  'mr-rfi-wrapper': [':'],
  'mr-rfi-url-question': ['://'],
  'mr-rfi-url': ['://'],
  'mr-scanner-paths': ['/.', 'phpmyadmin', 'server-status', 'cgi-bin', 'actuator', 'wp-config'],
  'mr-proto-crlf': ['%', '\r', '\n'],
};

export const MANAGED_RULES: readonly ManagedRuleDef[] = [
  // --- SQL injection ---
  rule('mr-sqli-union', 'sqli', 1, ARGS_PATH, /\bunion(?: all| distinct)? ?\(? ?select\b/, 'UNION SELECT'),
  rule(
    'mr-sqli-tautology',
    'sqli',
    1,
    ARGS,
    /['"`)] ?(?:or|and|xor|\|\||&&) ?(?:[('"`]{0,3} ?[\w@]{0,40} ?['"`)]? ?(?:=|<>|!=|<=|>=|<|>| like | is | in ?\(| between )|true\b|false\b|not\b|\d)/,
    "quote-terminated boolean condition (' or 1=1, ' or 'a'='a)",
  ),
  rule(
    'mr-sqli-numeric-tautology',
    'sqli',
    1,
    ARGS,
    /(?:^|[\s(])(?:or|and|xor|\|\||&&) ?\(? ?(\d{1,10}) ?\)? ?(?:=|<>|!=|>=|<=) ?\(? ?\d{1,10}\b/,
    'numeric tautology (1 or 1=1)',
  ),
  rule(
    'mr-sqli-terminate',
    'sqli',
    1,
    ARGS,
    /['"`] ?(?:;|--|#|\)) ?(?:--|#|;|$)/,
    'quote then comment or terminator',
  ),
  rule(
    'mr-sqli-stacked',
    'sqli',
    1,
    ARGS,
    /; ?(?:drop|delete|insert|update|select|shutdown|exec|execute|declare|truncate|alter|create|grant|rename)\b/,
    'stacked query',
  ),
  rule(
    'mr-sqli-functions',
    'sqli',
    1,
    ARGS_PATH,
    /\b(?:sleep ?\( ?\d|benchmark ?\(|pg_sleep ?\(|waitfor delay\b|load_file ?\(|into (?:out|dump)file\b|information_schema\b|extractvalue ?\(|updatexml ?\(|xp_cmdshell\b|sys\.(?:user_)?objects\b|sysobjects\b|dbms_pipe\.|utl_inaddr\.|@@version\b|group_concat ?\()/,
    'SQL functions and tables used by injection (time delays, file access, catalog)',
  ),
  rule(
    'mr-sqli-select-from',
    'sqli',
    1,
    ARGS,
    /\bselect\b.{1,100}?\bfrom\b.{1,100}?\b(?:where|limit|union|dual|information_schema|users?|admin|mysql|pg_)\b/,
    'SELECT … FROM … in a parameter',
  ),
  rule(
    'mr-sqli-order-by',
    'sqli',
    1,
    ARGS,
    /['"`)] ?(?:order|group) by \d/,
    'column probing with ORDER BY n',
  ),
  rule(
    'mr-sqli-concat',
    'sqli',
    2,
    ARGS,
    /\b(?:concat(?:_ws)? ?\(|char ?\( ?\d|chr ?\( ?\d|0x[0-9a-f]{8,}|cast ?\(.{1,60}? as\b|convert ?\()/,
    'string building used to smuggle values (CHAR(), 0x…, CAST)',
  ),
  rule(
    'mr-sqli-quote-keyword',
    'sqli',
    1,
    ARGS,
    /['"`] ?(?:having|union|select|insert|delete|update|drop|exec)\b/,
    'quote then keyword',
  ),
  rule(
    'mr-sqli-bool-literal',
    'sqli',
    1,
    ARGS,
    /(?:^|\d|['"`)]) ?(?:or|and|xor) (?:true|false)\b/,
    'boolean literal condition (1 or true)',
  ),
  rule('mr-sqli-comment', 'sqli', 3, ARGS, /(?:--|#) ?$|\/\*/, 'SQL comment in a parameter'),

  // --- Cross-site scripting ---
  rule('mr-xss-script', 'xss', 1, ARGS_PATH, /<\/? ?script\b|<\/? ?scr/, '<script> tag'),
  rule(
    'mr-xss-handler',
    'xss',
    1,
    ARGS_PATH,
    /<[a-z!/?][^>]{0,200}?[\s/"'`]on[a-z]{3,30} ?=/,
    'event handler attribute in a tag (<img onerror=…>)',
  ),
  rule(
    'mr-xss-uri',
    'xss',
    1,
    ARGS_PATH,
    /(?:java|vb|live)script ?:|data ?: ?text\/html|data ?: ?[a-z]+\/[a-z+]+ ?; ?base64/,
    'javascript: / vbscript: / data: URI',
  ),
  rule(
    'mr-xss-tags',
    'xss',
    1,
    ARGS_PATH,
    /<(?:iframe|frame|object|embed|applet|svg|math|base|link|meta|style|form|isindex|marquee|details|video|audio|body|img|image|input|textarea|xss|template|animate|set)\b/,
    'active HTML tag',
  ),
  rule(
    'mr-xss-attrs',
    'xss',
    1,
    ARGS,
    /\b(?:srcdoc|formaction|xlink:href) ?=|\bstyle ?= ?["']?[^"']{0,100}?expression ?\(/,
    'srcdoc / formaction / CSS expression()',
  ),
  rule(
    'mr-xss-dom',
    'xss',
    1,
    ARGS,
    /\b(?:document ?\. ?(?:cookie|domain|write)|window ?\. ?location|\.innerhtml|(?:alert|prompt|confirm|eval) ?(?:\(|`)|string ?\. ?fromcharcode|atob ?\()/,
    'script APIs used by XSS payloads (document.cookie, alert(), eval())',
  ),
  rule(
    'mr-xss-quote-break',
    'xss',
    2,
    ARGS,
    /["'`] ?>|["'] ?[a-z]{2,20} ?= ?["']/,
    'quote breaking out of an attribute',
  ),
  rule('mr-xss-any-tag', 'xss', 3, ARGS, /<[a-z][a-z0-9-]{0,20}[\s/>]/, 'any HTML tag in a parameter'),

  // --- Path traversal and local file inclusion ---
  rule(
    'mr-lfi-dotdot',
    'traversal',
    1,
    ARGS_PATH,
    /(?:^|[/=])\.\.(?:\/|;|$)|\u00e0\u00af|\u00e1\u009c/,
    'dot-dot segment (../, ..;, overlong UTF-8)',
  ),
  rule(
    'mr-lfi-files',
    'traversal',
    1,
    ARGS_PATH,
    /(?:^|\/)(?:etc\/(?:passwd|shadow|group|hosts|issue|crontab)|proc\/(?:self|\d+)\/(?:environ|cmdline|maps|fd)|boot\.ini|win\.ini|system32\/|windows\/system\.ini|\.htpasswd|web\.config)\b/,
    'sensitive system files',
  ),
  // eslint-disable-next-line no-control-regex -- NUL and control characters are what this looks for
  rule('mr-lfi-nullbyte', 'traversal', 1, ['raw'], /%(?:25)*00|\u0000/, 'NUL byte'),

  // --- Remote code execution ---
  rule(
    'mr-rce-shell',
    'rce',
    1,
    ARGS,
    /(?:[;|&`]|\$\(|\|\|) ?(?:\/(?:usr\/)?s?bin\/)?(?:cat|ls|id|whoami|uname|wget|curl|nc|ncat|netcat|bash|sh|zsh|python[23]?|perl|ruby|php|rm|chmod|echo|ping|nslookup|powershell|cmd)\b(?: |$|;|\|)/,
    'shell command after a separator',
  ),
  rule(
    'mr-rce-subst',
    'rce',
    1,
    ARGS,
    /\$\( ?[a-z]{2,20}\b|`[a-z]{2,20}(?: [^`]{0,200})?`|\$\{ifs\}/,
    'shell command substitution',
  ),
  rule(
    'mr-rce-jndi',
    'rce',
    1,
    ['args', 'path', 'cookies', 'ua', 'headers'],
    /\$\{ ?(?:jndi|env|sys|java|lower|upper|date|main|ctx|spring|base64)\b ?:/,
    'Log4Shell-style ${jndi:…} lookup',
  ),
  rule(
    'mr-rce-php',
    'rce',
    1,
    ARGS,
    /<\?(?:php|=)|\b(?:system|passthru|shell_exec|proc_open|popen|pcntl_exec|assert|create_function|call_user_func|base64_decode) ?\(/,
    'PHP code or execution functions',
  ),
  rule(
    'mr-rce-introspection',
    'rce',
    1,
    ARGS,
    /__(?:class|globals|init|subclasses|builtins|mro)__|\bgetruntime ?\(|\bprocessbuilder\b|\bjava\.lang\.runtime\b/,
    'template or expression-language introspection (__globals__, Runtime.getRuntime())',
  ),
  rule(
    'mr-rce-template',
    'rce',
    2,
    ARGS,
    /\{\{.{0,100}?(?:__class__|__globals__|config|self|request|lipsum|cycler|range)\b|\$\{.{0,60}?(?:runtime|processbuilder|getclass)\b|#\{.{0,60}?\}/,
    'server-side template injection',
  ),
  rule(
    'mr-rce-unix-paths',
    'rce',
    2,
    ARGS,
    /(?:^|[\s;|&])\/(?:bin|usr\/bin|sbin)\/[a-z]{2,}/,
    'absolute path to a Unix binary',
  ),

  // --- Remote file inclusion ---
  rule(
    'mr-rfi-wrapper',
    'rfi',
    1,
    ARGS,
    /\b(?:php|phar|zip|expect|file|glob|data|zlib|compress\.zlib|ogg|ssh2|rar) ?: ?\/\//,
    'PHP stream wrappers (php://filter, file://)',
  ),
  rule(
    'mr-rfi-url-question',
    'rfi',
    1,
    ARGS,
    /^(?:https?|ftps?):\/\/[^?]{1,300}\?$|^(?:https?|ftps?):\/\/\d{1,3}(?:\.\d{1,3}){3}/,
    'remote URL ending in "?" or to a bare IP',
  ),
  rule('mr-rfi-url', 'rfi', 3, ARGS, /^(?:https?|ftps?):\/\//, 'any remote URL as a parameter value'),

  // --- Scanners ---
  rule(
    'mr-scanner-ua',
    'scanner',
    1,
    ['ua'],
    /\b(?:sqlmap|nikto|nmap|masscan|acunetix|nessus|netsparker|w3af|dirbuster|gobuster|dirb|wpscan|zgrab|nuclei|havij|openvas|fimap|zmeu|jaeles|arachni|skipfish|whatweb|commix|xsstrike|wfuzz|ffuf|feroxbuster|joomscan|paros|burpcollaborator|morfeus)\b/,
    'security scanner User-Agent',
  ),
  rule(
    'mr-scanner-paths',
    'scanner',
    1,
    ['path'],
    /\/(?:\.git\/|\.svn\/|\.hg\/|\.env(?:\.|$)|\.ds_store|wp-config\.php\.|phpmyadmin\/|\.aws\/|server-status|cgi-bin\/(?:php|test)|actuator\/(?:env|heapdump))/,
    'paths scanners probe for (.git/, .env, phpMyAdmin)',
  ),

  // --- Protocol anomalies ---
  rule(
    'mr-proto-method',
    'protocol',
    1,
    ['method'],
    /^(?:track|trace|debug|connect)$/,
    'TRACE / TRACK / DEBUG / CONNECT',
  ),
  rule('mr-proto-no-ua', 'protocol', 2, ['ua'], /^$/, 'no User-Agent'),
  rule(
    'mr-proto-crlf',
    'protocol',
    1,
    ['raw'],
    /%(?:25)*0[da]|\r|\n/,
    'CR/LF in the target (header injection, response splitting)',
  ),
];

export const MANAGED_RULE_IDS: ReadonlySet<string> = new Set(MANAGED_RULES.map((r) => r.id));
export const MANAGED_CATEGORIES: readonly ManagedCategory[] = [
  'sqli',
  'xss',
  'traversal',
  'rce',
  'rfi',
  'scanner',
  'protocol',
];

/** The parts of a request the managed rules read, raw; `inspect` normalises each once. */
export interface ManagedInput {
  method: string;
  /** Path without the query. */
  path: string;
  /** The query without "?". */
  query: string;
  cookie: string;
  userAgent: string;
  /** Other headers inspected for lookups (Referer, X-Forwarded-For, X-Api-Version …): values only. */
  headers: readonly string[];
}

/**
 * The normalised values of each target, joined by "\n" (normalisation turns every control character
 * into a space, so "\n" never occurs inside a value): each rule runs once per target, its ^ and $
 * anchored at value boundaries (the m flag), "." never crossing into the next value.
 */
export type Inspected = Readonly<Record<Target, string>>;

/** The query's parameter names and values, each normalised on its own (^ sees a value's start). */
export function inspectArgs(query: string): string {
  if (query === '') return '';
  const args: string[] = [];
  for (const pair of query.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    if (eq < 0) args.push(normalize(pair));
    else {
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      if (name !== '') args.push(normalize(name));
      if (value !== '') {
        args.push(normalize(value));
        // UN/**/ION: also read with the comments taken out, not only as a space.
        const joined = normalizeJoined(value);
        if (joined !== null) args.push(joined);
      }
    }
    if (args.length >= 256) break;
  }
  return args.join('\n');
}

/** Each cookie's value, normalised. */
export function inspectCookies(cookie: string): string {
  if (cookie === '') return '';
  const cookies: string[] = [];
  for (const part of cookie.split(';')) {
    const eq = part.indexOf('=');
    const value = eq < 0 ? part.trim() : part.slice(eq + 1).trim();
    if (value !== '') cookies.push(normalize(value));
    if (cookies.length >= 64) break;
  }
  return cookies.join('\n');
}

/** The path normalised, and as sent (lower case) when that differs. */
export function inspectPath(path: string): string {
  const raw = path.toLowerCase();
  const normalized = normalize(path);
  return raw === normalized ? normalized : `${normalized}\n${raw}`;
}

/** Normalises a request's parts (ManagedEngine does the same part by part, remembering each). */
export function inspect(input: ManagedInput): Inspected {
  return {
    args: inspectArgs(input.query),
    path: inspectPath(input.path),
    cookies: inspectCookies(input.cookie),
    ua: input.userAgent.toLowerCase().replace(/\n/g, ' '),
    headers: input.headers.map((h) => normalize(h)).join('\n'),
    method: input.method.toLowerCase(),
    // A space: it cannot occur in a raw request target, and the CR/LF rule looks for "\n".
    raw: `${input.path.toLowerCase()} ${input.query.toLowerCase()}`,
  };
}

/** A managed rule as a zone runs it: its paranoia-selected rules with overrides applied. */
export interface ActiveManagedRule {
  readonly def: ManagedRuleDef;
  readonly action: ManagedAction;
}

/** The first rule that matches (rules are in order), or null. */
export function firstMatch(
  rules: readonly ActiveManagedRule[],
  inspected: Inspected,
  skip: ReadonlySet<string> | null,
): ActiveManagedRule | null {
  for (const active of rules) {
    if (skip?.has(active.def.id)) continue;
    const { pattern, hints } = active.def;
    for (const target of active.def.targets) {
      const value = inspected[target];
      // An empty target matches only the rules written for emptiness (no User-Agent).
      if (value === '' && target !== 'ua') continue;
      if (hints !== null && !hasAny(value, hints)) continue;
      if (pattern.test(value)) return active;
    }
  }
  return null;
}

/** Overrides as the managed phase's execute rule gives them (common/config/ruleset.ts). */
export interface ManagedSelection {
  paranoia_level: number;
  action?: ManagedAction | undefined;
  rules?:
    readonly { id: string; enabled?: boolean | undefined; action?: ManagedAction | undefined }[] | undefined;
  categories?:
    | readonly { category: string; enabled?: boolean | undefined; action?: ManagedAction | undefined }[]
    | undefined;
}

/**
 * The rules a zone runs: those at or below its paranoia level, then category and rule overrides
 * (a rule override wins over its category's; an explicit enabled: true turns on a rule above the
 * level), then the ruleset-wide action.
 */
export function selectManagedRules(selection: ManagedSelection): ActiveManagedRule[] {
  const byRule = new Map((selection.rules ?? []).map((r) => [r.id, r]));
  const byCategory = new Map((selection.categories ?? []).map((c) => [c.category, c]));
  const out: ActiveManagedRule[] = [];
  for (const def of MANAGED_RULES) {
    const r = byRule.get(def.id);
    const c = byCategory.get(def.category);
    const enabled = r?.enabled ?? c?.enabled ?? def.paranoia <= selection.paranoia_level;
    if (!enabled) continue;
    out.push({ def, action: r?.action ?? c?.action ?? selection.action ?? def.action });
  }
  return out;
}

function hasAny(value: string, hints: readonly string[]): boolean {
  for (let i = 0; i < hints.length; i++) if (value.includes(hints[i] as string)) return true;
  return false;
}

/** Verdicts remembered per target and raw value; emptied when full. */
const MEMO_ENTRIES = 4096;
const MEMO_VALUE_LENGTH = 1024;
const NO_MATCH = -1;
/** A value normalisation leaves alone but for case (no escape, entity, space or punctuation but - _ .). */
const TOKEN = /^[A-Za-z0-9_.-]{1,128}$/;
const lowerCase = (value: string): string => value.toLowerCase();

/** The characters of a lower-case token as bits: a–z in the first set; 0–9, "_", ".", "-" in the second. */
function charMask(value: string): [number, number] {
  let letters = 0;
  let others = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c >= 97 && c <= 122) letters |= 1 << (c - 97);
    else if (c >= 48 && c <= 57) others |= 1 << (c - 48);
    else if (c === 95) others |= 1 << 10;
    else if (c === 46) others |= 1 << 11;
    else if (c === 45) others |= 1 << 12;
  }
  return [letters, others];
}
const prepareUserAgent = (ua: string): string => ua.toLowerCase().replace(/\n/g, ' ');
/** Headers arrive joined by "\n" (their memo key); each is normalised on its own. */
const prepareHeaders = (joined: string): string =>
  joined
    .split('\n')
    .map((h) => normalize(h))
    .join('\n');

/**
 * A zone's managed rules, run part by part: the first matching rule of the request is the one with
 * the lowest index over its parts, so each part's first match (an index, or none) can be remembered
 * by its raw value. A cache hit repeats its URL, User-Agent and mostly its cookies: only the parts
 * not seen before are normalised and matched. Same verdicts as firstMatch(rules, inspect(input)).
 */
export class ManagedEngine {
  readonly rules: readonly ActiveManagedRule[];
  readonly #byTarget: Record<Target, number[]>;
  /** Cookie rules a token can reach, with the character sets of their token-character hints. */
  readonly #tokenCookieRules: { index: number; masks: [number, number][] | null }[];
  readonly #memo: Record<Target, Map<string, number>>;

  constructor(rules: readonly ActiveManagedRule[]) {
    this.rules = rules;
    const byTarget: Record<Target, number[]> = {
      args: [],
      path: [],
      cookies: [],
      ua: [],
      headers: [],
      method: [],
      raw: [],
    };
    rules.forEach((r, i) => {
      for (const t of r.def.targets) byTarget[t].push(i);
    });
    this.#byTarget = byTarget;
    this.#tokenCookieRules = byTarget.cookies
      .map((index) => {
        const hints = (rules[index] as ActiveManagedRule).def.hints;
        const tokenHints = hints?.filter((h) => /^[a-z0-9_.-]+$/.test(h)) ?? null;
        return { index, masks: tokenHints === null ? null : tokenHints.map(charMask) };
      })
      .filter((r) => r.masks === null || r.masks.length > 0);
    this.#memo = {
      args: new Map(),
      path: new Map(),
      cookies: new Map(),
      ua: new Map(),
      headers: new Map(),
      method: new Map(),
      raw: new Map(),
    };
  }

  match(input: ManagedInput, skip: ReadonlySet<string> | null): ActiveManagedRule | null {
    // Module-level prepare functions and no closures: nothing is allocated for a remembered part.
    let best = this.#consider('args', input.query, inspectArgs, skip, Number.MAX_SAFE_INTEGER);
    best = this.#consider('path', input.path, inspectPath, skip, best);
    if (input.cookie !== '') {
      // Cookie by cookie: a session id changes on every visitor while the rest repeat. A short
      // token (letters, digits, - _ .) is matched directly, never remembered: a churn of unique
      // session ids must not flush the remembered values.
      let n = 0;
      for (const part of input.cookie.split(';')) {
        const eq = part.indexOf('=');
        const value = eq < 0 ? part.trim() : part.slice(eq + 1).trim();
        if (value === '') continue;
        if (TOKEN.test(value)) {
          const index = this.#firstOfToken(value.toLowerCase(), skip);
          if (index !== NO_MATCH && index < best) best = index;
        } else best = this.#consider('cookies', value, normalize, skip, best);
        if (++n >= 64) break;
      }
    }
    best = this.#consider('ua', input.userAgent, prepareUserAgent, skip, best);
    best = this.#consider('method', input.method, lowerCase, skip, best);
    if (input.headers.length > 0) {
      best = this.#consider('headers', input.headers.join('\n'), prepareHeaders, skip, best);
    }
    best = this.#consider('raw', `${input.path} ${input.query}`, lowerCase, skip, best);
    return best === Number.MAX_SAFE_INTEGER ? null : (this.rules[best] as ActiveManagedRule);
  }

  /** The lower of `best` and the part's first match (remembered by its raw value). */
  #consider(
    target: Target,
    raw: string,
    prepare: (raw: string) => string,
    skip: ReadonlySet<string> | null,
    best: number,
  ): number {
    const memo = skip === null && raw.length <= MEMO_VALUE_LENGTH ? this.#memo[target] : null;
    let index = memo?.get(raw);
    if (index === undefined) {
      index = this.#first(target, prepare(raw), skip);
      if (memo !== null) {
        if (memo.size >= MEMO_ENTRIES) memo.clear();
        memo.set(raw, index);
      }
    }
    return index !== NO_MATCH && index < best ? index : best;
  }

  /**
   * A token (TOKEN) can only match a cookie rule whose hints include one made of token characters
   * (or that has none): the others need a character a token lacks.
   */
  #firstOfToken(value: string, skip: ReadonlySet<string> | null): number {
    // Which characters the token has (two bit sets): a hint with a character it lacks cannot occur
    // in it, so most rules are passed over without a substring search (a hex or digit session id
    // reaches none).
    const [letters, others] = charMask(value);
    for (const { index, masks } of this.#tokenCookieRules) {
      const def = (this.rules[index] as ActiveManagedRule).def;
      if (skip?.has(def.id)) continue;
      if (masks !== null && !masks.some(([l, o]) => (l & ~letters) === 0 && (o & ~others) === 0)) continue;
      if (def.hints !== null && !hasAny(value, def.hints)) continue;
      if (def.pattern.test(value)) return index;
    }
    return NO_MATCH;
  }

  #first(target: Target, value: string, skip: ReadonlySet<string> | null): number {
    if (value === '' && target !== 'ua') return NO_MATCH;
    for (const i of this.#byTarget[target]) {
      const def = (this.rules[i] as ActiveManagedRule).def;
      if (skip?.has(def.id)) continue;
      if (def.hints !== null && !hasAny(value, def.hints)) continue;
      if (def.pattern.test(value)) return i;
    }
    return NO_MATCH;
  }
}
