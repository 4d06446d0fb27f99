import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parsePageNumber, parseProductEdit, parseProductId } from '../../src/catalog/validate.ts';

test('product id › whole numbers from 1 to 2^31-1 only', () => {
  assert.equal(parseProductId('1'), 1);
  assert.equal(parseProductId('2147483647'), 2147483647);
  for (const raw of ['', '0', '-1', '01', '1.0', '1e3', ' 1', '0x10', '2147483648', '99999999999', undefined]) {
    assert.throws(() => parseProductId(raw), { status: 400 }, String(raw));
  }
});

test('page number › 1 by default, 1 to 9999', () => {
  assert.equal(parsePageNumber(undefined), 1);
  assert.equal(parsePageNumber('20'), 20);
  for (const raw of ['0', '10000', 'x', ['1', '2']]) assert.throws(() => parsePageNumber(raw), { status: 400 });
});

test('product edit › trims, and names every problem', () => {
  assert.deepEqual(parseProductEdit({ name: '  Lamp ', price: '12.5', _csrf: 'x' }), { name: 'Lamp', price: '12.5' });
  assert.throws(
    () => parseProductEdit({ name: '', price: '-1' }),
    (err: Error & { status: number }) => err.status === 400 && /name is required/.test(err.message) && /price/.test(err.message),
  );
  assert.throws(() => parseProductEdit({ name: ['a'], price: '1' }), { status: 400 });
  assert.throws(() => parseProductEdit(undefined), { status: 400 });
  assert.throws(() => parseProductEdit({ name: 'A', price: '10000000' }), /less than 10,000,000/);
});
