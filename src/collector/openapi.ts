/**
 * The collector's OpenAPI 3.1 document, generated from the recorder's io-ts codecs (one source
 * of truth: the same codecs check every request).
 */
import { BeginRunInput, COMMAND_INPUT_CODECS, COMMAND_NAMES } from '../recorder/commands';
import { codecJsonSchemas, JsonSchema } from '../events/json-schema';

const REF = '#/components/schemas/';
let cached: Record<string, unknown> | null = null;

const errorResponse = (description: string) => ({ description, content: { 'application/json': { schema: { $ref: `${REF}Error` } } } });
const json = (schema: JsonSchema, description = 'OK') => ({ description, content: { 'application/json': { schema } } });
const runIdParam = { name: 'runId', in: 'path', required: true, schema: { type: 'string' } };
const secured = [{ bearer: [] }];

export function openApiDocument(): Record<string, unknown> {
  if (cached !== null) return cached;
  const { roots, defs } = codecJsonSchemas({ BeginRunInput, ...COMMAND_INPUT_CODECS }, REF);
  const command = {
    oneOf: COMMAND_NAMES.map((op) => ({
      type: 'object',
      required: ['op', 'input'],
      properties: { op: { const: op }, input: roots[op]! },
      additionalProperties: false,
    })),
  };
  cached = {
    openapi: '3.1.0',
    info: { title: 'lineage-ledger collector', version: '1', description: 'The recorder behind HTTP: every command is checked as a library call would be.' },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        ...defs,
        BeginRunInput: roots.BeginRunInput!,
        Command: command,
        Error: {
          type: 'object',
          required: ['error'],
          properties: {
            error: {
              type: 'object',
              required: ['code', 'message'],
              properties: { code: { type: 'string' }, message: { type: 'string' }, path: { type: 'string' }, index: { type: 'integer', minimum: 0 } },
            },
            applied: { type: 'integer', minimum: 0, description: 'commands of the request applied before the one rejected' },
          },
        },
      },
    },
    paths: {
      '/v1/health': { get: { operationId: 'health', security: [], responses: { 200: json({ type: 'object', properties: { ok: { const: true } } }) } } },
      '/v1/openapi.json': { get: { operationId: 'openapi', security: secured, responses: { 200: json({ type: 'object' }, 'this document') } } },
      '/v1/runs': {
        get: { operationId: 'listRuns', security: secured, responses: { 200: json({ type: 'object', properties: { runs: { type: 'array', items: { type: 'object' } } } }), 401: errorResponse('no or wrong token') } },
        post: {
          operationId: 'beginRun',
          security: secured,
          parameters: [{ name: 'Idempotency-Key', in: 'header', required: false, schema: { type: 'string' } }],
          requestBody: { required: true, content: { 'application/json': { schema: { $ref: `${REF}BeginRunInput` } } } },
          responses: { 201: json({ type: 'object', required: ['runId'], properties: { runId: { type: 'string' } } }, 'the run was begun'), 401: errorResponse('no or wrong token'), 409: errorResponse('the run id is taken'), 422: errorResponse('invalid input') },
        },
      },
      '/v1/runs/{runId}/commands': {
        post: {
          operationId: 'applyCommands',
          security: secured,
          parameters: [runIdParam, { name: 'Idempotency-Key', in: 'header', required: false, schema: { type: 'string' } }],
          requestBody: {
            required: true,
            content: { 'application/json': { schema: { type: 'object', required: ['commands'], properties: { commands: { type: 'array', items: { $ref: `${REF}Command` } } } } } },
          },
          responses: {
            200: json({ type: 'object', required: ['results'], properties: { results: { type: 'array', items: {} } } }, 'every command applied; results in order'),
            400: errorResponse('malformed JSON'),
            401: errorResponse('no or wrong token'),
            404: errorResponse('no such run'),
            409: errorResponse('a command conflicts with the run (index names it; the ones before it are applied)'),
            413: errorResponse('the body is over the limit'),
            422: errorResponse('a command is invalid (index names it; the ones before it are applied)'),
            503: errorResponse('the store is unavailable (index names the first command not stored)'),
          },
        },
      },
      '/v1/runs/{runId}/export': {
        get: {
          operationId: 'exportRun',
          security: secured,
          parameters: [runIdParam],
          responses: { 200: { description: 'the export, JSON Lines (the manifest is the last line)', content: { 'application/x-ndjson': { schema: { type: 'string' } } } }, 404: errorResponse('no such run') },
        },
      },
      '/v1/runs/{runId}/explain': {
        get: {
          operationId: 'explain',
          security: secured,
          parameters: [runIdParam, { name: 'token', in: 'query', schema: { type: 'string' } }, { name: 'row', in: 'query', schema: { type: 'string' }, description: 'a row id, or a row index (digits)' }],
          responses: { 200: json({ type: 'object' }, 'the explanation'), 404: errorResponse('no such run, token or row'), 422: errorResponse('give exactly one of token or row') },
        },
      },
      '/v1/runs/{runId}/check': {
        get: { operationId: 'check', security: secured, parameters: [runIdParam], responses: { 200: json({ type: 'object' }, 'the audit check'), 404: errorResponse('no such run') } },
      },
    },
  };
  return cached;
}
