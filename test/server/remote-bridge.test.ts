import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { dataset, InstrumentError, type Instrument } from '../../src/protocol/instrument.js';
import { connectRemoteInstrument } from '../../src/protocol/remote.js';

/**
 * The remote adapter against a bridge shaped like the real microscope's (FastMCP over Tango):
 * AutoScriptMicroscope_* tools, {result} values, no _meta timing, no clock tool, no attribute
 * tools, DevFailed errors as text. A tiny stand-in built with the official SDK server.
 */
function bridge(): McpServer {
  const server = new McpServer({ name: 'asyncroscopy-like', version: '1' });
  let stage = [0, 0, 0, 0, 0];
  const wrap = (value: unknown) => ({ content: [{ type: 'text' as const, text: JSON.stringify(value) }], structuredContent: { result: value } });
  server.registerTool('AutoScriptMicroscope_get_stage', { description: 'Tango Device Class: AutoScriptMicroscope\nTango Command: get_stage' }, async () => wrap(stage));
  server.registerTool('AutoScriptMicroscope_move_stage', { inputSchema: { arg: z.array(z.number()) } }, async ({ arg }) => {
    if (Math.abs(arg[0]!) > 1e-3) {
      return { isError: true, content: [{ type: 'text' as const, text: "Error calling tool 'AutoScriptMicroscope_move_stage': DevFailed[\nDevError[\n    desc = stage x beyond the limit\n  origin = move_stage\n  reason = OutOfRange\nseverity = ERR]\n]" }] };
    }
    await new Promise((r) => setTimeout(r, 30));
    stage = [...arg];
    return wrap(null);
  });
  server.registerTool('CAMERA_move_stage', { inputSchema: { arg: z.array(z.number()) } }, async () => wrap('wrong device'));
  server.registerTool('EELS_acquire_eels_spectrum', {}, async () => wrap('spectrum_eels_20260101T000000000000.h5'));
  server.registerTool('get_data_from_key', { inputSchema: { key: z.string(), max_values: z.number().int().default(64) } }, async ({ key, max_values }) => {
    const values = [1, 2, 3, 4, 5, 6].slice(0, max_values);
    const record = { key, uri: `http://tiled/${key}`, format: 'hdf5', attrs: {}, datasets: [{ name: 'spectrum', shape: [6], dtype: 'float64', attrs: { detector: 'eels' }, preview: values }] };
    return { content: [{ type: 'text' as const, text: JSON.stringify(record) }], structuredContent: record };
  });
  return server;
}

describe('remote adapter against a bridge without the twin extras', () => {
  let http: Server;
  let remote: Instrument;
  const transports = new Map<string, StreamableHTTPServerTransport>();

  beforeAll(async () => {
    http = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString()) : undefined;
      const id = req.headers['mcp-session-id'] as string | undefined;
      let transport = id ? transports.get(id) : undefined;
      if (!transport) {
        transport = new StreamableHTTPServerTransport({ sessionIdGenerator: () => `s${transports.size}`, enableJsonResponse: true, onsessioninitialized: (sid) => void transports.set(sid, transport!) });
        await bridge().connect(transport);
      }
      await transport.handleRequest(req, res, body);
    });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    remote = await connectRemoteInstrument(`http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`);
  });
  afterAll(async () => {
    await remote?.close();
    for (const t of transports.values()) await t.close();
    http?.close();
  });

  it('finds AutoScriptMicroscope_* tools by suffix and times commands on its own clock', async () => {
    const move = await remote.execute({ command: 'move_stage', args: new Float64Array([1e-6, 0, 0, 0, 0]) });
    expect(move.value).toBeNull();
    expect(move.end_s).toBeGreaterThan(move.start_s);
    expect(Object.keys(move.breakdown_s)).toEqual(['stage_travel']);
    expect(move.breakdown_s.stage_travel).toBeCloseTo(move.end_s - move.start_s, 12);
    expect((await remote.execute({ command: 'get_stage' })).value).toEqual([1e-6, 0, 0, 0, 0]);
    const eels = await remote.execute({ device: 'EELS', command: 'acquire_eels_spectrum' });
    expect(eels.value).toBe('spectrum_eels_20260101T000000000000.h5');
    expect(Object.keys(eels.breakdown_s)).toEqual(['eels']);
    const t = await remote.now_s();
    expect(t).toBeGreaterThanOrEqual(eels.end_s);
  });

  it('reads whole arrays back and names what the bridge cannot do', async () => {
    const record = await remote.getData('spectrum_eels_20260101T000000000000.h5');
    expect(dataset(record, 'spectrum').values).toEqual(new Float64Array([1, 2, 3, 4, 5, 6]));
    await expect(remote.writeAttribute({ device: 'SCAN', attribute: 'dwell_time', value: 1e-6 })).rejects.toMatchObject({ reason: 'API_AttributeNotSupported' });
    await expect(remote.execute({ command: 'auto_focus' })).rejects.toMatchObject({ reason: 'API_CommandNotFound' });
  });

  it('turns a DevFailed text into an InstrumentError with its reason and description', async () => {
    const e = await remote.execute({ command: 'move_stage', args: [1, 0, 0, 0, 0] }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(InstrumentError);
    expect(e).toMatchObject({ reason: 'OutOfRange', description: 'stage x beyond the limit' });
  });
});
