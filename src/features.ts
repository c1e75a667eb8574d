// Every feature of the exporter, in one list (as node_exporter registers its
// collectors). A feature is off until its part of the config is set.
import type { Feature } from './collectors/collector.js';
import { logFeature } from './collectors/log.js';
import { dnsblFeature } from './collectors/dnsbl.js';
import { relayProbeFeature } from './collectors/relayProbe.js';
import { spoolFeature } from './collectors/spool.js';

export const FEATURES: readonly Feature[] = [logFeature, dnsblFeature, relayProbeFeature, spoolFeature];
