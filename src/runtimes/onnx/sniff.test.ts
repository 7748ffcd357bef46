import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ModelportError } from '../../core/index.ts';
import { buildLogisticRegressionModel } from '../../onnx-builder/index.ts';
import { refusedFormat, sniffModelFile } from './sniff.ts';

const bytes = (...values: number[]) => new Uint8Array(values);
const text = (s: string) => new TextEncoder().encode(s);

describe('refusedFormat', () => {
  test('names pickles, zips, YAML tags and empty files', () => {
    assert.match(refusedFormat(bytes(0x80, 0x04, 0x95, 0x10)) ?? '', /pickle/);
    assert.match(refusedFormat(bytes(0x80, 0x02, 0x7d)) ?? '', /pickle/);
    assert.match(refusedFormat(text('PK\x03\x04rest')) ?? '', /zip/);
    assert.match(refusedFormat(text('model: !!python/object:sklearn.Thing {}\n')) ?? '', /YAML/);
    assert.match(refusedFormat(text('--- !ruby/object:Gem\n')) ?? '', /YAML/);
    assert.match(refusedFormat(new Uint8Array(0)) ?? '', /empty/);
  });

  test('lets an ONNX head through', () => {
    const onnx = buildLogisticRegressionModel({ weights: [1, 2], bias: 0, featureCount: 2 });
    assert.equal(refusedFormat(onnx.subarray(0, 4096)), undefined);
  });
});

describe('sniffModelFile', () => {
  let dir = '';
  const onnx = buildLogisticRegressionModel({ weights: [1, 2], bias: 0, featureCount: 2 });
  const write = async (name: string, data: Uint8Array) => {
    const path = join(dir, name);
    await writeFile(path, data);
    return path;
  };
  const refused = (pattern: RegExp) => (error: ModelportError) => {
    assert.equal(error.code, 'invalid_model');
    assert.equal(error.field, 'file');
    assert.match(error.message, pattern);
    assert.ok(!error.message.includes(dir), 'the message must not echo the server path');
    return true;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'modelport-sniff-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('accepts a whole ONNX model', async () => {
    await sniffModelFile(await write('ok.onnx', onnx));
  });

  test('refuses whatever the file is named', async () => {
    await assert.rejects(sniffModelFile(await write('a.onnx', bytes(0x80, 0x05, 0x95))), refused(/pickle/));
    await assert.rejects(sniffModelFile(await write('b.onnx', text('PK\x03\x04\x14\x00'))), refused(/zip/));
    await assert.rejects(sniffModelFile(await write('c.onnx', new Uint8Array(0))), refused(/empty/));
    await assert.rejects(
      sniffModelFile(await write('d.onnx', onnx.subarray(0, onnx.length - 7))),
      refused(/truncated/),
    );
    await assert.rejects(sniffModelFile(await write('e.onnx', text('just some text\n'))), refused(/not an ONNX/));
    // A protocol-0 pickle starts with '(' which is also a valid protobuf tag: the structural walk refuses it.
    await assert.rejects(sniffModelFile(await write('f.onnx', text('(dp0\nS"a"\np1\nI1\ns.'))), refused(/not an ONNX/));
    // Valid protobuf, but no graph.
    await assert.rejects(sniffModelFile(await write('g.onnx', bytes(0x08, 0x08))), refused(/no graph/));
    await assert.rejects(sniffModelFile(join(dir, 'missing.onnx')), refused(/cannot be read/));
  });
});
