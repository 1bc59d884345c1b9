-- API keys: shown once at creation, stored as a SHA-256 of their random secret.
create table if not exists gw_api_keys (
    key_id       text        primary key,
    tenant_id    text        not null,
    name         text        not null,
    roles        text[]      not null,
    scope        jsonb       not null default '{}'::jsonb,
    secret_hash  bytea       not null,
    created_at   timestamptz not null default now(),
    last_used_at timestamptz,
    expires_at   timestamptz,
    revoked_at   timestamptz
);

create index if not exists gw_api_keys_tenant_idx on gw_api_keys (tenant_id, created_at);
