// Peer: Fastify with its default request logging, doing the same work as VIDAX's GET endpoints.
import Fastify from 'fastify';
import { healthBody, JSON_TYPE, jobBody, jobId, keyOk, NOT_FOUND, port, requestId, UNAUTHORIZED } from './common.mjs';

const app = Fastify({ logger: true });

app.addHook('onRequest', async (request, reply) => {
  const id = requestId(request.headers['x-request-id']);
  reply.header('x-request-id', id);
  if (!keyOk(request.headers['x-api-key'])) return reply.code(401).type(JSON_TYPE).send(UNAUTHORIZED);
});

app.get('/health', async (_request, reply) => reply.type(JSON_TYPE).send(healthBody()));

app.get('/jobs/:id', async (request, reply) => {
  if (jobBody === null || request.params.id !== jobId) return reply.code(404).type(JSON_TYPE).send(NOT_FOUND);
  return reply.type(JSON_TYPE).send(jobBody);
});

await app.listen({ port, host: '127.0.0.1' });
