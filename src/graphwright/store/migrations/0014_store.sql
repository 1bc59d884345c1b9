-- The LangGraph Store: JSON items under a namespace, per tenant (the /store API and
-- get_store() in node code). Idempotent: every statement can run again.
--
-- `prefix` is the namespace's labels joined by '.' (labels never hold a '.'). Its "C"
-- collation makes a namespace-prefix search an index range on the primary key:
-- prefix = 'a.b' or (prefix >= 'a.b.' and prefix < 'a.b/'), '/' being the byte after '.'.
-- Items with a TTL have both ttl_minutes and expires_at; expired items are invisible to
-- every read at once and deleted later in bounded batches (gw_store_items_expiry_idx).
create table if not exists gw_store_items (
    tenant_id   text             not null,
    prefix      text collate "C" not null,
    key         text             not null,
    value       jsonb            not null,
    created_at  timestamptz      not null default now(),
    updated_at  timestamptz      not null default now(),
    ttl_minutes double precision,
    expires_at  timestamptz,
    constraint gw_store_items_pkey primary key (tenant_id, prefix, key),
    constraint gw_store_items_ttl_check check ((ttl_minutes is null) = (expires_at is null))
);

create index if not exists gw_store_items_expiry_idx
    on gw_store_items (expires_at) where expires_at is not null;
