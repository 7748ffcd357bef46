import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { readMlflowModel } from './mlflow.ts';

describe('readMlflowModel', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'modelport-mlflow-'));
    await writeFile(join(root, 'outside.onnx'), 'x');
  });
  after(() => rm(root, { recursive: true, force: true }));

  const model = async (name: string, mlmodel: string, files: Record<string, string> = {}) => {
    const dir = join(root, name);
    await mkdir(dir);
    await writeFile(join(dir, 'MLmodel'), mlmodel);
    for (const [file, text] of Object.entries(files)) await writeFile(join(dir, file), text);
    return dir;
  };

  test('reads the onnx flavor file and the signature block', async () => {
    const dir = await model(
      'ok',
      'flavors:\n  onnx:\n    data: model.onnx\nsignature:\n  inputs: \'[{"name": "x", "type": "double"}]\'\n  outputs: \'[{"type": "long"}]\'\n',
      { 'model.onnx': 'bytes' },
    );
    const read = await readMlflowModel(dir);
    assert.equal(read.onnxPath, join(dir, 'model.onnx'));
    assert.deepEqual(read.signature, { inputs: [{ name: 'x', type: 'double' }], outputs: [{ type: 'long' }] });
  });

  test('refuses data outside the folder, by path or by link, and folders without an onnx flavor', async () => {
    await assert.rejects(readMlflowModel(await model('up', 'flavors:\n  onnx:\n    data: ../outside.onnx\n')), {
      code: 'invalid_model',
      message: /outside the model folder/,
    });
    await assert.rejects(
      readMlflowModel(await model('abs', `flavors:\n  onnx:\n    data: ${join(root, 'outside.onnx')}\n`)),
      {
        message: /outside the model folder/,
      },
    );
    const linked = await model('link', 'flavors:\n  onnx:\n    data: model.onnx\n');
    await symlink(join(root, 'outside.onnx'), join(linked, 'model.onnx'));
    await assert.rejects(readMlflowModel(linked), { message: /outside the model folder/ });
    await assert.rejects(readMlflowModel(await model('missing', 'flavors:\n  onnx:\n    data: none.onnx\n')), {
      message: /not a file in the folder/,
    });
    await assert.rejects(readMlflowModel(await model('tagged', 'flavors: !!python/object:os.system {}\n')), {
      code: 'invalid_model',
    });
    const bare = join(root, 'bare');
    await mkdir(bare);
    await assert.rejects(readMlflowModel(bare), { message: /no MLmodel file/ });
  });
});
