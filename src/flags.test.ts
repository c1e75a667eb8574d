import { describe, expect, it } from 'vitest';
import { parseFlags } from './flags.js';

describe('parseFlags', () => {
  it('has the Prometheus exporter defaults', () => {
    expect(parseFlags([])).toEqual({
      'config.check': false,
      'web.listen-address': ':10025',
      'web.telemetry-path': '/metrics',
      'web.max-requests': 40,
      'web.stall-timeout': 30,
      'log.level': 'info',
    });
  });

  it('takes --flag=value and --flag value', () => {
    expect(
      parseFlags(['--config.file=/etc/x.yml', '--web.listen-address', '127.0.0.1:9999', '--log.level=debug', '--web.telemetry-path=/m', '--web.config.file', 'web.yml']),
    ).toEqual({
      'config.file': '/etc/x.yml',
      'config.check': false,
      'web.listen-address': '127.0.0.1:9999',
      'web.config.file': 'web.yml',
      'web.telemetry-path': '/m',
      'web.max-requests': 40,
      'web.stall-timeout': 30,
      'log.level': 'debug',
    });
  });

  it('takes --web.max-requests and --web.stall-timeout (0 disables either)', () => {
    expect(parseFlags(['--web.max-requests=5', '--web.stall-timeout', '1m30s'])).toMatchObject({ 'web.max-requests': 5, 'web.stall-timeout': 90 });
    expect(parseFlags(['--web.max-requests=0', '--web.stall-timeout=0'])).toMatchObject({ 'web.max-requests': 0, 'web.stall-timeout': 0 });
  });

  it('takes the boolean --config.check, and --no-config.check', () => {
    expect(parseFlags(['--config.check', '--config.file=c.yml'])).toMatchObject({ 'config.check': true, 'config.file': 'c.yml' });
    expect(parseFlags(['--config.check', '--no-config.check'])).toMatchObject({ 'config.check': false });
  });

  it.each([
    [['--config.check=yes'], '--config.check takes no value (--config.check or --no-config.check)'],
    [['--nope=1'], 'unknown flag or argument: --nope=1'],
    [['stray'], 'unknown flag or argument: stray'],
    [['--config.file'], '--config.file needs a value'],
    [['--log.level=loud'], '--log.level must be one of debug, info, warn, error'],
    [['--web.telemetry-path=metrics'], '--web.telemetry-path must start with /'],
    [['--web.max-requests=-1'], '--web.max-requests must be a whole number (0: no limit), got "-1"'],
    [['--web.stall-timeout=soon'], '--web.stall-timeout must be a duration such as 30s, at most 24d (0: never), got "soon"'],
    [['--web.stall-timeout=30d'], '--web.stall-timeout must be a duration'],
  ])('%j is refused: %s', (argv, message) => {
    expect(() => parseFlags(argv)).toThrow(message);
  });

  it('answers --help and --version', () => {
    expect([parseFlags(['--help']), parseFlags(['--version'])]).toEqual(['help', 'version']);
  });
});
