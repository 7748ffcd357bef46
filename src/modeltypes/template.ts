/**
 * Deployment templates of model types: YAML text with `{{ variable }}` placeholders, substituted as plain text
 * before the YAML is parsed. The Kubernetes and compose backends render them; this file only defines the variables
 * and checks a template.
 *
 * ```ts
 * renderTemplate('image: "{{ image }}"\nport: {{ port }}', { image: 'mlserver:1.6', port: '8080' });
 * // 'image: "mlserver:1.6"\nport: 8080'
 * ```
 */
import { parse } from 'yaml';
import { ModelportError } from '../core/index.ts';

/** Every variable a template may use, with the sample value `checkTemplate` renders it with. */
export const TEMPLATE_VARIABLES = {
  name: 'fraud-v3',
  namespace: 'models',
  image: 'registry.example.com/image:1.0',
  port: '8080',
  'model.name': 'fraud',
  'model.version': '3',
  'model.format': 'onnx',
  'model.uri': 's3://bucket/models/fraud/3',
  'model.path': '/mnt/models',
} as const;

export type TemplateVariable = keyof typeof TEMPLATE_VARIABLES;

const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_.-]*)\s*\}\}/g;

/**
 * Substitutes every placeholder. Values are inserted verbatim: renderers pass names, images, numbers and URIs,
 * and refuse values with quotes or line breaks. An unknown or missing variable throws.
 */
export function renderTemplate(text: string, values: Partial<Record<TemplateVariable, string>>): string {
  return text.replace(PLACEHOLDER, (_, variable: string) => {
    const value = values[variable as TemplateVariable];
    if (value === undefined) throw new Error(`template variable '${variable}' has no value`);
    return value;
  });
}

/** Checks that a template uses known variables only and renders to a YAML mapping; errors name `field`. */
export function checkTemplate(text: string, field: string): void {
  for (const match of text.matchAll(PLACEHOLDER)) {
    const variable = match[1] ?? '';
    if (!(variable in TEMPLATE_VARIABLES)) {
      throw new ModelportError(
        'invalid_request',
        `${field}: unknown template variable '{{ ${variable} }}'; use one of ${Object.keys(TEMPLATE_VARIABLES).join(', ')}`,
        { field },
      );
    }
  }
  let rendered: unknown;
  try {
    rendered = parse(renderTemplate(text, TEMPLATE_VARIABLES));
  } catch (error) {
    throw new ModelportError('invalid_request', `${field}: the template is not valid YAML: ${firstLine(error)}`, {
      field,
    });
  }
  if (typeof rendered !== 'object' || rendered === null || Array.isArray(rendered)) {
    throw new ModelportError('invalid_request', `${field}: the template must render to a YAML mapping (key: value)`, {
      field,
    });
  }
}

function firstLine(error: unknown): string {
  return String((error as Error).message ?? error).split('\n')[0] ?? '';
}
