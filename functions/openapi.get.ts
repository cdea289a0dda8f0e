import { defineFunction, type FunctionContext } from '../lib/http/function.ts';
import { buildOpenApi } from '../lib/api/openapi.ts';
import { NAMED_SCHEMAS, OpenApiDocumentSchema } from '../lib/api/schemas.ts';
import { jsonText } from '../lib/http/respond.ts';
import { functions } from './index.ts'; // a cycle on purpose: read at request time, when every module has loaded

export interface OpenApiContext extends FunctionContext {
  readonly version: string;
}

let cached: { version: string; text: string } | null = null;

/** GET /openapi.json: the OpenAPI 3.1 document of every mounted function, generated from their definitions. */
export default defineFunction<OpenApiContext>({
  method: 'GET',
  path: '/openapi.json',
  summary: 'This API as an OpenAPI 3.1 document',
  description: 'Generated from the functions themselves (method, path, parameters, body and response schemas, error codes); `npm run gen:openapi` writes the same document to schema/openapi.json.',
  tags: ['service'],
  responses: { 200: { description: 'the OpenAPI document', schema: OpenApiDocumentSchema } },
  handler: ({ ctx }) => {
    if (cached?.version !== ctx.version) cached = { version: ctx.version, text: `${JSON.stringify(buildOpenApi(functions, ctx.version, NAMED_SCHEMAS), null, 2)}\n` };
    return jsonText(cached.text);
  },
});
