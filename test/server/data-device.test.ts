import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server/http/server.js';
import { call, http, mcpClient, serve } from './server-fixtures.js';

/** A tool's result value: the bridge's {result} structured content, else the raw text. */
function resultOf(r: CallToolResult): unknown {
  if (r.isError) throw new Error(`tool error: ${JSON.stringify(r.content)}`);
  const structured = r.structuredContent as { result?: unknown } | undefined;
  if (structured && 'result' in structured) return structured.result;
  const text = r.content.find((c) => c.type === 'text');
  return text && text.type === 'text' ? text.text : undefined;
}

/** A refused tool call's text (whatever the error framing, it carries the reason and the description). */
function refusalText(r: CallToolResult): string {
  expect(r.isError).toBe(true);
  const text = r.content.find((c) => c.type === 'text');
  return text && text.type === 'text' ? text.text : '';
}

async function rest(server: RunningServer, command: string, args?: unknown) {
  return http(server, 'POST', '/api/commands', { device: 'DATA', command, ...(args === undefined ? {} : { args }) });
}

describe('DATA device of a served twin, over MCP and REST', () => {
  let server: RunningServer;
  let client: Client;
  let dataDir: string;
  let outside: string;
  let acquired: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'data-device-test-'));
    outside = mkdtempSync(join(tmpdir(), 'data-device-outside-'));
    server = await serve({ dataDir });
    client = await mcpClient(server);
    await http(server, 'PUT', '/api/devices/SCAN/attributes/imsize', { value: 16 });
    acquired = (await http(server, 'POST', '/api/commands', { command: 'acquire_scanned_image', args: ['haadf'] })).body.value as string;
    await fetch(`${server.url}/data/${acquired}`); // waits for the file
  });
  afterAll(async () => {
    await client?.close();
    await server?.close();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  });

  const config = async () => JSON.parse(resultOf(await call(client, 'DATA_get_config')) as string);

  it('get_config gives the real keys, a uri served by this server, and takes no beam time', async () => {
    const c = await config();
    expect(Object.keys(c).sort()).toEqual(['host', 'port', 'save_path', 'tiled_server', 'tiled_server_serving', 'tiled_server_status', 'uri'].sort());
    expect(c).toMatchObject({ host: '127.0.0.1', port: Number(new URL(server.url).port), uri: `${server.url}/data`, save_path: dataDir, tiled_server_status: 'running', tiled_server_serving: dataDir });
    const clock = async () => (await http(server, 'GET', '/api/state')).body.clock_s as number;
    const before = await clock();
    expect(before).toBeGreaterThan(0);
    const r = await rest(server, 'get_config');
    expect(r.status).toBe(200);
    expect(r.body.start_s).toBe(r.body.end_s);
    expect(r.body.breakdown_s).toEqual({});
    expect(JSON.parse(r.body.value)).toEqual(c);
    expect(r.body.start_s).toBe(before);
    expect(await clock()).toBe(before);
  });

  it('register_path registers an HDF5 file under the save path; its key serves the same bytes', async () => {
    mkdirSync(join(dataDir, 'run2'), { recursive: true });
    copyFileSync(join(dataDir, acquired), join(dataDir, 'run2', 'copy.h5'));
    const key = resultOf(await call(client, 'DATA_register_path', { path: join(dataDir, 'run2', 'copy.h5') }));
    expect(key).toBe('run2/copy.h5');
    // Relative paths are taken from the save path.
    expect((await rest(server, 'register_path', 'run2/copy.h5')).body.value).toBe('run2/copy.h5');
    const original = new Uint8Array(await (await fetch(`${server.url}/data/${acquired}`)).arrayBuffer());
    const res = await fetch(`${(await config()).uri}/${key as string}`);
    expect(res.status).toBe(200);
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(original);
  });

  it('refuses files outside the save path, traversal, symlinks out, non-HDF5 files and missing ones, with state unchanged', async () => {
    writeFileSync(join(outside, 'secret.h5'), 'not for you');
    copyFileSync(join(dataDir, acquired), join(outside, 'real.h5'));
    writeFileSync(join(dataDir, 'notes.h5'), 'plain text, not HDF5');
    symlinkSync(join(outside, 'real.h5'), join(dataDir, 'link.h5'));
    const before = await config();
    const filesBefore = readdirSync(dataDir).sort();
    const refusals: [unknown, RegExp][] = [
      [join(outside, 'real.h5'), /outside the save path/],
      ['../' + outside.split('/').pop()! + '/real.h5', /outside the save path/],
      [`${dataDir}/../${outside.split('/').pop()!}/real.h5`, /outside the save path/],
      ['link.h5', /outside the save path/],
      ['notes.h5', /not an HDF5 file/],
      ['missing.h5', /no file at/],
      ['/etc/passwd', /outside the save path/],
      ['', /path must be a file path/],
    ];
    for (const [path, why] of refusals) {
      expect(refusalText(await call(client, 'DATA_register_path', { path })), String(path)).toMatch(why);
      const r = await rest(server, 'register_path', path);
      expect(r.status, String(path)).toBe(400);
      expect(r.body.reason).toBe('API_InvalidArgument');
      expect(r.body.description).toMatch(why);
    }
    expect(await config()).toEqual(before);
    expect(readdirSync(dataDir).sort()).toEqual(filesBefore);
    for (const key of ['real.h5', 'link.h5', 'notes.h5', 'secret.h5']) expect((await fetch(`${server.url}/data/${key}`)).status, key).toBe(404);
  });

  it('configure validates every field before changing any; host and port change the reported uri, save_path where files go', async () => {
    const before = await config();
    for (const bad of ['{"port": 0}', '{"port": "80"}', '{"host": "a b"}', '{"host": "x", "colour": 1}', '{"save_path": "relative/dir"}', '[1]', 'not json', '{"port": 9000, "save_path": "rel"}']) {
      expect(refusalText(await call(client, 'DATA_configure', { config_json: bad })), bad).toMatch(/config_json|save_path/);
      expect(await config(), bad).toEqual(before);
    }
    const elsewhere = join(dataDir, 'moved');
    const after = JSON.parse(resultOf(await call(client, 'DATA_configure', { config_json: JSON.stringify({ host: 'microscope.lab', port: 9001, save_path: elsewhere }) })) as string);
    expect(after).toMatchObject({ host: 'microscope.lab', port: 9001, uri: 'http://microscope.lab:9001/data', save_path: elsewhere });
    const key = (await http(server, 'POST', '/api/commands', { command: 'acquire_scanned_image', args: ['haadf'] })).body.value as string;
    expect((await http(server, 'GET', `/api/data/${key}`)).body.uri).toBe('http://microscope.lab:9001/data');
    expect((await fetch(`${server.url}/data/${key}`)).status).toBe(200);
    expect(readdirSync(elsewhere)).toEqual([key]);
    // Back as it was, for the other tests.
    await call(client, 'DATA_configure', { config_json: JSON.stringify({ host: before.host, port: before.port, save_path: before.save_path }) });
    expect(await config()).toEqual(before);
  });

  it('stop_tiled_server stops the file route (503) until start_tiled_server', async () => {
    const stopped = JSON.parse(resultOf(await call(client, 'DATA_stop_tiled_server')) as string);
    expect(stopped).toMatchObject({ tiled_server_status: 'stopped', tiled_server_serving: '' });
    const res = await fetch(`${server.url}/data/${acquired}`);
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ reason: 'DataServerStopped' });
    expect(JSON.parse(resultOf(await call(client, 'DATA_start_tiled_server')) as string).tiled_server_status).toBe('running');
    expect((await fetch(`${server.url}/data/${acquired}`)).status).toBe(200);
  });

  it('register_save_path registers every HDF5 file and says what it skipped; copy_and_register_remote_file copies one in', async () => {
    const report = JSON.parse(resultOf(await call(client, 'DATA_register_save_path')) as string);
    expect(report.save_path).toBe(dataDir);
    expect(report.registered).toContain(acquired);
    expect(report.registered).toContain('run2/copy.h5');
    expect(report.skipped.map((s: { path: string }) => s.path)).toEqual(expect.arrayContaining(['notes.h5', 'link.h5']));
    expect(report.registered).not.toContain('link.h5');

    const key = resultOf(await call(client, 'DATA_copy_and_register_remote_file', { request_json: JSON.stringify({ source_path: join(outside, 'real.h5'), name: 'imported.h5' }) }));
    expect(key).toBe('imported.h5');
    expect((await fetch(`${server.url}/data/imported.h5`)).status).toBe(200);
    const again = refusalText(await call(client, 'DATA_copy_and_register_remote_file', { request_json: JSON.stringify({ source_path: join(outside, 'real.h5'), name: 'imported.h5' }) }));
    expect(again).toMatch(/already exists/);
    for (const [request, why] of [
      [{ source_path: join(outside, 'secret.h5') }, /not an HDF5 file/],
      [{ source_path: 'relative.h5' }, /absolute file path/],
      [{ source_path: join(outside, 'real.h5'), name: '../escape.h5' }, /name/],
      [{ source_path: join(outside, 'real.h5'), extra: 1 }, /unknown field .{0,3}extra/],
    ] as const) {
      expect(refusalText(await call(client, 'DATA_copy_and_register_remote_file', { request_json: JSON.stringify(request) }))).toMatch(why);
    }
    expect(readdirSync(outside).sort()).toEqual(['real.h5', 'secret.h5']);
  });

  it('State and Status answer for DATA', async () => {
    expect(resultOf(await call(client, 'DATA_State'))).toBe('ON');
    expect(resultOf(await call(client, 'DATA_Status'))).toMatch(/Serving/);
  });
});
