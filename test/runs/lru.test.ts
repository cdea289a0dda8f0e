import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Lru } from '../../lib/runs/lru.ts';

describe('Lru', () => {
  it('is bounded by count and by total weight, forgetting the least recently used first', () => {
    const lru = new Lru<string, string>(100, 1000);
    for (let i = 0; i < 50; i++) lru.set(`k${i}`, 'v', 100);
    assert.equal(lru.size, 10);
    assert.equal(lru.weight, 1000);
    assert.equal(lru.has('k39'), false);
    assert.equal(lru.has('k40'), true);
    lru.get('k40'); // now the most recent
    lru.set('big', 'v', 500);
    assert.equal(lru.has('k40'), true);
    assert.equal(lru.has('k41'), false);
    assert.ok(lru.weight <= 1000);
  });

  it('keeps no entry heavier than the whole budget, and replacing an entry re-weighs it', () => {
    const lru = new Lru<string, string>(10, 1000);
    lru.set('a', 'v', 400);
    lru.set('huge', 'v', 5000);
    assert.equal(lru.has('huge'), false);
    assert.equal(lru.has('a'), true);
    lru.set('a', 'w', 100);
    assert.equal(lru.weight, 100);
    assert.equal(lru.get('a'), 'w');
    lru.delete('a');
    assert.equal(lru.weight, 0);
  });
});
