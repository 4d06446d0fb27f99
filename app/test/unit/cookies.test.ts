import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Request } from 'express';
import { cookieName, cookieValues, keepOnlyCookie } from '../../src/cookies.ts';

const request = (cookie?: string) => ({ headers: { cookie } }) as Request;

describe('cookie names and duplicates', () => {
  it('`__Host-` names on secure requests only', () => {
    assert.equal(cookieName('sid', { secure: true }), '__Host-sid');
    assert.equal(cookieName('sid', { secure: false }), 'sid');
  });

  it('every value of one name, in header order, and nothing of a name that merely ends the same', () => {
    const req = request('xsid=a; sid=junk;sid=s%3Areal.sig ; __Host-sid=h; other=1');
    assert.deepEqual(cookieValues(req, 'sid'), ['junk', 's%3Areal.sig']);
    assert.deepEqual(cookieValues(req, '__Host-sid'), ['h']);
    assert.deepEqual(cookieValues(request(), 'sid'), []);
  });

  it('keeps one value of a name and every other cookie', () => {
    const req = request('sid=junk; a=1; sid=real; sid=real; b=2');
    keepOnlyCookie(req, 'sid', 'real');
    assert.equal(req.headers.cookie, ' a=1; sid=real; b=2');
    const none = request('sid=junk; a=1');
    keepOnlyCookie(none, 'sid', undefined);
    assert.deepEqual(cookieValues(none, 'sid'), []);
    assert.deepEqual(cookieValues(none, 'a'), ['1']);
  });
});
