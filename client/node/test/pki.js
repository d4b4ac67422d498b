'use strict';
// Certificates made with `openssl` and token files, for the TLS and token tests.

const { execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const SERVER_NAME = 'kg.test';

// A P-256 certificate valid for a day, self-signed (a CA: openssl's default configuration)
// or, with `issuer`, a leaf signed by it. { cert, key, certFile, keyFile }: PEM Buffers
// and their paths.
function makeCertificate(dir, name, subject, issuer = null, extensions = []) {
  const certFile = path.join(dir, `${name}.pem`);
  const keyFile = path.join(dir, `${name}.key`);
  const args = ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', subject, '-keyout', keyFile, '-out', certFile];
  if (issuer) args.push('-CA', issuer.certFile, '-CAkey', issuer.keyFile, '-addext', 'basicConstraints=critical,CA:FALSE');
  for (const extension of extensions) args.push('-addext', extension);
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  return { cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile), certFile, keyFile };
}

// In `dir`: `ca`; a `server` certificate from it (subjectAltName IP:127.0.0.1 and
// DNS:SERVER_NAME); a `client` certificate from it; a `rogueCa`, trusted by no server
// here, with a `rogueClient` certificate of its own.
function makeCertificates(dir) {
  const ca = makeCertificate(dir, 'ca', '/CN=kg test CA');
  const rogueCa = makeCertificate(dir, 'rogue-ca', '/CN=rogue CA');
  return {
    ca,
    server: makeCertificate(dir, 'server', '/CN=kg-server', ca, [`subjectAltName=IP:127.0.0.1,DNS:${SERVER_NAME}`]),
    client: makeCertificate(dir, 'client', '/CN=kg-client', ca),
    rogueCa,
    rogueClient: makeCertificate(dir, 'rogue-client', '/CN=rogue-client', rogueCa),
  };
}

// Writes an --auth_tokens file granting each token of `roles` ({ token: role }); returns its path.
function writeTokenFile(file, roles) {
  const lines = Object.entries(roles).map(([token, role], i) =>
    `sha256:${crypto.createHash('sha256').update(token).digest('hex')} ${role} user${i}\n`);
  fs.writeFileSync(file, lines.join(''));
  return file;
}

module.exports = { SERVER_NAME, makeCertificates, writeTokenFile };
