'use strict';
// connect.js: a TLS handshake with Node's tls module the way Kibana talks to
// Elasticsearch (rejectUnauthorized, a CA file, the server name to verify), then read
// the server's first line.
//
// Usage: node connect.js <host> <port> <ca.pem> <server name or ""> <line wait ms>
// Exit codes: 0 accepted, 1 connection or handshake failure, 2 usage, 3 CA file unreadable.

const fs = require('fs');
const net = require('net');
const tls = require('tls');

const args = process.argv.slice(2);
if (args.length !== 5) {
  process.stderr.write('usage: node connect.js <host> <port> <ca.pem> <server name> <line wait ms>\n');
  process.exit(2);
}
const [host, portText, caFile, serverName, waitText] = args;

let ca;
try {
  ca = fs.readFileSync(caFile);
} catch (err) {
  process.stderr.write(`read CA file: ${err.message}\n`);
  process.exit(3);
}

const opts = { host, port: Number(portText), ca: [ca], rejectUnauthorized: true };
const name = serverName || host;
if (net.isIP(name)) {
  // RFC 6066 forbids IP addresses in SNI (Node warns and sends none), so name the IP
  // for the identity check only: Node then matches it against the IP SANs.
  opts.checkServerIdentity = (_, cert) => tls.checkServerIdentity(name, cert);
} else {
  opts.servername = name;
}

function done(line) {
  process.stdout.write(line + '\n');
  process.exit(0);
}

function fail(err) {
  process.stderr.write(`${err.code ? err.code + ': ' : ''}${err.message}\n`);
  process.exit(1);
}

let secured = false;
let buf = '';
const socket = tls.connect(opts);
socket.setEncoding('utf8');
socket.setTimeout(30000, () => fail(new Error('timed out')));
socket.on('secureConnect', () => {
  secured = true;
  if (!socket.authorized) {
    fail(socket.authorizationError || new Error('server not authorized'));
  }
  // TLS 1.3 rejections arrive after the handshake: wait for the line, an alert or close.
  setTimeout(() => done(`SILENT ${socket.getProtocol()}`), Number(waitText));
});
socket.on('data', (chunk) => {
  buf += chunk;
  const i = buf.indexOf('\n');
  if (i >= 0) {
    done(buf.slice(0, i));
  }
});
socket.on('end', () => {
  if (secured) {
    done(buf || 'CLOSED');
  } else {
    fail(new Error('connection closed during the handshake'));
  }
});
socket.on('error', fail);
