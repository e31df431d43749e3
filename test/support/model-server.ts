/** A model server on loopback for executor tests: Ollama's /api/chat or OpenAI's /v1/chat/completions. */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A model server: Ollama's /api/chat or OpenAI's /v1/chat/completions, answered by `reply`. */
export async function modelServer(reply: (prompt: string, path: string) => { status: number; body: unknown }): Promise<{ server: Server; url: string; prompts: string[] }> {
  const prompts: string[] = [];
  const server = createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (raw += chunk));
    req.on('end', () => {
      const messages = (JSON.parse(raw) as { messages: Array<{ role: string; content: string }> }).messages;
      const prompt = messages.find((m) => m.role === 'user')?.content ?? '';
      prompts.push(prompt);
      const answer = reply(prompt, req.url ?? '');
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, prompts };
}

export const ollamaAnswer = (text: string) => ({ status: 200, body: { model: 'llama3.1', message: { role: 'assistant', content: text }, done: true } });
