-- The console's thread list and POST /threads/search at 100,000 threads per tenant
-- (bench/bench_threads.py): a page sorted by updated_at or created_at read the
-- tenant's every row and sorted them; these indexes give the page in order. Each
-- serves both sort orders (scanned backwards for desc; thread_id breaks ties).
--
-- Safe on a live database: IF NOT EXISTS makes a rerun a no-op. A plain CREATE INDEX
-- blocks writes to gw_threads while it builds (about a second per 100,000 threads);
-- large deployments may prefer to create the same indexes beforehand with
-- CREATE INDEX CONCURRENTLY under these names (this file then skips them).
create index if not exists gw_threads_tenant_updated_idx
    on gw_threads (tenant_id, updated_at, thread_id);
create index if not exists gw_threads_tenant_created_idx
    on gw_threads (tenant_id, created_at, thread_id);

-- Metadata filters are containment only (metadata @> filter), which jsonb_path_ops
-- answers with one index entry per key/value pair instead of one per key and one per
-- value (jsonb_ops): a filter on client_id no longer walks the posting list of the
-- key "client_id", which every thread has. It is also smaller and cheaper to update.
create index if not exists gw_threads_metadata_path_idx
    on gw_threads using gin (metadata jsonb_path_ops);
drop index if exists gw_threads_metadata_idx;
