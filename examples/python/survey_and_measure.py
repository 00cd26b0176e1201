#!/usr/bin/env python3
"""A short policy against asyncroscopy's MCP bridge, or a twin that serves the same tools.

Plain Python 3, standard library only: MCP's streamable HTTP spoken by hand with urllib and json
(initialize, notifications/initialized, the mcp-session-id header, tools/list, tools/call; replies
as JSON or as server-sent events). Tools are found by their command suffix (``*_move_stage``), so
the same script drives ``DigitalTwin_*`` (asyncroscopy's twin, or stem-twin serve) and
``AutoScriptMicroscope_*`` (the real microscope's bridge).

It surveys a region (a HAADF overview), finds the brightest blobs in it (particles), measures a
few of them by EELS (place_beam, then EELS_acquire_eels_spectrum) and reads each spectrum back
(get_data_from_key). The last line printed is a JSON summary.

    python3 survey_and_measure.py http://127.0.0.1:8000/mcp --particles 3
"""

import argparse
import json
import math
import sys
import urllib.error
import urllib.request

PROTOCOL_VERSION = "2025-06-18"


class McpError(Exception):
    pass


class Mcp:
    """One MCP session over streamable HTTP."""

    def __init__(self, url, token=None, timeout_s=120):
        self.url = url
        self.timeout_s = timeout_s
        self.headers = {"content-type": "application/json", "accept": "application/json, text/event-stream"}
        if token:
            self.headers["authorization"] = "Bearer " + token
        self.next_id = 1
        init = self.request("initialize", {
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "asyncroscopy-example", "version": "1.0"},
        })
        self.headers["mcp-protocol-version"] = init.get("protocolVersion", PROTOCOL_VERSION)
        self.notify("notifications/initialized")
        self.tools = self.list_tools()

    def _post(self, message):
        body = json.dumps(message).encode()
        req = urllib.request.Request(self.url, data=body, headers=self.headers, method="POST")
        try:
            return urllib.request.urlopen(req, timeout=self.timeout_s)
        except urllib.error.HTTPError as e:
            raise McpError("%s: HTTP %d %s" % (self.url, e.code, e.read().decode(errors="replace")[:200]))
        except urllib.error.URLError as e:
            raise McpError("cannot connect to %s: %s" % (self.url, e.reason))

    def notify(self, method, params=None):
        message = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        self._post(message).close()

    def request(self, method, params):
        msg_id = self.next_id
        self.next_id += 1
        with self._post({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params}) as res:
            session = res.headers.get("mcp-session-id")
            if session:
                self.headers["mcp-session-id"] = session
            if res.headers.get("content-type", "").startswith("text/event-stream"):
                reply = self._from_events(res, msg_id)
            else:
                reply = json.loads(res.read())
        if "error" in reply:
            raise McpError("%s: %s" % (method, reply["error"].get("message")))
        return reply["result"]

    @staticmethod
    def _from_events(res, msg_id):
        """The reply to msg_id among the server-sent events (each event's data lines, up to a blank line)."""
        data = []
        for raw in res:
            line = raw.decode("utf-8").rstrip("\r\n")
            if line.startswith("data:"):
                data.append(line[5:].lstrip(" "))
            elif line == "" and data:
                message = json.loads("\n".join(data))
                data = []
                if message.get("id") == msg_id:
                    return message
        raise McpError("the event stream ended without a reply to request %d" % msg_id)

    def list_tools(self):
        tools, cursor = {}, None
        while True:
            page = self.request("tools/list", {"cursor": cursor} if cursor else {})
            for tool in page["tools"]:
                tools[tool["name"]] = tool
            cursor = page.get("nextCursor")
            if not cursor:
                return tools

    def tool(self, suffix):
        """The tool whose name is `suffix` or ends with `_suffix` (DigitalTwin_move_stage for "move_stage")."""
        if suffix in self.tools:
            return suffix
        for name in self.tools:
            if name.endswith("_" + suffix):
                return name
        raise McpError("the server publishes no tool *_%s" % suffix)

    def call(self, suffix, *value, **named):
        """Calls a tool; a positional value goes as the tool's one parameter, whatever its schema names
        it (the current bridge: the Python parameter, position, detector_list, ...; the older: arg)."""
        name = self.tool(suffix)
        args = dict(named)
        if value:
            properties = list(self.tools[name].get("inputSchema", {}).get("properties", {}))
            args[properties[0] if properties else "arg"] = value[0]
        result = self.request("tools/call", {"name": name, "arguments": args})
        texts = [c["text"] for c in result.get("content", []) if c.get("type") == "text"]
        if result.get("isError"):
            raise McpError(" ".join(texts))
        structured = result.get("structuredContent")
        if isinstance(structured, dict):
            return structured["result"] if "result" in structured else structured
        return texts[0] if texts else None


