import { vidaxError } from '../errors.ts';

export interface JsonMeterLimits {
  /** Most JSON values (objects, arrays, strings, numbers, literals; keys not counted) in one body. */
  readonly maxJsonValues: number;
  /** Most elements in one JSON array. */
  readonly maxJsonArrayLength: number;
}

// Array lengths are tracked this deep; deeper nesting is refused later by the job's shape guard
// (64 levels), and the values there are still counted.
const TRACKED_DEPTH = 1024;
const OBJECT = -1;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Counts the values of a JSON text as its bytes arrive, before anything parses it, and throws
 * 413 `payload_too_large` (`details: {limit, max}`) at the first value over `maxJsonValues` or
 * the first array element over `maxJsonArrayLength`: the cost of a body then never grows with
 * a count the server did not allow. It is a counter, not a validator: malformed JSON passes
 * through to `JSON.parse`, which refuses it.
 */
export function createJsonMeter(limits: JsonMeterLimits): (chunk: Uint8Array) => void {
  const lengths = new Int32Array(TRACKED_DEPTH); // per open container: elements so far, or OBJECT
  let depth = 0;
  let values = 0;
  let inString = false;
  let escaped = false;
  let inScalar = false;
  let expectKey = false; // inside an object, before a key's colon

  const tooMany = (limit: string, max: number, what: string) =>
    vidaxError('payload_too_large', `${what} exceeds ${limit} (${max})`, { details: { limit, max } });

  const valueStarts = () => {
    if (++values > limits.maxJsonValues) throw tooMany('maxJsonValues', limits.maxJsonValues, 'the number of JSON values');
    if (depth > 0 && depth <= TRACKED_DEPTH) {
      const n = lengths[depth - 1] as number;
      if (n !== OBJECT) {
        if (n + 1 > limits.maxJsonArrayLength) {
          throw tooMany('maxJsonArrayLength', limits.maxJsonArrayLength, 'a JSON array');
        }
        lengths[depth - 1] = n + 1;
      }
    }
  };

  return (chunk) => {
    const end = chunk.length;
    let nextBackslash = -1; // position of the next `\` at or after i in this chunk (end: none)
    for (let i = 0; i < end; i++) {
      if (inString) {
        // Strings are most of the bytes: jump through them with native searches.
        if (escaped) {
          escaped = false;
          continue;
        }
        if (nextBackslash < i) {
          nextBackslash = chunk.indexOf(BACKSLASH, i);
          if (nextBackslash < 0) nextBackslash = end;
        }
        let q = chunk.indexOf(QUOTE, i);
        if (q < 0) q = end;
        if (nextBackslash < q) {
          i = nextBackslash; // the loop's i++ then skips the escaped byte
          escaped = true;
          continue;
        }
        i = q; // the closing quote (or the chunk's end: the string goes on in the next chunk)
        if (q < end) inString = false;
        continue;
      }
      const c = chunk[i] as number;
      switch (c) {
        case QUOTE:
          inScalar = false;
          inString = true;
          if (!expectKey) valueStarts();
          break;
        case 0x7b: // {
        case 0x5b: // [
          inScalar = false;
          valueStarts();
          depth++;
          if (depth <= TRACKED_DEPTH) lengths[depth - 1] = c === 0x7b ? OBJECT : 0;
          expectKey = c === 0x7b;
          break;
        case 0x7d: // }
        case 0x5d: // ]
          inScalar = false;
          if (depth > 0) depth--;
          expectKey = false;
          break;
        case 0x3a: // :
          inScalar = false;
          expectKey = false;
          break;
        case 0x2c: // ,
          inScalar = false;
          expectKey = depth > 0 && depth <= TRACKED_DEPTH && lengths[depth - 1] === OBJECT;
          break;
        case 0x20:
        case 0x0a:
        case 0x0d:
        case 0x09:
          inScalar = false;
          break;
        default:
          if (!inScalar) {
            inScalar = true;
            valueStarts();
          }
      }
    }
  };
}
