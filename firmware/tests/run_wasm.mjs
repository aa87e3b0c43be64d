// Runs the firmware's unittest modules under real MicroPython (the WebAssembly port).
//
// The firmware package (firmware/taktnode) and this folder's test modules and doubles are copied
// into MicroPython's virtual file system; `machine` does not exist there, so tests use the board
// double (doubles.py) exactly as they do under CPython. Prints one summary line
// "N passed, N failed" and exits non-zero when a test failed or errored.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript/micropython.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const firmware = dirname(here);
const only = process.argv.slice(2);

const mp = await loadMicroPython({
  heapsize: 8 * 1024 * 1024,
  stdout: (line) => process.stdout.write(line + "\n"),
  stderr: (line) => process.stderr.write(line + "\n"),
});

function copyDir(src, dest, keep) {
  mp.FS.mkdir(dest);
  for (const name of readdirSync(src)) {
    if (keep(name)) mp.FS.writeFile(join(dest, name), readFileSync(join(src, name)));
  }
}
mp.FS.mkdir("/fw");
copyDir(join(firmware, "taktnode"), "/fw/taktnode", (n) => n.endsWith(".py"));
copyDir(here, "/fw/tests", (n) => n.endsWith(".py") && n !== "conftest.py");

const modules = readdirSync(here)
  .filter((n) => /^test_.*\.py$/.test(n))
  .map((n) => n.slice(0, -3))
  .filter((m) => only.length === 0 || only.includes(m))
  .sort();

mp.runPython(`
import sys
sys.path.insert(0, "/fw/tests")
sys.path.insert(0, "/fw")
import unittest
_totals = [0, 0, 0, 0]
def _run(name):
    result = unittest.main(name)
    _totals[0] += result.testsRun
    _totals[1] += result.failuresNum
    _totals[2] += result.errorsNum
    _totals[3] += result.skippedNum
`);

let crashed = 0;
for (const name of modules) {
  console.log(`--- ${name} (MicroPython ${"1.27.0"} wasm)`);
  try {
    mp.runPython(`_run(${JSON.stringify(name)})`);
  } catch (err) {
    crashed += 1;
    console.error(`${name}: ${err.type || "error"}: ${err.message}`);
  }
}
mp.runPython("import json\n_summary = json.dumps(_totals)");
const [run, failures, errors, skipped] = JSON.parse(mp.globals.get("_summary"));
const failed = failures + errors + crashed;
const passed = run - failures - errors - skipped;
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed === 0 && run > 0 ? 0 : 1);
