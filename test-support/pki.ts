// Certificates for TLS tests, made by `openssl` in a temporary directory at test time (no private key is checked in).
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** PEM file paths of a test CA, a leaf it signed, and a second, unrelated CA with a leaf of its own. */
export interface TestPki {
  ca: string;
  /** For every node, as server and as client: SAN IP:127.0.0.1, serverAuth and clientAuth. */
  nodeCert: string;
  nodeKey: string;
  /** A client certificate (clientAuth) for the HTTP API. */
  clientCert: string;
  clientKey: string;
  /** Another CA: nothing in the cluster trusts it. */
  otherCa: string;
  /** A certificate like `nodeCert`, but signed by `otherCa`. */
  otherCert: string;
  otherKey: string;
}

/** Makes a {@link TestPki} in `dir` (P-256 keys, valid for a day). Needs `openssl` on PATH. */
export function makeTestPki(dir: string): TestPki {
  const ssl = (args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const makeCa = (name: string): void =>
    ssl([
      'req',
      '-x509',
      ...ec,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.pem`,
      '-days',
      '1',
      '-subj',
      `/CN=${name}`,
    ]);
  let serial = 1;
  const makeLeaf = (name: string, ca: string, usage: string): void => {
    writeFileSync(
      join(dir, `${name}.ext`),
      `subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=${usage}\nbasicConstraints=CA:FALSE\n`,
    );
    ssl(['req', '-new', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
    ssl([
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${ca}.pem`,
      '-CAkey',
      `${ca}.key`,
      '-set_serial',
      String(serial++),
      '-days',
      '1',
      '-extfile',
      `${name}.ext`,
      '-out',
      `${name}.pem`,
    ]);
  };
  makeCa('ca');
  makeCa('other-ca');
  makeLeaf('node', 'ca', 'serverAuth,clientAuth');
  makeLeaf('client', 'ca', 'clientAuth');
  makeLeaf('other', 'other-ca', 'serverAuth,clientAuth');
  const p = (f: string): string => join(dir, f);
  return {
    ca: p('ca.pem'),
    nodeCert: p('node.pem'),
    nodeKey: p('node.key'),
    clientCert: p('client.pem'),
    clientKey: p('client.key'),
    otherCa: p('other-ca.pem'),
    otherCert: p('other.pem'),
    otherKey: p('other.key'),
  };
}
