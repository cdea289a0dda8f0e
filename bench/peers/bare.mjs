// Peer: bare node:http returning the same bytes as VIDAX (same key check, no logging): the practical limit.
import { createServer } from 'node:http';
import { healthBody, JSON_TYPE, jobBody, jobId, keyOk, NOT_FOUND, port, requestId, UNAUTHORIZED } from './common.mjs';

const send = (res, status, id, body) => {
  res.writeHead(status, { 'content-type': JSON_TYPE, 'x-request-id': id, 'content-length': Buffer.byteLength(body) });
  res.end(body);
};

const server = createServer((req, res) => {
  const id = requestId(req.headers['x-request-id']);
  if (!keyOk(req.headers['x-api-key'])) return send(res, 401, id, UNAUTHORIZED);
  if (req.url === '/health') return send(res, 200, id, healthBody());
  if (jobBody !== null && req.url === `/jobs/${jobId}`) return send(res, 200, id, jobBody);
  return send(res, 404, id, NOT_FOUND);
});
server.keepAliveTimeout = 5000;
server.listen(port, '127.0.0.1');
