// --web.config.file: TLS and basic auth for every HTTP path, in the file
// format of the Prometheus exporter-toolkit (docs/web-configuration.md there),
// so one web config works for this exporter and the Go ones beside it.
//
// Reading is split from use: parseWebConfig(text) is pure; readWebConfig()
// reads the file and resolves relative paths against its folder (as the
// toolkit does); loadTls() reads the certificate files into a TLS context.
// The listener calls these again for every connection and request, so a
// renewed certificate or a changed user is used without a restart.
import { readFile } from 'node:fs/promises';
import { createSecureContext, type SecureVersion, type TlsOptions, type TLSSocket } from 'node:tls';
import path from 'node:path';
import { boolean, list, object, oneOf, record, section, string, unsupported, withDefault, type Infer, type Node } from '../config/schema.js';
import { ConfigError, parseYamlFile } from '../config/yaml.js';

const TLS_VERSIONS = { TLS10: 'TLSv1', TLS11: 'TLSv1.1', TLS12: 'TLSv1.2', TLS13: 'TLSv1.3' } as const satisfies Record<string, SecureVersion>;
type TlsVersionName = keyof typeof TLS_VERSIONS;
const VERSION_NAMES = Object.keys(TLS_VERSIONS) as TlsVersionName[];

/** Go's names (crypto/tls CurveID) → OpenSSL's group names. */
const CURVES = { CurveP256: 'P-256', CurveP384: 'P-384', CurveP521: 'P-521', X25519: 'X25519' } as const;
type CurveName = keyof typeof CURVES;

/** The toolkit's client_auth_type values (Go's tls.ClientAuthType names). */
export const CLIENT_AUTH_TYPES = [
  'NoClientCert',
  'RequestClientCert',
  'RequireAnyClientCert',
  'RequireClientCert', // the toolkit's old name for RequireAnyClientCert
  'VerifyClientCertIfGiven',
  'RequireAndVerifyClientCert',
] as const;
export type ClientAuthType = (typeof CLIENT_AUTH_TYPES)[number];

/** The response headers the toolkit lets a web config set, with their allowed values (none: any value). */
const HEADERS: Record<string, readonly string[] | undefined> = {
  'Strict-Transport-Security': undefined,
  'X-Content-Type-Options': ['nosniff'],
  'X-Frame-Options': ['deny', 'sameorigin'],
  'X-XSS-Protection': undefined,
  'Content-Security-Policy': undefined,
};

/** A bcrypt hash as htpasswd -B writes it ($2y$) or any other bcrypt library ($2a$, $2b$), with cost 4 to 31. */
const bcryptHash: Node<string> = {
  expected: 'a bcrypt hash such as $2y$10$…',
  check(value, path, issues) {
    if (typeof value === 'string' && BCRYPT.test(value) && bcryptCost(value) >= 4 && bcryptCost(value) <= 31) return value;
    // Never echo the value: it may be a password pasted where its hash belongs.
    issues.push({ path, message: 'must be a bcrypt hash such as $2y$10$… (see "htpasswd -nBC 10"), not a password' });
    return undefined;
  },
};
const BCRYPT = /^\$2[abxy]?\$\d\d\$[./A-Za-z0-9]{53}$/;

export function bcryptCost(hash: string): number {
  return Number(/^\$2[abxy]?\$(\d\d)\$/.exec(hash)?.[1] ?? NaN);
}

const headers: Node<Map<string, string>> = {
  expected: 'a mapping of header names to values',
  check(value, path, issues) {
    const map = record(string).check(value, path, issues);
    if (!map) return undefined;
    const before = issues.length;
    for (const [name, v] of map) {
      const allowed = HEADERS[name];
      if (!(name in HEADERS)) issues.push({ path: [...path, name], message: `this header cannot be set (known: ${Object.keys(HEADERS).join(', ')})` });
      else if (allowed && !allowed.includes(v)) issues.push({ path: [...path, name], message: `must be one of ${allowed.join(', ')}` });
    }
    return issues.length === before ? map : undefined;
  },
};

