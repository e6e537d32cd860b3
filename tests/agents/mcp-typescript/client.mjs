// Drives an MCP server over Streamable HTTP with the official TypeScript SDK, as an agent signed in
// with HTTP Basic, and prints one JSON line per step with what the SDK returned.
//
//   npm install && node client.mjs '<scenario json>'      (or the scenario on stdin)
//
// Scenario: {"url": "http://127.0.0.1:5105/mcp", "agentId": "support-bot", "password": "...",
//            "timeoutSeconds": 90,
//            "steps": [{"op": "listTools"},
//                      {"op": "callTool", "name": "payments_get_order", "arguments": {...}, "meta": {...}}]}
//
// The first line is {"op": "connect", ...} (initialize); when it fails no step runs. The last is
// {"op": "close", ...} (the session's DELETE). Exits 2 on a usage error, 0 otherwise (failures are
// lines of output); stops by itself after timeoutSeconds.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';

const print = line => process.stdout.write(JSON.stringify(line) + '\n');
const finish = code => process.stdout.write('', () => process.exit(code));

function usage(message) {
  process.stderr.write(`usage: node client.mjs '<scenario json>' (or the scenario on stdin): ${message}\n`);
  finish(2);
}

async function readScenario() {
  let text = process.argv[2];
  if (text === undefined) {
    if (process.stdin.isTTY) throw new Error('no scenario given');
    const chunks = [];
    for await (const chunk of process.stdin) chunks.push(chunk);
    text = Buffer.concat(chunks).toString('utf8');
  }
  const scenario = JSON.parse(text);
  for (const key of ['url', 'agentId', 'password'])
    if (typeof scenario[key] !== 'string') throw new Error(`"${key}" must be a string`);
  if (!Array.isArray(scenario.steps)) throw new Error('"steps" must be a list');
  scenario.timeoutSeconds ??= 90;
  if (!(scenario.timeoutSeconds > 0)) throw new Error('"timeoutSeconds" must be a positive number');
  for (const step of scenario.steps)
    if (!['listTools', 'callTool'].includes(step?.op)) throw new Error(`unknown step ${JSON.stringify(step)}`);
  return scenario;
}

function describeError(error) {
  const described = { name: error?.name ?? typeof error, message: error?.message ?? String(error) };
  if (error instanceof StreamableHTTPError && error.code > 0) described.httpStatus = error.code;
  if (error instanceof McpError) described.code = error.code;
  if (error?.cause?.message) described.cause = error.cause.message;
  return described;
}

async function run(scenario, deadline) {
  const transport = new StreamableHTTPClientTransport(new URL(scenario.url), {
    requestInit: {
      headers: { Authorization: 'Basic ' + Buffer.from(`${scenario.agentId}:${scenario.password}`, 'utf8').toString('base64') },
    },
  });
  const client = new Client({ name: 'agentbus-typescript-test-client', version: '1.0.0' });
  const remaining = () => Math.max(1000, deadline - Date.now());
  try {
    await client.connect(transport, { timeout: remaining() });
  } catch (error) {
    print({ op: 'connect', error: describeError(error) });
    await client.close().catch(() => {});
    return;
  }
  print({
    op: 'connect',
    protocolVersion: transport.protocolVersion ?? null,
    sessionId: transport.sessionId ?? null,
    server: client.getServerVersion() ?? null,
    capabilities: client.getServerCapabilities() ?? null,
  });

  for (const [index, step] of scenario.steps.entries()) {
    try {
      if (step.op === 'listTools') {
        const { tools } = await client.listTools(undefined, { timeout: remaining() });
        print({
          step: index, op: 'listTools',
          tools: tools.map(t => ({ name: t.name, title: t.title, description: t.description, annotations: t.annotations, inputSchema: t.inputSchema })),
        });
      } else {
        const params = { name: step.name, arguments: step.arguments ?? {} };
        if (step.meta) params._meta = step.meta;
        const result = await client.callTool(params, undefined, { timeout: remaining() });
        print({
          step: index, op: 'callTool', name: step.name,
          isError: result.isError ?? false,
          structuredContent: result.structuredContent ?? null,
          text: (result.content ?? []).filter(c => c.type === 'text').map(c => c.text).join(''),
        });
      }
    } catch (error) {
      print({ step: index, op: step.op, name: step.name, error: describeError(error) });
    }
  }
  try {
    await transport.terminateSession();
    print({ op: 'close', sessionTerminated: transport.sessionId === undefined });
  } catch (error) {
    print({ op: 'close', error: describeError(error) });
  }
  await client.close().catch(() => {});
}

let scenario;
try {
  scenario = await readScenario();
} catch (error) {
  usage(error.message);
}
if (scenario) {
  const seconds = scenario.timeoutSeconds;
  setTimeout(() => {
    print({ op: 'timeout', error: { name: 'Timeout', message: `the scenario did not finish within ${seconds} s` } });
    finish(0);
  }, seconds * 1000).unref();
  await run(scenario, Date.now() + seconds * 1000);
  finish(0);
}
