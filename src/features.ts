// Every feature of the exporter with its metrics, in one list (as
// node_exporter registers its collectors). A feature is off until its part of
// the config is set.
import { dnsblCollector } from './collectors/dnsbl.js';
import { logCollector } from './collectors/log.js';
import type { Collector } from './collectors/registry.js';
import { relayProbeCollector } from './collectors/relayProbe.js';
import { spoolCollector } from './collectors/spool.js';

export const COLLECTORS: readonly Collector[] = [logCollector, dnsblCollector, relayProbeCollector, spoolCollector];