export const webConfigSchema = object({
  tls_server_config: section({
    cert_file: string,
    key_file: string,
    /** PEM text instead of cert_file / key_file / client_ca_file. */
    cert: string,
    key: string,
    client_ca_file: string,
    client_ca: string,
    client_auth_type: oneOf(...CLIENT_AUTH_TYPES),
    client_allowed_sans: list(string, { nonEmpty: true }),
    min_version: withDefault(oneOf(...VERSION_NAMES), 'TLS12'),
    max_version: withDefault(oneOf(...VERSION_NAMES), 'TLS13'),
    prefer_server_cipher_suites: withDefault(boolean, true),
    curve_preferences: list(oneOf(...(Object.keys(CURVES) as CurveName[])), { nonEmpty: true }),
    cipher_suites: unsupported("Go's cipher suite names have no OpenSSL equivalent here; remove the key to use Node.js's defaults"),
  }),
  http_server_config: object({
    /** Accepted for compatibility; this server speaks HTTP/1.1 only. */
    http2: withDefault(boolean, true),
    headers: withDefault(headers, new Map<string, string>()),
  }),
  basic_auth_users: withDefault(record(bcryptHash), new Map<string, string>()),
  rate_limit: unsupported('put a reverse proxy in front of the exporter to limit request rates'),
});

type Parsed = Infer<typeof webConfigSchema>;
export type TlsServerConfig = NonNullable<Parsed['tls_server_config']>;

export interface WebConfig {
  /** Undefined: plain HTTP (no tls_server_config, or one with nothing set, as in the toolkit). */
  tls: TlsServerConfig | undefined;
  headers: Map<string, string>;
  /** User name → bcrypt hash; empty: no authentication. */
  users: Map<string, string>;
}

/**
 * Parses a web config file's text; relative file names are resolved against
 * the file's folder with `paths` (node:path of this platform; tests pass
 * path.win32). Throws ConfigError naming file, line and key.
 */
export function parseWebConfig(text: string, file: string, paths: path.PlatformPath = path): WebConfig {
  const parsed = parseYamlFile(webConfigSchema, text, file);
  const tls = parsed.tls_server_config;
  const enabled =
    tls !== undefined &&
    [tls.cert_file, tls.key_file, tls.cert, tls.key, tls.client_ca_file, tls.client_ca, tls.client_auth_type].some((v) => v !== undefined);
  if (enabled) {
    const problem = (key: string, message: string) => new ConfigError(file, [{ key: `tls_server_config.${key}`, message }]);
    if (tls.cert_file === undefined && tls.cert === undefined) throw problem('cert_file', 'is required when TLS is configured (or cert with the PEM text)');
    if (tls.key_file === undefined && tls.key === undefined) throw problem('key_file', 'is required when TLS is configured (or key with the PEM text)');
    if (tls.cert_file !== undefined && tls.cert !== undefined) throw problem('cert', 'give cert_file or cert, not both');
    if (tls.key_file !== undefined && tls.key !== undefined) throw problem('key', 'give key_file or key, not both');
    if (tls.client_ca_file !== undefined && tls.client_ca !== undefined) throw problem('client_ca', 'give client_ca_file or client_ca, not both');
    const clientAuth = tls.client_auth_type ?? 'NoClientCert';
    if ((tls.client_ca_file !== undefined || tls.client_ca !== undefined) && clientAuth === 'NoClientCert') {
      throw problem('client_auth_type', 'a client CA is configured, so set a client authentication policy (RequireAndVerifyClientCert)');
    }
    if (tls.client_allowed_sans !== undefined && clientAuth === 'NoClientCert') {
      throw problem('client_allowed_sans', 'needs a client_auth_type that asks for client certificates (RequireAndVerifyClientCert)');
    }
    if (VERSION_NAMES.indexOf(tls.min_version) > VERSION_NAMES.indexOf(tls.max_version)) {
      throw problem('min_version', `${tls.min_version} is above max_version ${tls.max_version}`);
    }
    for (const key of ['cert_file', 'key_file', 'client_ca_file'] as const) {
      const name = tls[key];
      if (name !== undefined && !paths.isAbsolute(name)) tls[key] = paths.join(paths.dirname(file), name);
    }
  }
  return {
    tls: enabled ? tls : undefined,
    headers: parsed.http_server_config.headers,
    users: parsed.basic_auth_users,
  };
}

