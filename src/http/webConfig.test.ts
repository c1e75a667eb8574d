import path from 'node:path';
import bcrypt from 'bcryptjs';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../config/yaml.js';
import { bcryptCost, parseWebConfig, subjectAltNames } from './webConfig.js';

const HASH = bcrypt.hashSync('secret', 4);
const parse = (text: string) => parseWebConfig(text, '/etc/mailrelay-exporter/web.yml');

describe('parseWebConfig', () => {
  it('reads the exporter-toolkit format: TLS with the toolkit defaults, headers, users', () => {
    const c = parse(`# the toolkit's own example, trimmed
tls_server_config:
  cert_file: server.crt
  key_file: /etc/ssl/private/server.key
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: ca.crt
http_server_config:
  headers:
    X-Content-Type-Options: nosniff
basic_auth_users:
  prometheus: ${HASH}
`);
    expect(c.tls).toMatchObject({
      // Relative to the web config's folder, absolute ones kept.
      cert_file: '/etc/mailrelay-exporter/server.crt',
      key_file: '/etc/ssl/private/server.key',
      client_ca_file: '/etc/mailrelay-exporter/ca.crt',
      min_version: 'TLS12',
      max_version: 'TLS13',
      prefer_server_cipher_suites: true,
    });
    expect([...c.headers]).toEqual([['X-Content-Type-Options', 'nosniff']]);
    expect([...c.users]).toEqual([['prometheus', HASH]]);
  });

  it('resolves relative file names against a Windows folder with Windows path rules', () => {
    const text = 'tls_server_config:\n  cert_file: server.crt\n  key_file: C:\\certs\\server.key\n  client_ca_file: D:/pki/ca.crt\n  client_auth_type: RequireAndVerifyClientCert\n';
    const c = parseWebConfig(text, 'C:\\ProgramData\\mailrelay-exporter\\web.yml', path.win32);
    expect(c.tls).toMatchObject({
      cert_file: 'C:\\ProgramData\\mailrelay-exporter\\server.crt',
      key_file: 'C:\\certs\\server.key',
      client_ca_file: 'D:/pki/ca.crt',
    });
  });

  it('is plain HTTP without tls_server_config or with an empty one, as in the toolkit', () => {
    expect(parse('basic_auth_users:\n  a: ' + HASH + '\n').tls).toBeUndefined();
    expect(parse('tls_server_config: {}\n').tls).toBeUndefined();
    expect(parse('').users.size).toBe(0);
  });

  it.each([
    ['tls_server_config:\n  cert_file: a.pem\n', 'web.yml: tls_server_config.key_file: is required when TLS is configured'],
    ['tls_server_config:\n  key_file: a.pem\n', 'tls_server_config.cert_file: is required'],
    ['tls_server_config:\n  cert_file: a\n  cert: b\n  key_file: k\n', 'tls_server_config.cert: give cert_file or cert, not both'],
    ['tls_server_config:\n  cert_file: a\n  key_file: k\n  client_ca_file: ca\n', 'tls_server_config.client_auth_type: a client CA is configured'],
    ['tls_server_config:\n  cert_file: a\n  key_file: k\n  client_auth_type: Sometimes\n', 'web.yml:4: tls_server_config.client_auth_type: must be one of NoClientCert'],
    ['tls_server_config:\n  cert_file: a\n  key_file: k\n  min_version: TLS13\n  max_version: TLS12\n', 'tls_server_config.min_version: TLS13 is above max_version TLS12'],
    ['tls_server_config:\n  cert_file: a\n  key_file: k\n  min_version: TLS1.2\n', 'web.yml:4: tls_server_config.min_version: must be one of TLS10, TLS11, TLS12, TLS13'],
    ['tls_server_config:\n  cert_file: a\n  key_file: k\n  cipher_suites: [TLS_AES_128_GCM_SHA256]\n', 'web.yml:4: tls_server_config.cipher_suites: not supported by mailrelay-exporter'],
    ['tls_server_config:\n  cert_file: a\n  key_file: k\n  cert_flie: x\n', 'web.yml:4: tls_server_config.cert_flie: unknown key'],
    ['basic_auth_users:\n  prometheus: hunter2\n', 'web.yml:2: basic_auth_users.prometheus: must be a bcrypt hash'],
    ['basic_auth_users: [prometheus]\n', 'web.yml:1: basic_auth_users: must be a mapping'],
    ['http_server_config:\n  headers:\n    X-Frame-Options: allow\n', 'web.yml:3: http_server_config.headers.X-Frame-Options: must be one of deny, sameorigin'],
    ['http_server_config:\n  headers:\n    Server: me\n', 'http_server_config.headers.Server: this header cannot be set'],
    ['rate_limit:\n  interval: 1s\n  burst: 5\n', 'web.yml:1: rate_limit: not supported by mailrelay-exporter'],
    ['tls_server_config:\n  cert_file: "C:\\IceWarp\\cert.pem"\n', 'web.yml:2: invalid YAML: Invalid escape sequence \\I (backslashes are escapes inside double quotes'],
  ])('%j is refused: %s', (text, fragment) => {
    let err: unknown;
    try {
      parse(text);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toContain(fragment);
  });

  it('never echoes a password pasted where its hash belongs', () => {
    expect(() => parse('basic_auth_users:\n  prometheus: hunter2\n')).toThrow(/^(?![\s\S]*hunter2)/);
  });
});

describe('bcryptCost and subjectAltNames', () => {
  it('read the cost of $2y$ (htpasswd), $2a$ and $2b$ hashes', () => {
    expect(bcryptCost('$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi')).toBe(10);
    expect(bcryptCost(HASH)).toBe(4);
  });

  it("list a certificate's SAN values as Go's x509 does", () => {
    expect(subjectAltNames('DNS:prometheus.example.net, IP Address:192.0.2.1, email:ops@example.net, URI:spiffe://example.net/prom')).toEqual([
      'prometheus.example.net',
      '192.0.2.1',
      'ops@example.net',
      'spiffe://example.net/prom',
    ]);
    expect(subjectAltNames(undefined)).toEqual([]);
  });
});
