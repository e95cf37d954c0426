// Compiles the contract schema with Ajv in strict mode (an independent JSON Schema
// implementation, the one most frontends use) and validates documents with it: every line of
// the given JSON-lines files (`//` comments skipped) must validate.
// Usage: node contracts/check_with_ajv.js [--def NAME] SCHEMA FILE...   (needs ajv@8 and
// ajv-formats@3); with --def, the lines are validated as `$defs/NAME` (e.g. Response, Envelope)
// instead of as requests.
"use strict";
const Ajv2020 = require("ajv/dist/2020");
const addFormats = require("ajv-formats");
const fs = require("fs");

let args = process.argv.slice(2);
let def = null;
if (args[0] === "--def") {
  def = args[1];
  args = args.slice(2);
}
const [schemaFile, ...files] = args;
const ajv = new Ajv2020({ strict: true, allErrors: true });
addFormats(ajv);
let validate;
try {
  const schema = JSON.parse(fs.readFileSync(schemaFile, "utf8"));
  if (def) schema.$ref = `#/$defs/${def}`;
  validate = ajv.compile(schema);
} catch (e) {
  console.error(`the schema does not compile in Ajv strict mode: ${e.message}`);
  process.exit(1);
}
let count = 0;
let invalid = 0;
for (const file of files) {
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    if (!line.trim() || line.startsWith("//")) continue;
    count++;
    if (!validate(JSON.parse(line))) {
      invalid++;
      console.error(`invalid: ${line.slice(0, 160)}\n  ${JSON.stringify(validate.errors.slice(0, 3))}`);
    }
  }
}
console.log(`Ajv (strict): ${count} ${def || "request"} documents, ${invalid} invalid`);
process.exit(invalid ? 1 : 0);