export async function readWebConfig(file: string): Promise<WebConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [{ key: '', message: `cannot read: ${(err as Error).message}` }], { cause: err });
  }
  return parseWebConfig(text, file);
}

/** What a TLS connection is accepted with. */
export interface TlsContext {
  /** For tls.createServer: certificate, key, client CA, versions, and whether to ask for (and verify) a client certificate. */
  options: TlsOptions;
  /** The checks Node's TLS options cannot express, run once the handshake is done: why the client is refused, or undefined. */
  refuse(socket: TLSSocket): string | undefined;
}

/** The bytes of every file a TLS config names, so a caller can tell whether anything changed. */
export async function readTlsFiles(tls: TlsServerConfig): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  for (const key of ['cert_file', 'key_file', 'client_ca_file'] as const) {
    const name = tls[key];
    if (name === undefined) continue;
    try {
      files.set(key, await readFile(name));
    } catch (err) {
      throw new Error(`tls_server_config.${key}: cannot read ${name}: ${(err as Error).message}`, { cause: err });
    }
  }
  return files;
}

/** Builds the TLS context from the config and the files' bytes (readTlsFiles). Throws naming the key when OpenSSL rejects them. */
export function tlsContext(tls: TlsServerConfig, files: Map<string, Buffer>): TlsContext {
  const cert = files.get('cert_file') ?? tls.cert!;
  const key = files.get('key_file') ?? tls.key!;
  const ca = files.get('client_ca_file') ?? tls.client_ca;
  const clientAuth: ClientAuthType = tls.client_auth_type ?? 'NoClientCert';
  const options: TlsOptions = {
    cert,
    key,
    ...(ca !== undefined ? { ca } : {}),
    minVersion: TLS_VERSIONS[tls.min_version],
    maxVersion: TLS_VERSIONS[tls.max_version],
    honorCipherOrder: tls.prefer_server_cipher_suites,
    ...(tls.curve_preferences ? { ecdhCurve: tls.curve_preferences.map((c) => CURVES[c]).join(':') } : {}),
    // Node ends the handshake itself only for a verified-certificate policy; the others are checked in refuse().
    requestCert: clientAuth !== 'NoClientCert',
    rejectUnauthorized: clientAuth === 'RequireAndVerifyClientCert',
  };
  try {
    createSecureContext(options); // fails here, naming the key, rather than on the first connection
  } catch (err) {
    throw new Error(`tls_server_config: cannot use the certificate, key or client CA: ${(err as Error).message}`, { cause: err });
  }
  const allowedSans = tls.client_allowed_sans;
  const hasCert = (s: TLSSocket) => Object.keys(s.getPeerCertificate()).length > 0;
  return {
    options,
    refuse(socket) {
      if ((clientAuth === 'RequireAnyClientCert' || clientAuth === 'RequireClientCert') && !hasCert(socket)) return 'no client certificate';
      if (clientAuth === 'VerifyClientCertIfGiven' && hasCert(socket) && !socket.authorized) {
        return `client certificate not verified: ${String(socket.authorizationError)}`;
      }
      if (allowedSans !== undefined) {
        const sans = subjectAltNames(socket.getPeerCertificate().subjectaltname);
        if (!sans.some((san) => allowedSans.includes(san))) return `no allowed SAN in the client certificate (it has: ${sans.join(', ') || 'none'})`;
      }
      return undefined;
    },
  };
}

/** "DNS:a.example, IP Address:192.0.2.1, email:x@example, URI:spiffe://x" → the values, as Go's x509 lists them. */
export function subjectAltNames(text: string | undefined): string[] {
  if (!text) return [];
  return text
    .split(/,\s*/)
    .map((part) => /^(?:DNS|IP Address|email|URI):(.*)$/.exec(part)?.[1])
    .filter((v): v is string => v !== undefined)
    .map((v) => v.replace(/^"|"$/g, ''));
}
