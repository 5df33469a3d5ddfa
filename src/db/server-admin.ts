// Server-level database work (CREATE/DROP/RENAME DATABASE, letting connections
// in or keeping them out, cutting them) through the server's maintenance
// database, for migrations, restores and scratch databases.
import pg from 'pg';

export function urlForDatabase(databaseUrl: string, name: string): string {
  const url = new URL(databaseUrl);
  url.pathname = `/${encodeURIComponent(name)}`;
  return url.toString();
}

export function databaseNameOf(databaseUrl: string): string {
  return decodeURIComponent(new URL(databaseUrl).pathname.replace(/^\//, ''));
}

/** A client for database `name` of the server, not connected yet: the caller connects it and ends it. */
export function databaseClient(databaseUrl: string, name: string): pg.Client {
  return new pg.Client({ connectionString: urlForDatabase(databaseUrl, name) });
}

/** Runs `work` with a client on database `name` of the server. */
export async function withDatabase<T>(databaseUrl: string, name: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = databaseClient(databaseUrl, name);
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Runs `work` with a client on the server's maintenance database. */
export async function withServer<T>(databaseUrl: string, work: (admin: pg.Client) => Promise<T>): Promise<T> {
  const admin = new pg.Client({ connectionString: urlForDatabase(databaseUrl, 'postgres') });
  await admin.connect();
  try {
    return await work(admin);
  } finally {
    await admin.end();
  }
}

export async function databaseExists(admin: pg.Client, name: string): Promise<boolean> {
  const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
  return rowCount === 1;
}

export async function dropDatabaseIfExists(admin: pg.Client, name: string): Promise<void> {
  await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
}

export async function createDatabase(admin: pg.Client, name: string): Promise<void> {
  await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
}

export async function renameDatabase(admin: pg.Client, from: string, to: string): Promise<void> {
  await admin.query(`ALTER DATABASE ${pg.escapeIdentifier(from)} RENAME TO ${pg.escapeIdentifier(to)}`);
}

/** Lets new connections to `name` in (true) or keeps them out (false); open ones stay. */
export async function allowConnections(admin: pg.Client, name: string, allow: boolean): Promise<void> {
  await admin.query(`ALTER DATABASE ${pg.escapeIdentifier(name)} WITH ALLOW_CONNECTIONS ${allow ? 'true' : 'false'}`);
}

/** Cuts every connection to `name` but the admin's own. */
export async function terminateConnections(admin: pg.Client, name: string): Promise<void> {
  await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name]);
}
