#!/usr/bin/env bash
# Compiles cloud/sparkplug/sparkplug_b.proto into cloud/sparkplug/_descriptor.py: the serialized
# FileDescriptorProto the bridge loads into its own descriptor pool. Needs protoc (Debian package
# protobuf-compiler). Run after changing the .proto: `make sparkplug-proto`.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
protoc --proto_path=cloud/sparkplug --descriptor_set_out="$tmp/set.pb" sparkplug_b.proto
"$PYTHON" - "$tmp/set.pb" > cloud/sparkplug/_descriptor.py <<'PY'
import sys
import textwrap

from google.protobuf import descriptor_pb2

files = descriptor_pb2.FileDescriptorSet.FromString(open(sys.argv[1], "rb").read()).file
data = files[0].SerializeToString()
print('"""The Sparkplug B payload definition, compiled (written by scripts/sparkplug-proto.sh).')
print()
print("From sparkplug_b.proto beside this file: do not edit, change the .proto and run")
print("`make sparkplug-proto`. A serialized `FileDescriptorProto`, independent of the protobuf")
print("runtime's version.")
print('"""')
print()
print("SPARKPLUG_B_PROTO = (")
for chunk in textwrap.wrap(data.hex(), 88):
    print(f'    "{chunk}"')
print(")")
PY
echo "wrote cloud/sparkplug/_descriptor.py"
