"""Runs an Argo CD Lua health check on sample objects, as Argo CD does (Lua 5.1, `obj` global).

Usage: python lua_health.py SCRIPT.lua < objects.json   (a JSON list of objects)
Prints a JSON list of {"status": ..., "message": ...}, one per object, in order.
Argo CD runs health checks in gopher-lua (Lua 5.1): lupa.lua51 is the same language level.
"""

import json
import sys

import lupa.lua51 as lupa


def to_lua(lua, value):
    # JSON objects and arrays become tables (arrays 1-based), null becomes nil: as Argo CD's
    # conversion of the unstructured object does.
    if isinstance(value, dict):
        return lua.table_from({k: to_lua(lua, v) for k, v in value.items() if v is not None})
    if isinstance(value, list):
        return lua.table_from([to_lua(lua, v) for v in value])
    return value


def main() -> None:
    script = open(sys.argv[1], encoding="utf-8").read()
    objects = json.load(sys.stdin)
    results = []
    for obj in objects:
        lua = lupa.LuaRuntime(unpack_returned_tuples=True)
        lua.globals().obj = to_lua(lua, obj)
        hs = lua.execute(script)
        if hs is None:
            results.append({"status": None, "message": None})
            continue
        results.append({"status": hs["status"], "message": hs["message"]})
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
