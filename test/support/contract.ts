import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

type Doc = { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, unknown> }> }>> };

/** JSON pointer escaping of one path segment. */
const esc = (s: string) => s.replaceAll('~', '~0').replaceAll('/', '~1');

/**
 * Checks real answers against an OpenAPI 3.1 document with a JSON Schema 2020-12 validator:
 * the status must be one the operation declares, the content type its media type, and the body
 * valid against that schema (`$ref`s resolve inside the document). Returns the problems.
 */
export function contractChecker(doc: Doc) {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  (addFormats as unknown as (a: Ajv2020) => void)(ajv);
  ajv.addSchema(doc, 'openapi');
  const seen = new Set<string>();
  return {
    /** Operations and statuses checked so far, `METHOD /path STATUS`. */
    seen,
    check(method: string, path: string, status: number, contentType: string | undefined, text: string): string[] {
      const op = doc.paths[path]?.[method.toLowerCase()];
      if (!op) return [`${method} ${path} is not in the document`];
      const response = op.responses[String(status)];
      if (!response) return [`${method} ${path} answered ${status}, which it does not declare (${Object.keys(op.responses).join(', ')})`];
      if (!response.content) {
        seen.add(`${method} ${path} ${status}`);
        return text === '' ? [] : [`${method} ${path} ${status}: declares no body but sent ${text.length} bytes`];
      }
      const declared = Object.keys(response.content);
      // `*/*`: a file endpoint whose type is the file's own
      const media = declared.find((t) => t === '*/*' || (contentType ?? '').split(';')[0]?.trim() === t.split(';')[0]?.trim());
      if (!media) return [`${method} ${path} ${status}: content-type ${contentType}, declared ${declared.join(', ')}`];
      seen.add(`${method} ${path} ${status}`);
      if (method === 'HEAD') return []; // no body to check: the status and content type are
      const pointer = `openapi#/paths/${esc(path)}/${method.toLowerCase()}/responses/${status}/content/${esc(media)}/schema`;
      const validate = ajv.getSchema(pointer);
      if (!validate) return [`no schema at ${pointer}`];
      if (method === 'HEAD') return []; // headers only: no body to check
      let body: unknown = text;
      if (media.startsWith('application/json')) {
        try {
          body = JSON.parse(text);
        } catch {
          return [`${method} ${path} ${status}: body is not JSON`];
        }
      }
      if (validate(body)) return [];
      return (validate.errors ?? []).map((e) => `${method} ${path} ${status}: ${e.instancePath || '(body)'} ${e.message} ${JSON.stringify(e.params)}`);
    },
  };
}
