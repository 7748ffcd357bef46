/**
 * The model-type catalogue, kept as YAML in `<home>/modeltypes.yaml` so administrators can edit it by hand. Seeded
 * from the shipped `defaults.yaml` on first start. The file is read on every call (hand edits apply at once) and
 * written atomically (temp file, fsync, rename) after the whole new catalogue validates, so a bad change, from the
 * API or a crash half-way, never leaves a broken file. Comments and layout survive edits made through the service.
 *
 * ```ts
 * const catalogue = await ModelTypeCatalogue.open(join(home, 'modeltypes.yaml'));
 * await catalogue.addImage('sklearn-1.5', { name: 'mlserver-1.7', value: 'docker.io/seldonio/mlserver:1.7.0-sklearn' });
 * await catalogue.setDefaultImage('sklearn-1.5', 'mlserver-1.7');
 * await catalogue.template('js', 'kubernetes'); // the onnx type's text, through { ref: onnx }
 * ```
 *
 * Errors: invalid_request naming the field (`body.runtime`, `body.default_base_image`, ...), already_exists for a
 * duplicate name, not_found for an unknown type or image, invalid_config when the file itself is broken (the
 * message names the field in the file, e.g. `modeltypes.yaml: model_types[2].runtime`).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { type Document, parseDocument } from 'yaml';
import { ModelportError, notFound } from '../core/index.ts';
import {
  type BaseImage,
  BaseImageSchema,
  type ModelType,
  type TemplateBackend,
  validateCatalogue,
  validateModelType,
} from './model-type.ts';

export const DEFAULT_MODEL_TYPES = new URL('./defaults.yaml', import.meta.url);

const ROOT = 'model_types';

export class ModelTypeCatalogue {
  readonly #file: string;
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(file: string) {
    this.#file = file;
  }

  /** Opens (seeding from `defaults` when the file is missing) and validates the file; a broken file fails here. */
  static async open(file: string, defaults: URL | string = DEFAULT_MODEL_TYPES): Promise<ModelTypeCatalogue> {
    const catalogue = new ModelTypeCatalogue(file);
    try {
      await open(file, 'r').then((h) => h.close());
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      const text = await readFile(defaults, 'utf8');
      catalogue.#parse(text); // the shipped defaults must be valid too
      await mkdir(dirname(file), { recursive: true });
      await writeAtomically(file, text);
    }
    await catalogue.list();
    return catalogue;
  }

  async list(): Promise<ModelType[]> {
    return (await this.#read()).types;
  }

  async get(name: string): Promise<ModelType> {
    const { types } = await this.#read();
    const type = types.find((t) => t.name === name);
    if (!type) throw notFound(`model type '${name}'`, 'name');
    return type;
  }

  /** The type an MLflow flavor maps to (its `flavors:` field); undefined when no type names it. */
  async forFlavor(flavor: string): Promise<ModelType | undefined> {
    return (await this.list()).find((t) => t.flavors?.includes(flavor));
  }

  /** The template text for `backend`, following a `{ ref }`; undefined when the type has none. */
  async template(name: string, backend: TemplateBackend): Promise<string | undefined> {
    const { types } = await this.#read();
    const source = types.find((t) => t.name === name)?.templates[backend];
    if (source === undefined) {
      if (!types.some((t) => t.name === name)) throw notFound(`model type '${name}'`, 'name');
      return undefined;
    }
    if (typeof source === 'string') return source;
    const target = types.find((t) => t.name === source.ref)?.templates[backend];
    return typeof target === 'string' ? target : undefined;
  }

  /** Adds a new type; already_exists when the name is taken. */
  async add(raw: unknown): Promise<ModelType> {
    const type = validateModelType(raw, 'body');
    return this.#edit((doc, types) => {
      if (types.some((t) => t.name === type.name)) {
        throw new ModelportError('already_exists', `model type '${type.name}' already exists; update it instead`, {
          field: 'body.name',
        });
      }
      doc.addIn([ROOT], doc.createNode(type));
      return types.length;
    });
  }

  /** Replaces a type as a whole; the body's name must match `name` (renaming is not supported). */
  async update(name: string, raw: unknown): Promise<ModelType> {
    const type = validateModelType(raw, 'body');
    if (type.name !== name) {
      throw new ModelportError(
        'invalid_request',
        `body.name: '${type.name}' differs from '${name}'; a model type cannot be renamed`,
        {
          field: 'body.name',
        },
      );
    }
    return this.#edit((doc, types) => {
      const index = indexOf(types, name);
      doc.setIn([ROOT, index], doc.createNode(type));
      return index;
    });
  }

  /** Makes the available image named `imageName` the default. */
  async setDefaultImage(name: string, imageName: string): Promise<ModelType> {
    return this.#edit((doc, types) => {
      const index = indexOf(types, name);
      const image = types[index]!.available_base_images.find((i) => i.name === imageName);
      if (!image) {
        throw notFound(
          `base image '${imageName}' of model type '${name}' (available: ${types[index]!.available_base_images.map((i) => i.name).join(', ')})`,
          'image',
        );
      }
      doc.setIn([ROOT, index, 'default_base_image'], doc.createNode({ name: image.name, value: image.value }));
      return index;
    });
  }

  /** Adds an image to `available_base_images`; already_exists when the name is taken. */
  async addImage(name: string, raw: BaseImage): Promise<ModelType> {
    const parsed = BaseImageSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const field = `body.${issue.path.map(String).join('.')}`;
      throw new ModelportError('invalid_request', `${field}: ${issue.message}`, { field });
    }
    const image = parsed.data;
    return this.#edit((doc, types) => {
      const index = indexOf(types, name);
      if (types[index]!.available_base_images.some((i) => i.name === image.name)) {
        throw new ModelportError('already_exists', `model type '${name}' already has an image named '${image.name}'`, {
          field: 'body.name',
        });
      }
      doc.addIn([ROOT, index, 'available_base_images'], doc.createNode(image));
      return index;
    });
  }

  /**
   * Reads, applies `change` to the YAML document (it returns the index of the type it changed), validates the result
   * as a whole, writes it, and returns the changed type. Errors in the changed type name `body.<field>`.
   */
  #edit(change: (doc: Document, types: ModelType[]) => number): Promise<ModelType> {
    const run = async () => {
      const { doc, types } = await this.#read();
      const changed = change(doc, types);
      const text = doc.toString({ lineWidth: 0 });
      const next = this.#parse(text, (index) => (index === changed ? 'body' : `${ROOT}[${index}]`));
      await writeAtomically(this.#file, text);
      return next.types[changed]!;
    };
    const result = this.#queue.then(run, run);
    this.#queue = result.catch(() => undefined);
    return result;
  }

  async #read(): Promise<{ doc: Document; types: ModelType[] }> {
    return this.#parse(await readFile(this.#file, 'utf8'));
  }

  /** Parses and validates a whole file; problems in it are invalid_config naming the file and the field. */
  #parse(text: string, where?: (index: number) => string): { doc: Document; types: ModelType[] } {
    const file = basename(this.#file);
    const broken = (field: string, message: string) =>
      new ModelportError('invalid_config', `${file}: ${field}: ${message}; fix the file or restore it from defaults`, {
        field,
      });
    const doc = parseDocument(text, { uniqueKeys: true });
    if (doc.errors.length > 0) throw broken('(yaml)', doc.errors[0]!.message.split('\n')[0] ?? 'not valid YAML');
    const data = doc.toJS() as { model_types?: unknown } | null;
    if (!Array.isArray(data?.model_types)) throw broken(ROOT, 'the file must hold a list under model_types');
    const fieldOf = where ?? ((index: number) => `${ROOT}[${index}]`);
    const wrap = (error: unknown): never => {
      // Checking the result of an API change reports it as that change's error; a broken file is a config error.
      if (where !== undefined || !(error instanceof ModelportError)) throw error;
      throw broken(error.field ?? ROOT, error.message.replace(`${error.field}: `, ''));
    };
    let types: ModelType[] = [];
    try {
      types = data.model_types.map((raw: unknown, i) => validateModelType(raw, fieldOf(i)));
      validateCatalogue(types, fieldOf);
    } catch (error) {
      wrap(error);
    }
    return { doc, types };
  }
}

function indexOf(types: readonly ModelType[], name: string): number {
  const index = types.findIndex((t) => t.name === name);
  if (index < 0) throw notFound(`model type '${name}'`, 'name');
  return index;
}

/** Writes `text` to a temp file beside `file`, syncs it, and renames it over `file`. */
async function writeAtomically(file: string, text: string): Promise<void> {
  const temp = join(dirname(file), `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temp, 'wx', 0o644);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}