def find_particles(image, rows, cols, full_rows, limit):
    """Bright blobs of a HAADF image (row-major list, its first `rows` of `full_rows` rows): pixels above
    mean + 3 sd, joined 4-connected; positions as fractions 0..1 of the scan field."""
    n = len(image)
    mean = sum(image) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in image) / n) or 1.0
    bright = [v > mean + 3 * sd for v in image]
    seen = [False] * n
    blobs = []
    for start in range(n):
        if not bright[start] or seen[start]:
            continue
        stack, pixels = [start], []
        seen[start] = True
        while stack:
            i = stack.pop()
            pixels.append(i)
            r, c = divmod(i, cols)
            for rr, cc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
                j = rr * cols + cc
                if 0 <= rr < rows and 0 <= cc < cols and bright[j] and not seen[j]:
                    seen[j] = True
                    stack.append(j)
        signal = sum(image[i] for i in pixels)
        y = sum((i // cols) * image[i] for i in pixels) / signal
        x = sum((i % cols) * image[i] for i in pixels) / signal
        blobs.append({"x": (x + 0.5) / cols, "y": (y + 0.5) / full_rows, "pixels": len(pixels), "signal": signal})
    blobs.sort(key=lambda b: -b["signal"])
    return blobs[:limit]


def read_dataset(mcp, key, name):
    """One dataset of a data key, as many values as the server gives (max_values up to the tool's maximum)."""
    schema = mcp.tools[mcp.tool("get_data_from_key")]["inputSchema"]["properties"].get("max_values", {})
    probe = mcp.call("get_data_from_key", key=key, max_values=0)
    dataset = next(d for d in probe["datasets"] if d["name"] == name)
    size = 1
    for s in dataset["shape"]:
        size *= s
    record = mcp.call("get_data_from_key", key=key, max_values=min(size, schema.get("maximum", size)))
    dataset = next(d for d in record["datasets"] if d["name"] == name)
    return dataset, [v if v is not None else 0.0 for v in dataset["preview"]]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("url", help="the bridge's MCP endpoint, e.g. http://127.0.0.1:8000/mcp")
    parser.add_argument("--token", help="bearer token, if the server wants one")
    parser.add_argument("--particles", type=int, default=3, help="how many particles to measure by EELS")
    parser.add_argument("--imsize", type=int, default=256, help="overview size in px (set where the server lets a client: SCAN_write_attribute)")
    args = parser.parse_args()

    try:
        mcp = Mcp(args.url, args.token)
        print("connected to %s: %d tools, devices %s" % (args.url, len(mcp.tools), ", ".join(mcp.call("list_devices"))))

        # Survey: an overview of the region under the stage. The real bridge does not publish Tango
        # attributes (there: scan.imsize = 256 through PyTango); a served twin offers SCAN_write_attribute.
        if "SCAN_write_attribute" in mcp.tools:
            mcp.call("SCAN_write_attribute", attribute="imsize", value=args.imsize)
        print("stage at %s" % mcp.call("get_stage"))
        overview = mcp.call("acquire_scanned_image", ["haadf"])
        dataset, image = read_dataset(mcp, overview, "image/HAADF")
        full_rows, cols = dataset["shape"]
        rows = len(image) // cols  # a server that caps max_values gives the first rows only
        particles = find_particles(image[: rows * cols], rows, cols, full_rows, args.particles)
        print("overview %s: %d x %d px read, %d particles picked" % (overview, rows, cols, len(particles)))

        # Measure: park the beam on each particle, take an EELS spectrum, read it back.
        measured = []
        for k, p in enumerate(particles):
            mcp.call("place_beam", [p["x"], p["y"]])
            key = mcp.call("acquire_eels_spectrum")
            spectrum, counts = read_dataset(mcp, key, "spectrum")
            peak = max(range(len(counts)), key=lambda i: counts[i])
            print("particle %d at (%.3f, %.3f): %s, %d channels, peak %.0f counts at channel %d" % (k, p["x"], p["y"], key, len(counts), counts[peak], peak))
            measured.append({"x": p["x"], "y": p["y"], "key": key, "channels": len(counts), "total_counts": sum(counts), "peak_channel": peak})
        print(json.dumps({"overview": overview, "shape": dataset["shape"], "particles": measured}))
        return 0
    except McpError as e:
        print("error: %s" % e, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
