// Real X.509 certificates for the TLS tests, made by the openssl command
// (Debian's openssl package, see .ci/run): a CA, a server certificate for
// 127.0.0.1 and localhost, a client certificate signed by the same CA, and a
// client certificate from a CA the server does not know.
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Certificates {
  dir: string;
  caFile: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** Signed by a CA that is not caFile. */
  strangerCert: string;
  strangerKey: string;
}

const OPENSSL = '/usr/bin/openssl';

function openssl(dir: string, args: string[]): void {
  execFileSync(OPENSSL, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function ca(dir: string, name: string): void {
  openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', `/CN=${name}`, '-keyout', `${name}-key.pem`, '-out', `${name}.pem`]);
}

function leaf(dir: string, name: string, caName: string, ext: string): void {
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(dir, ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}-key.pem`, '-out', `${name}.csr`]);
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${caName}.pem`, '-CAkey', `${caName}-key.pem`, '-CAcreateserial', '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.pem`]);
}

/** Writes the certificates and keys into dir (which must exist). `serverName` changes the server certificate's CN, to tell two apart. */
export function makeCertificates(dir: string, serverName = 'server'): Certificates {
  if (!existsSync(OPENSSL)) throw new Error(`${OPENSSL} is missing: install the "openssl" package (see .ci/run)`);
  if (!existsSync(join(dir, 'ca.pem'))) {
    ca(dir, 'ca');
    ca(dir, 'stranger-ca');
    leaf(dir, 'client', 'ca', 'extendedKeyUsage=clientAuth\nsubjectAltName=DNS:prometheus.example.net\n');
    leaf(dir, 'stranger', 'stranger-ca', 'extendedKeyUsage=clientAuth\nsubjectAltName=DNS:prometheus.example.net\n');
  }
  leaf(dir, serverName, 'ca', 'extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n');
  return {
    dir,
    caFile: join(dir, 'ca.pem'),
    serverCert: join(dir, `${serverName}.pem`),
    serverKey: join(dir, `${serverName}-key.pem`),
    clientCert: join(dir, 'client.pem'),
    clientKey: join(dir, 'client-key.pem'),
    strangerCert: join(dir, 'stranger.pem'),
    strangerKey: join(dir, 'stranger-key.pem'),
  };
}
