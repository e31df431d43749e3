/**
 * GitHub's REST description (api.github.com, from `@octokit/openapi`) as a response checker: finds the
 * operation a request hit, then validates the status, the JSON body and the described headers with ajv.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Ajv, type ValidateFunction } from 'ajv';
import formats from 'ajv-formats';

/** One HTTP exchange as a client saw it. */
export interface Exchange {
  method: string;
  /** The concrete path without query and API prefix, e.g. '/repos/acme/api/issues/1'. */
  path: string;
  status: number;
  headers: Headers;
  /** The raw response body ('' when there was none). */
  text: string;
}

/** What the description says about one exchange, and where the exchange departs from it. */
export interface Verdict {
  /** 'GET /repos/{owner}/{repo}/issues' or undefined when no operation has this path. */
  operation: string | undefined;
  operationId: string | undefined;
  /** Where the response description came from: the operation itself, or the shared component used instead. */
  describedBy: 'operation' | `components/responses/${string}` | 'none';
  problems: string[];
}

interface ResponseObject {
  $ref?: string;
  content?: Record<string, { schema?: unknown }>;
  headers?: Record<string, HeaderObject>;
}

interface HeaderObject {
  $ref?: string;
  required?: boolean;
  schema?: { type?: string };
}

interface OperationObject {
  operationId?: string;
  responses: Record<string, ResponseObject>;
}

interface Description {
  paths: Record<string, Record<string, OperationObject>>;
  components: { responses: Record<string, ResponseObject>; headers: Record<string, HeaderObject> };
}

/**
 * Statuses GitHub answers on endpoints whose description does not list them (the description lists the
 * usual outcomes, not every one). Such a reply is held to the shared response GitHub describes for that
 * status elsewhere; a status outside this table and the operation's own list is a deviation.
 */
const UNDOCUMENTED_STATUS_RESPONSES: Readonly<Record<number, string>> = {
  // A renamed repository or transferred issue redirects every path below it, not only the ones listed.
  301: 'moved_permanently',
  // Any conditional GET whose ETag still matches.
  304: 'not_modified',
  // A request body that is not JSON, on any endpoint that takes one.
  400: 'bad_request',
  // A missing, bad or revoked token, on every endpoint.
  401: 'requires_authentication',
  // The primary rate limit (and the secondary one), on every endpoint.
  403: 'forbidden',
  // Anything that does not exist or the token may not see.
  404: 'not_found',
  // A parameter GitHub rejects.
  422: 'validation_failed',
  500: 'internal_error',
  503: 'service_unavailable',
};

/**
 * The rate-limit headers GitHub sends on every response; the description names them once, as components
 * (x-rate-limit-*) used by GET /rate_limit, so every response's copies are held to those schemas.
 */
const RATE_LIMIT_HEADERS: Readonly<Record<string, string>> = {
  'x-ratelimit-limit': 'x-rate-limit-limit',
  'x-ratelimit-remaining': 'x-rate-limit-remaining',
  'x-ratelimit-reset': 'x-rate-limit-reset',
};

const ROOT = 'https://api.github.com/openapi.json';

/** JSON pointer escaping (RFC 6901) of one reference token. */
function escapePointer(token: string): string {
  return token.replaceAll('~', '~0').replaceAll('/', '~1');
}

function describeErrors(validate: ValidateFunction): string {
  return (validate.errors ?? [])
    .slice(0, 8)
    .map((error) => `${error.instancePath || '(root)'} ${error.message ?? ''} ${JSON.stringify(error.params)}`)
    .join('; ');
}

export class GitHubDescription {
  private readonly validators = new Map<string, ValidateFunction>();
  private readonly templates: Array<{ template: string; pattern: RegExp; literals: number }>;

