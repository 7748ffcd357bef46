import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { ModelportError } from '../../core/index.ts';
import { resolveMetadataTarget } from './metadata-url.ts';

const home = '/srv/modelport';

const rejectsWith = (url: string, pattern: RegExp) =>
  assert.throws(
    () => resolveMetadataTarget({ url, home }),
    (error) =>
      error instanceof ModelportError &&
      error.code === 'invalid_config' &&
      error.field === 'databaseUrl' &&
      pattern.test(error.message),
  );

describe('resolveMetadataTarget', () => {
  test('no URL, or an empty one, means SQLite in the home folder', () => {
    const expected = { dialect: 'sqlite', path: join(home, 'modelport.db'), location: join(home, 'modelport.db') };
    assert.deepEqual(resolveMetadataTarget({ home }), expected);
    assert.deepEqual(resolveMetadataTarget({ url: '  ', home }), expected);
  });

  test('sqlite: URLs and bare paths name the file; relative paths resolve against the working directory', () => {
    const path = (url: string) => {
      const target = resolveMetadataTarget({ url, home });
      assert.equal(target.dialect, 'sqlite');
      return target.location;
    };
    assert.equal(path('sqlite:/data/meta.db'), '/data/meta.db');
    assert.equal(path('sqlite:///data/meta.db'), '/data/meta.db');
    assert.equal(path('sqlite:meta.db'), resolve('meta.db'));
    assert.equal(path('./state/meta.db'), resolve('state/meta.db'));
    assert.equal(path('/data/meta.db'), '/data/meta.db');
    assert.equal(path('sqlite::memory:'), ':memory:');
  });

  test('postgres URLs take the schema parameter out and hide the password in the location', () => {
    const target = resolveMetadataTarget({
      url: 'postgresql://mp:s3cret@db:5432/mp?schema=ci_7&sslmode=require',
      home,
    });
    assert.deepEqual(target, {
      dialect: 'postgres',
      connectionString: 'postgresql://mp:s3cret@db:5432/mp?sslmode=require',
      schema: 'ci_7',
      location: 'postgresql://mp@db:5432/mp?schema=ci_7&sslmode=require',
    });
    const plain = resolveMetadataTarget({ url: 'postgres://mp@db/mp', home });
    assert.equal(plain.dialect === 'postgres' && plain.schema, undefined);
  });

  test('unsupported schemes, bad schema names and empty sqlite paths are invalid_config naming databaseUrl', () => {
    rejectsWith('mysql://root@db/mp', /mysql:\/\/ is not supported/);
    rejectsWith('postgres://mp:s3cret@db/mp?schema=Bad-Name', /schema parameter/);
    rejectsWith('postgres://mp:s3cret@db/mp?schema=x;drop', /schema parameter/);
    rejectsWith('sqlite:', /needs a file path/);
    assert.throws(
      () => resolveMetadataTarget({ url: 'postgres://mp:s3cret@db/mp?schema=BAD', home }),
      (error) => error instanceof Error && !error.message.includes('s3cret'),
    );
  });
});
