import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VidaxError } from '../../lib/errors.ts';
import { createJsonMeter } from '../../lib/http/json-meter.ts';

/** Values (not keys) of a parsed JSON value, and its longest array. */
function reference(x: unknown): { values: number; longest: number } {
  let values = 0;
  let longest = 0;
  const stack = [x];
  while (stack.length > 0) {
    const v = stack.pop();
    values++;
    if (Array.isArray(v)) {
      longest = Math.max(longest, v.length);
      stack.push(...v);
    } else if (v !== null && typeof v === 'object') stack.push(...Object.values(v));
  }
  return { values, longest };
}

/** The meter's verdict: null, or the limit it names. */
function meter(text: string, maxValues: number, maxArray: number, split = 0): string | null {
  const feed = createJsonMeter({ maxJsonValues: maxValues, maxJsonArrayLength: maxArray });
  const bytes = Buffer.from(text);
  try {
    if (split > 0) for (let i = 0; i < bytes.length; i += split) feed(bytes.subarray(i, i + split));
    else feed(bytes);
    return null;
  } catch (err) {
    assert.ok(err instanceof VidaxError);
    assert.equal(err.status, 413);
    return (err.details as { limit: string }).limit;
  }
}

const SAMPLES = [
  '{"workflow":{"1":{"class_type":"X","inputs":{"a":["2",0],"b":-1.5e3,"c":true,"d":null,"e":"q\\\\\\"uo,te]}"}}},"k":[]}',
  '[1,2,[3,[4,5,{"a":"b"}]],"x\\\\",{},[],"\\"",false]',
  '  { "a" : [ 1 , 2 , 3 ] , "b" : { "c" : "d" } , "e\\u0022" : 0 }  ',
  '"just a string, with [brackets] and {braces} and \\"quotes\\""',
  '123',
];

describe('JSON meter', () => {
  it('counts exactly the values and the longest array of any JSON, however the bytes are split', () => {
    for (const text of SAMPLES) {
      const { values, longest } = reference(JSON.parse(text));
      for (const split of [0, 1, 2, 3, 7]) {
        assert.equal(meter(text, values, longest, split), null, `${text} split ${split}: at the limits`);
        assert.equal(meter(text, values - 1, longest + 1, split), 'maxJsonValues', `${text} split ${split}`);
        if (longest > 0) assert.equal(meter(text, values, longest - 1, split), 'maxJsonArrayLength', `${text} split ${split}`);
      }
    }
  });

  it('stops at the first value over the limit (before the rest is read)', () => {
    const feed = createJsonMeter({ maxJsonValues: 10, maxJsonArrayLength: 1000 });
    assert.throws(() => feed(Buffer.from(`[${'1,'.repeat(20)}`)), /maxJsonValues/);
  });
});