  private constructor(
    private readonly description: Description,
    private readonly ajv: Ajv,
  ) {
    this.templates = Object.keys(description.paths).map((template) => ({
      template,
      pattern: new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`),
      literals: template.split('/').filter((segment) => segment !== '' && !segment.startsWith('{')).length,
    }));
  }

  /** Reads the 13 MB description once; validators are compiled on first use. */
  static load(): GitHubDescription {
    const require = createRequire(import.meta.url);
    // The file, not the package's index, which would load every GHES description too (hundreds of MB).
    const file = require.resolve('@octokit/openapi/generated/api.github.com.json');
    const description = JSON.parse(readFileSync(file, 'utf8')) as Description;
    admitNull(description);
    const ajv = new Ajv({
      // Strict about unknown keywords, so a keyword we would silently ignore fails loudly instead; the
      // OpenAPI 3.0 annotations below are declared as such. Type and `required` strictness stay off:
      // GitHub's description lists required properties under allOf/anyOf branches, which is valid.
      strictSchema: true,
      strictTypes: false,
      strictTuples: false,
      strictRequired: false,
      allErrors: true,
    });
    ajv.addVocabulary(['example', 'discriminator', 'x-github-breaking-changes']);
    // The description's own top-level sections: ajv compiles the document root when it resolves a reference
    // into it, and there they are containers, not assertions.
    ajv.addVocabulary(['paths', 'components']);
    // The GitHub-specific header format for epoch seconds; the value is a decimal integer.
    ajv.addFormat('timestamp', { type: 'number', validate: (value: number) => Number.isInteger(value) && value >= 0 });
    formats.default(ajv);
    // Only what a reference can point at: schemas, shared responses and headers, and the paths.
    ajv.addSchema({ $id: ROOT, paths: description.paths, components: description.components }, undefined, undefined, false);
    return new GitHubDescription(description, ajv);
  }

  /** The path template an exact path falls under, preferring literal segments ('/issues/comments/{id}'). */
  templateOf(method: string, path: string): string | undefined {
    return this.templates
      .filter((entry) => entry.pattern.test(path) && this.description.paths[entry.template]?.[method.toLowerCase()])
      .sort((a, b) => b.literals - a.literals)[0]?.template;
  }

  check(exchange: Exchange): Verdict {
    const method = exchange.method.toLowerCase();
    const template = this.templateOf(method, exchange.path);
    const operation = template === undefined ? undefined : this.description.paths[template]?.[method];
    const problems: string[] = [];
    let pointer: string | undefined;
    let describedBy: Verdict['describedBy'] = 'none';
    const status = String(exchange.status);

    if (operation && template !== undefined && operation.responses[status]) {
      pointer = `#/paths/${escapePointer(template)}/${method}/responses/${status}`;
      describedBy = 'operation';
    } else {
      const shared = UNDOCUMENTED_STATUS_RESPONSES[exchange.status];
      if (shared !== undefined && (operation !== undefined || exchange.status === 404)) {
        pointer = `#/components/responses/${shared}`;
        describedBy = `components/responses/${shared}`;
      } else if (operation) {
        problems.push(`status ${status} is neither described for ${operationId(operation)} nor one GitHub sends everywhere`);
      } else {
        problems.push(`no operation in GitHub's description for ${exchange.method} ${exchange.path}`);
      }
    }
    if (pointer !== undefined) {
      const { response, at } = this.resolveResponse(pointer);
      this.checkBody(response, at, exchange, problems);
      this.checkHeaders(response, at, exchange, problems);
    }
    this.checkRateLimitHeaders(exchange, problems);
    return {
      operation: template === undefined ? undefined : `${exchange.method.toUpperCase()} ${template}`,
      operationId: operation?.operationId,
      describedBy,
      problems,
    };
  }

  private resolveResponse(pointer: string): { response: ResponseObject; at: string } {
    let at = pointer;
    let response = this.at<ResponseObject>(at);
    for (let hops = 0; response.$ref !== undefined && hops < 5; hops++) {
      at = response.$ref;
      response = this.at<ResponseObject>(at);
    }
    return { response, at };
  }

  private checkBody(response: ResponseObject, at: string, exchange: Exchange, problems: string[]): void {
    const media = response.content?.['application/json'];
    if (!media?.schema) {
      if (exchange.text !== '') problems.push(`a body where the description has none: ${exchange.text.slice(0, 80)}`);
      return;
    }
    const type = exchange.headers.get('content-type') ?? '';
    if (!/^application\/json\b/.test(type)) problems.push(`content-type ${JSON.stringify(type)} is not application/json`);
    let body: unknown;
    try {
      body = JSON.parse(exchange.text);
    } catch {
      problems.push(`body is not JSON: ${exchange.text.slice(0, 80)}`);
      return;
    }
    const validate = this.validator(`${at}/content/application~1json/schema`);
    if (!validate(body)) problems.push(`body: ${describeErrors(validate)}`);
  }

  private checkHeaders(response: ResponseObject, at: string, exchange: Exchange, problems: string[]): void {
    for (const [name, declared] of Object.entries(response.headers ?? {})) {
      const headerAt = declared.$ref ?? `${at}/headers/${escapePointer(name)}`;
      const header = declared.$ref === undefined ? declared : this.at<HeaderObject>(declared.$ref);
      const value = exchange.headers.get(name);
      if (value === null) {
        if (header.required) problems.push(`required header ${name} is missing`);
        continue;
      }
      this.checkHeaderValue(name, value, header, headerAt, problems);
    }
  }

  private checkRateLimitHeaders(exchange: Exchange, problems: string[]): void {
    for (const [name, component] of Object.entries(RATE_LIMIT_HEADERS)) {
      const value = exchange.headers.get(name);
      const header = this.description.components.headers[component];
      if (value !== null && header) {
        this.checkHeaderValue(name, value, header, `#/components/headers/${component}`, problems);
      }
    }
  }

  /** Header values are text: an integer header must be a decimal integer, then meet the schema. */
  private checkHeaderValue(name: string, value: string, header: HeaderObject, at: string, problems: string[]): void {
    if (!header.schema) return;
    const numeric = header.schema.type === 'integer' || header.schema.type === 'number';
    if (numeric && !/^-?\d+(\.\d+)?$/.test(value)) {
      problems.push(`header ${name}: ${JSON.stringify(value)} is not a number`);
      return;
    }
    const validate = this.validator(`${at}/schema`);
    if (!validate(numeric ? Number(value) : value)) problems.push(`header ${name}: ${describeErrors(validate)}`);
  }

  private validator(pointer: string): ValidateFunction {
    let validate = this.validators.get(pointer);
    if (!validate) {
      validate = this.ajv.compile({ $ref: `${ROOT}${pointer}` });
      this.validators.set(pointer, validate);
    }
    return validate;
  }

  private at<T>(pointer: string): T {
    let node: unknown = this.description;
    for (const token of pointer.replace(/^#\//, '').split('/')) {
      const key = token.replaceAll('~1', '/').replaceAll('~0', '~');
      node = (node as Record<string, unknown> | undefined)?.[key];
    }
    if (node === undefined) throw new Error(`GitHub's description has nothing at ${pointer}`);
    return node as T;
  }
}

/**
 * OpenAPI 3.0's `nullable: true` admits null besides the schema's values. ajv honours it natively next to a
 * `type`, with two gaps this closes, in place, once per load:
 * - without a `type` (GitHub writes `{ nullable: true, allOf: [{ $ref }] }` for a nullable reference) ajv
 *   refuses the schema, so it becomes `anyOf: [null, the rest]`;
 * - next to an `enum` that does not list null (issue `state_reason`), ajv would still reject null. GitHub
 *   means "null or one of these": it sends `state_reason: null` on every open issue, and Octokit's own
 *   types, generated from this description, read it so. null joins the enum.
 */
function admitNull(node: unknown): void {
  if (Array.isArray(node)) {
    for (const item of node) admitNull(item);
    return;
  }
  if (typeof node !== 'object' || node === null) return;
  const schema = node as Record<string, unknown>;
  for (const value of Object.values(schema)) admitNull(value);
  if (schema['nullable'] !== true) return;
  const values = schema['enum'];
  if (Array.isArray(values) && !values.includes(null)) schema['enum'] = [...values, null];
  if ('type' in schema) return;
  const rest = { ...schema };
  delete rest['nullable'];
  for (const key of Object.keys(schema)) delete schema[key];
  schema['anyOf'] = [{ type: 'null' }, rest];
}

function operationId(operation: OperationObject): string {
  return operation.operationId ?? 'this operation';
}
