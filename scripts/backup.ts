/**
 * `npm run backup -- <file>`: a consistent copy of the SQLite database (`DATA_DIR/chat.db`) into a new file,
 * while the server runs or not. Reads the same environment as the server (`DATA_DIR`, `DATABASE_URL`).
 * Uploads (`DATA_DIR/files`) are separate files: copy them too (see the README's "Backups").
 */
import { join } from "node:path";
import { BackupError, backupDatabase } from "../server/backup.js";
import { ConfigError, loadConfig } from "../server/config.js";

const target = process.argv[2];
if (target === undefined || process.argv.length > 3) {
  process.stderr.write("usage: npm run backup -- <new file>   (copies DATA_DIR/chat.db; the file must not exist)\n");
  process.exit(2);
}
try {
  const config = loadConfig(process.env);
  const started = Date.now();
  const { source, target: written, pages, bytes } = await backupDatabase(config, target);
  const mib = (bytes / 1024 / 1024).toFixed(1);
  process.stdout.write(
    `backup: copied ${pages} pages (${mib} MiB) of ${source} to ${written} in ${Date.now() - started} ms\n` +
      `backup: uploads are not in it: copy ${join(config.dataDir, "files")} too\n`,
  );
} catch (error) {
  if (!(error instanceof BackupError || error instanceof ConfigError)) throw error;
  process.stderr.write(`backup: ${error.message}\n`);
  process.exit(1);
}
