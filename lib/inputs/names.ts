import { extname } from 'node:path';

/** Input names: a letter or digit, then letters, digits, `.`, `_`, `-`; at most 128 characters. */
export const INPUT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export const isInputName = (name: string): boolean => INPUT_NAME.test(name);

/**
 * The client's file name, kept only as information: its last path segment, printable characters
 * only, at most 255; `fallback` when nothing usable is left.
 */
export function cleanFilename(raw: string | undefined, fallback: string): string {
  const last = (raw ?? '').split(/[\\/]/).pop() ?? '';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is removed
  const clean = last.replace(/[\u0000-\u001f\u007f\u202a-\u202e\u2066-\u2069]/g, '').trim().slice(0, 255);
  return clean === '' || clean === '.' || clean === '..' ? fallback : clean;
}

const MEDIA_TYPE = /^[a-z0-9!#$&^_.+-]{1,64}\/[a-z0-9!#$&^_.+-]{1,64}$/;

const BY_EXTENSION: Record<string, string> = {
  '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.webp': 'image/webp', '.gif': 'image/gif',
  '.wav': 'audio/wav', '.mp3': 'audio/mpeg', '.flac': 'audio/flac', '.ogg': 'audio/ogg', '.m4a': 'audio/mp4',
  '.mp4': 'video/mp4', '.webm': 'video/webm', '.mov': 'video/quicktime', '.mkv': 'video/x-matroska',
  '.json': 'application/json', '.txt': 'text/plain',
};

/** The type of a file by its name, or application/octet-stream. */
export function typeByName(name: string): string {
  return BY_EXTENSION[extname(name).toLowerCase()] ?? 'application/octet-stream';
}

/** A declared media type kept only if it is a plain `type/subtype`; else guessed from the name. */
export function cleanContentType(declared: string | undefined | null, filename: string): string {
  const base = (declared ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (MEDIA_TYPE.test(base) && base !== 'text/plain' && base !== 'application/octet-stream') return base;
  // busboy reports an undeclared part type as text/plain: a known extension wins over the generic types
  const guess = typeByName(filename);
  if (guess !== 'application/octet-stream') return guess;
  return MEDIA_TYPE.test(base) ? base : guess;
}

/** The name an input gets in ComfyUI: the input name, plus the extension of its file name if it has none. */
export function comfyuiFileName(name: string, filename: string): string {
  if (extname(name) !== '') return name;
  const ext = extname(filename);
  return /^\.[A-Za-z0-9]{1,8}$/.test(ext) ? `${name}${ext.toLowerCase()}` : name;
}
