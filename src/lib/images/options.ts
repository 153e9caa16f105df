// Image resizing options in Cloudflare's URL format: /cdn-cgi/image/<options>/<source path>, options
// comma-separated `name=value` (width=320,quality=75,format=auto; w, h, q, f as short names). Pure:
// the edge's image step (edge/pipeline/image.ts) does the fetching and the transform.

export type ImageFit = 'scale-down' | 'contain' | 'cover' | 'crop' | 'pad';
export type ImageFormat = 'auto' | 'webp' | 'avif' | 'jpeg' | 'png';
export type OutputFormat = Exclude<ImageFormat, 'auto'>;

export interface ImageOptions {
  width: number | null;
  height: number | null;
  fit: ImageFit;
  quality: number;
  format: ImageFormat;
}

export const IMAGE_PREFIX = '/cdn-cgi/image/';
/** Largest width or height asked for (Cloudflare's limit is of the same order). */
export const MAX_DIMENSION = 8192;

const FITS: ReadonlySet<string> = new Set(['scale-down', 'contain', 'cover', 'crop', 'pad']);
const FORMATS: ReadonlySet<string> = new Set(['auto', 'webp', 'avif', 'jpeg', 'png']);
const NAMES: Record<string, keyof ImageOptions> = {
  width: 'width',
  w: 'width',
  height: 'height',
  h: 'height',
  fit: 'fit',
  quality: 'quality',
  q: 'quality',
  format: 'format',
  f: 'format',
};

export type ParsedImagePath =
  { kind: 'image'; options: ImageOptions; source: string } | { kind: 'invalid'; message: string };

/** Splits `/cdn-cgi/image/<options>/<source>`; the target must start with IMAGE_PREFIX. */
export function parseImagePath(target: string): ParsedImagePath {
  const rest = target.slice(IMAGE_PREFIX.length);
  const slash = rest.indexOf('/');
  if (slash <= 0) return { kind: 'invalid', message: 'expected /cdn-cgi/image/<options>/<path>' };
  const options = parseImageOptions(decodeURIComponent(rest.slice(0, slash)));
  if (typeof options === 'string') return { kind: 'invalid', message: options };
  const source = rest.slice(slash);
  if (source.startsWith('//') || source.startsWith(IMAGE_PREFIX))
    return { kind: 'invalid', message: 'the source must be a path of this zone' };
  return { kind: 'image', options, source };
}

/** The options, or a message naming the bad one. */
export function parseImageOptions(text: string): ImageOptions | string {
  const options: ImageOptions = { width: null, height: null, fit: 'scale-down', quality: 85, format: 'auto' };
  const seen = new Set<string>();
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    const rawName = (eq < 0 ? part : part.slice(0, eq)).trim().toLowerCase();
    const value = eq < 0 ? '' : part.slice(eq + 1).trim();
    const name = NAMES[rawName];
    if (name === undefined) return `option "${rawName}": unknown (width, height, fit, quality, format)`;
    if (seen.has(name)) return `option ${name}: given twice`;
    seen.add(name);
    switch (name) {
      case 'width':
      case 'height': {
        const n = integerIn(value, 1, MAX_DIMENSION);
        if (n === null)
          return `option ${name}: expected an integer from 1 to ${MAX_DIMENSION}, got "${value}"`;
        options[name] = n;
        break;
      }
      case 'quality': {
        const n = integerIn(value, 1, 100);
        if (n === null) return `option quality: expected an integer from 1 to 100, got "${value}"`;
        options.quality = n;
        break;
      }
      case 'fit':
        if (!FITS.has(value))
          return `option fit: expected scale-down, contain, cover, crop or pad, got "${value}"`;
        options.fit = value as ImageFit;
        break;
      case 'format':
        if (!FORMATS.has(value))
          return `option format: expected auto, webp, avif, jpeg or png, got "${value}"`;
        options.format = value as ImageFormat;
        break;
    }
  }
  return options;
}

function integerIn(value: string, min: number, max: number): number | null {
  if (!/^\d{1,6}$/.test(value)) return null;
  const n = Number(value);
  return n >= min && n <= max ? n : null;
}

/** The format chosen for a request: 'original' is PNG for a PNG source, JPEG for any other. */
export type ChosenFormat = OutputFormat | 'original';

/**
 * format=auto: AVIF, then WebP, when the client's Accept names them; else the source's own kind
 * ('original'). An explicit format is kept. The choice is part of the variant's key.
 */
export function chooseFormat(format: ImageFormat, accept: string | undefined): ChosenFormat {
  if (format !== 'auto') return format;
  const a = (accept ?? '').toLowerCase();
  if (a.includes('image/avif')) return 'avif';
  if (a.includes('image/webp')) return 'webp';
  return 'original';
}

export function outputFormatOf(chosen: ChosenFormat, sourceFormat: string | undefined): OutputFormat {
  if (chosen !== 'original') return chosen;
  return sourceFormat === 'png' ? 'png' : 'jpeg';
}

/** The options as one canonical string (a part of the variant's cache key). */
export function canonicalOptions(o: ImageOptions, format: ChosenFormat): string {
  return `w=${o.width ?? ''},h=${o.height ?? ''},fit=${o.fit},q=${o.quality},f=${format}`;
}
