import { sql, type Kysely } from 'kysely';

// Before this build a repository was its owner/name, so a case change in the
// configuration (`acme/api` to `ACME/API`) or a rename added a second row with
// the same GitHub id. Merge each such group into its oldest row: it keeps the
// earliest first sync (the backlog cutoff), takes the others' issues, jobs and
// the cursors it lacks, and the spelling validated last (the configured one).
export async function up(db: Kysely<unknown>): Promise<void> {
  const groups = await sql<{ github_id: number; keeper: number }>`
    SELECT github_id, MIN(id) AS keeper FROM repositories
    WHERE github_id IS NOT NULL GROUP BY github_id HAVING COUNT(*) > 1`.execute(db);
  for (const { github_id: githubId, keeper } of groups.rows) {
    const latest = await sql<{ owner: string; name: string }>`
      SELECT owner, name FROM repositories WHERE github_id = ${githubId}
      ORDER BY validated_at IS NULL, validated_at DESC, id DESC LIMIT 1`.execute(db);
    const others = sql`(SELECT id FROM repositories WHERE github_id = ${githubId} AND id != ${keeper})`;
    await sql`UPDATE repositories SET first_synced_at = (
      SELECT MIN(first_synced_at) FROM repositories WHERE github_id = ${githubId}) WHERE id = ${keeper}`.execute(db);
    await sql`UPDATE issues SET repository_id = ${keeper} WHERE repository_id IN ${others}`.execute(db);
    await sql`UPDATE jobs SET repository_id = ${keeper} WHERE repository_id IN ${others}`.execute(db);
    // The keeper takes the cursors of topics it has none of (the first found of each).
    await sql`UPDATE sync_cursors SET repository_id = ${keeper}
      WHERE repository_id IN ${others}
        AND topic NOT IN (SELECT topic FROM sync_cursors WHERE repository_id = ${keeper})
        AND repository_id = (SELECT MIN(s.repository_id) FROM sync_cursors s WHERE s.topic = sync_cursors.topic AND s.repository_id IN ${others})`.execute(db);
    await sql`DELETE FROM sync_cursors WHERE repository_id IN ${others}`.execute(db);
    await sql`DELETE FROM repositories WHERE id IN ${others}`.execute(db);
    const spelling = latest.rows[0];
    if (spelling) await sql`UPDATE repositories SET owner = ${spelling.owner}, name = ${spelling.name} WHERE id = ${keeper}`.execute(db);
  }
}

// Merged rows cannot be told apart again; the merge is also right for the older schema.
export async function down(): Promise<void> {}
