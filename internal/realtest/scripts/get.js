// get.js: GET an HTTPS URL with Node's https module as Kibana's Elasticsearch client
// does: the CA file as the only trust, host name verified, basic auth. The password
// comes from the environment (ESCERT_PASSWORD), never argv.
//
// Usage: node get.js <url> <ca.pem> <user>
// Prints the status line and the body; exit codes: 0 status 200, 1 anything else.
"use strict";
const fs = require("fs");
const https = require("https");

const [url, caFile, user] = process.argv.slice(2);
const auth = Buffer.from(`${user}:${process.env.ESCERT_PASSWORD || ""}`).toString("base64");
const req = https.get(url, { ca: [fs.readFileSync(caFile)], rejectUnauthorized: true, headers: { Authorization: `Basic ${auth}` } }, (res) => {
  let body = "";
  res.setEncoding("utf8");
  res.on("data", (d) => (body += d));
  res.on("end", () => {
    console.log(`${res.statusCode} ${body}`);
    process.exit(res.statusCode === 200 ? 0 : 1);
  });
});
req.setTimeout(20000, () => req.destroy(new Error("timed out")));
req.on("error", (e) => {
  console.error(`${e.code || "ERROR"}: ${e.message}`);
  process.exit(1);
});
