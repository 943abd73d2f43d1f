#!/usr/bin/env python3
"""Writes a seed corpus for the decoder fuzz target into Fuzz/corpus from the committed fixtures:
fill logs as log objects and as eth_subscription frames, and ABI cases as "type\\n" + data."""
import json
import os
import sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
out = os.path.join(root, "Fuzz", "corpus")
os.makedirs(out, exist_ok=True)
fixtures = os.path.join(root, "Tests", "Fixtures")
count = 0


def write(data: bytes):
    global count
    with open(os.path.join(out, "seed-%05d" % count), "wb") as f:
        f.write(data)
    count += 1


logs = json.load(open(os.path.join(fixtures, "orderfilled_logs.json")))["cases"]
for case in logs[:200]:
    text = json.dumps(case["log"], separators=(",", ":"))
    write(text.encode())
    frame = '{"jsonrpc":"2.0","method":"eth_subscription","params":{"subscription":"0x1","result":%s}}' % text
    write(frame.encode())
values = json.load(open(os.path.join(fixtures, "abi_values.json")))["cases"]
for case in values[:300]:
    if len(case["types"]) != 1:
        continue
    data = bytes.fromhex(case["encoded"][2:])
    write(case["types"][0].encode() + b"\n" + data)
print("wrote %d seeds to %s" % (count, out), file=sys.stderr)
