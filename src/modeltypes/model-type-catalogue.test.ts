import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse } from 'yaml';
import { ModelportError } from '../core/index.ts';
import { ModelTypeCatalogue } from './model-type-catalogue.ts';
import { renderTemplate } from './template.ts';

const custom = () => ({
  name: 'xgboost-2.1',
  runtime: 'container',
  default_base_image: { name: 'mlserver-xgb', value: 'docker.io/seldonio/mlserver:1.6.1-xgboost' },
  available_base_images: [{ name: 'mlserver-xgb', value: 'docker.io/seldonio/mlserver:1.6.1-xgboost' }],
  templates: { kubernetes: 'image: "{{ image }}"\nargs: ["--port", "{{ port }}"]\n', compose: { ref: 'sklearn-1.5' } },
});

const fails = (code: string, field: string, text?: RegExp) => (e: unknown) => {
  assert.ok(e instanceof ModelportError, String(e));
  assert.equal(e.code, code, e.message);
  assert.equal(e.field, field, e.message);
  if (text) assert.match(e.message, text);
  return true;
};

describe('model type catalogue', () => {
  test('maps MLflow flavors to one type each and refuses a flavor claimed twice', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'modelport-flavors-'));
    try {
      const catalogue = await ModelTypeCatalogue.open(join(dir, 'modeltypes.yaml'));
      assert.equal((await catalogue.forFlavor('sklearn'))?.name, 'sklearn-1.5');
      assert.equal((await catalogue.forFlavor('xgboost'))?.name, 'xgboost-2');
      assert.equal((await catalogue.forFlavor('pytorch'))?.name, 'pytorch-2.4');
      assert.equal((await catalogue.forFlavor('pyfunc'))?.name, 'mlflow-pyfunc');
      assert.equal(await catalogue.forFlavor('h2o'), undefined);
      const sklearn = await catalogue.get('sklearn-1.5');
      assert.equal(sklearn.kserve_format, 'sklearn');
      await assert.rejects(catalogue.add({ ...sklearn, name: 'sklearn-1.6' }), (e: unknown) => {
        assert.ok(e instanceof ModelportError && e.code === 'invalid_request', String(e));
        assert.match(e.message, /flavor 'sklearn' already maps to the model type 'sklearn-1.5'/);
        return true;
      });
      assert.equal(
        (await catalogue.list()).some((t) => t.name === 'sklearn-1.6'),
        false,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  let dir: string;
  let n = 0;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'modelport-modeltypes-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));
  const fresh = async () => {
    const file = join(dir, `home${n++}`, 'modeltypes.yaml');
    return { file, catalogue: await ModelTypeCatalogue.open(file) };
  };

  test('seeds the defaults on first start: onnx, js, hosted and container types', async () => {
    const { catalogue, file } = await fresh();
    const types = await catalogue.list();
    assert.deepEqual(
      types.map((t) => [t.name, t.runtime]),
      [
        ['onnx', 'onnx'],
        ['js', 'js'],
        ['hosted', 'hosted'],
        ['sklearn-1.5', 'container'],
        ['pytorch-2.4', 'container'],
        ['xgboost-2', 'container'],
        ['mlflow-pyfunc', 'container'],
        ['sas-scr', 'container'],
      ],
    );
    assert.match(await readFile(file, 'utf8'), /^# Modelport model types/);
    const js = await catalogue.template('js', 'kubernetes');
    assert.equal(js, await catalogue.template('onnx', 'kubernetes'));
    const rendered = parse(
      renderTemplate(js!, { name: 'm', image: 'i:1', port: '8080', 'model.uri': 's3://b/m', 'model.name': 'm' }),
    );
    assert.equal(rendered.image, 'i:1');
    assert.equal(rendered.ports[0].containerPort, 8080);
  });

  test('YAML round trip: add, add-image, set-default-image; comments survive; reopen reads the same', async () => {
    const { catalogue, file } = await fresh();
    const added = await catalogue.add(custom());
    assert.equal(added.name, 'xgboost-2.1');
    assert.deepEqual(await catalogue.get('xgboost-2.1'), added);
    await catalogue.addImage('xgboost-2.1', {
      name: 'mlserver-xgb-1.7',
      value: 'docker.io/seldonio/mlserver:1.7.0-xgboost',
    });
    const updated = await catalogue.setDefaultImage('xgboost-2.1', 'mlserver-xgb-1.7');
    assert.deepEqual(updated.default_base_image, {
      name: 'mlserver-xgb-1.7',
      value: 'docker.io/seldonio/mlserver:1.7.0-xgboost',
    });
    assert.equal(updated.available_base_images.length, 2);
    assert.equal(
      await catalogue.template('xgboost-2.1', 'compose'),
      await catalogue.template('sklearn-1.5', 'compose'),
    );

    const text = await readFile(file, 'utf8');
    assert.match(text, /^# Modelport model types/);
    const reopened = await ModelTypeCatalogue.open(file);
    assert.deepEqual(await reopened.list(), await catalogue.list());
    assert.deepEqual((parse(text) as { model_types: unknown[] }).model_types.at(-1), updated);

    const replaced = await catalogue.update('xgboost-2.1', { ...custom(), description: 'gradient boosting' });
    assert.equal(replaced.description, 'gradient boosting');
    assert.equal(replaced.available_base_images.length, 1);
    assert.deepEqual(await readdir(join(file, '..')), ['modeltypes.yaml'], 'no temp files are left behind');
  });

  const badTypes: [string, (t: ReturnType<typeof custom>) => unknown, string, string, RegExp][] = [
    [
      'an unknown runtime',
      (t) => ({ ...t, runtime: 'tensorflow' }),
      'invalid_request',
      'body.runtime',
      /unknown runtime 'tensorflow'.*onnx, js, hosted, container/,
    ],
    [
      'a default image not among the available ones',
      (t) => ({ ...t, default_base_image: { name: 'other', value: 'x/y:1' } }),
      'invalid_request',
      'body.default_base_image',
      /not among available_base_images/,
    ],
    [
      'a default image whose value differs from the listed one',
      (t) => ({ ...t, default_base_image: { name: 'mlserver-xgb', value: 'x/y:1' } }),
      'invalid_request',
      'body.default_base_image',
      /not among available_base_images/,
    ],
    [
      'a missing kubernetes template for a container',
      (t) => ({ ...t, templates: { compose: 'image: x' } }),
      'invalid_request',
      'body.templates.kubernetes',
      /needs a kubernetes template/,
    ],
    [
      'a missing compose template for a container',
      (t) => ({ ...t, templates: { kubernetes: 'image: x' } }),
      'invalid_request',
      'body.templates.compose',
      /needs a compose template/,
    ],
    [
      'an unknown template variable',
      (t) => ({ ...t, templates: { ...t.templates, kubernetes: 'image: "{{ imag }}"' } }),
      'invalid_request',
      'body.templates.kubernetes',
      /unknown template variable '\{\{ imag \}\}'/,
    ],
    [
      'a template that is not a mapping',
      (t) => ({ ...t, templates: { ...t.templates, kubernetes: '- a\n- b' } }),
      'invalid_request',
      'body.templates.kubernetes',
      /YAML mapping/,
    ],
    [
      'a template that is not YAML',
      (t) => ({ ...t, templates: { ...t.templates, kubernetes: 'a: [b' } }),
      'invalid_request',
      'body.templates.kubernetes',
      /not valid YAML/,
    ],
    [
      'a reference to a missing type',
      (t) => ({ ...t, templates: { ...t.templates, compose: { ref: 'nope' } } }),
      'invalid_request',
      'body.templates.compose.ref',
      /'nope', which does not exist/,
    ],
    ['a bad name', (t) => ({ ...t, name: 'XGBoost' }), 'invalid_request', 'body.name', /not a valid name/],
    ['an unknown field', (t) => ({ ...t, replicas: 3 }), 'invalid_request', 'body.replicas', /unknown field/],
    [
      'a duplicate image name',
      (t) => ({ ...t, available_base_images: [...t.available_base_images, t.default_base_image] }),
      'invalid_request',
      'body.available_base_images[1].name',
      /listed twice/,
    ],
    [
      'a duplicate type name',
      (t) => ({ ...t, name: 'onnx', runtime: 'onnx' }),
      'already_exists',
      'body.name',
      /already exists/,
    ],
  ];
  for (const [what, mutate, code, field, message] of badTypes) {
    test(`refuses ${what}, naming the field, and leaves the file unchanged`, async () => {
      const { catalogue, file } = await fresh();
      const before = await readFile(file, 'utf8');
      await assert.rejects(catalogue.add(mutate(custom())), fails(code, field, message));
      assert.equal(await readFile(file, 'utf8'), before);
    });
  }

  test('image edits: unknown type or image is not_found, a duplicate image already_exists, a bad value invalid', async () => {
    const { catalogue } = await fresh();
    await assert.rejects(catalogue.get('nope'), fails('not_found', 'name'));
    await assert.rejects(catalogue.setDefaultImage('nope', 'x'), fails('not_found', 'name'));
    await assert.rejects(
      catalogue.setDefaultImage('sklearn-1.5', 'nope'),
      fails('not_found', 'image', /available: mlserver-1.6-sklearn/),
    );
    await assert.rejects(
      catalogue.addImage('sklearn-1.5', { name: 'mlserver-1.6-sklearn', value: 'a/b:1' }),
      fails('already_exists', 'body.name'),
    );
    await assert.rejects(
      catalogue.addImage('sklearn-1.5', { name: 'ok', value: 'has space' }),
      fails('invalid_request', 'body.value'),
    );
    await assert.rejects(
      catalogue.update('onnx', { ...custom(), name: 'other' }),
      fails('invalid_request', 'body.name', /cannot be renamed/),
    );
  });

  test('a change that would break a reference elsewhere is refused', async () => {
    const { catalogue, file } = await fresh();
    const before = await readFile(file, 'utf8');
    const onnx = await catalogue.get('onnx');
    await assert.rejects(
      catalogue.update('onnx', { ...onnx, templates: {} }),
      fails('invalid_request', 'model_types[1].templates.kubernetes.ref', /no kubernetes template text/),
    );
    assert.equal(await readFile(file, 'utf8'), before);
  });

  test('a hand-edited file that is broken is reported as invalid_config naming the field in the file', async () => {
    const { file } = await fresh();
    const text = await readFile(file, 'utf8');
    const cases: [string, RegExp][] = [
      [
        text.replace('runtime: container', 'runtime: docker'),
        /modeltypes\.yaml: model_types\[3\]\.runtime: unknown runtime 'docker'/,
      ],
      [
        `${text}  - name: onnx\n    runtime: onnx\n    default_base_image: { name: a, value: a/b }\n    available_base_images: [{ name: a, value: a/b }]\n`,
        /model_types\[8\]\.name: the model type 'onnx' is defined twice/,
      ],
      ['model_types: [\n', /modeltypes\.yaml: \(yaml\)/],
      ['types: []\n', /list under model_types/],
    ];
    for (const [content, message] of cases) {
      await writeFile(file, content);
      await assert.rejects(ModelTypeCatalogue.open(file), (e: unknown) => {
        assert.ok(e instanceof ModelportError && e.code === 'invalid_config', String(e));
        assert.match(e.message, message);
        assert.ok(!e.message.includes(dir), 'the message names the file, not its path');
        return true;
      });
    }
  });
});
