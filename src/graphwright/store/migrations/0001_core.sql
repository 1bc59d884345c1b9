-- graphwright core tables: published workflow versions and threads.
-- Idempotent and additive: every statement can run again on a migrated database.

create table if not exists gw_workflows (
    tenant_id    text        not null,
    workflow_id  text        not null,
    version      integer     not null check (version >= 1),
    content_hash text        not null,
    spec         jsonb       not null,
    title        text,
    created_at   timestamptz not null default now(),
    constraint gw_workflows_pkey primary key (tenant_id, workflow_id, version),
    constraint gw_workflows_content_key unique (tenant_id, workflow_id, content_hash)
);

create table if not exists gw_threads (
    tenant_id        text        not null,
    thread_id        text        not null,
    workflow_id      text        not null,
    workflow_version integer     not null check (workflow_version >= 1),
    status           text        not null default 'idle'
        constraint gw_threads_status_check
        check (status in ('idle', 'running', 'interrupted', 'completed', 'failed')),
    metadata         jsonb       not null default '{}'::jsonb,
    run_id           text,
    error            jsonb,
    created_at       timestamptz not null default now(),
    updated_at       timestamptz not null default now(),
    constraint gw_threads_pkey primary key (tenant_id, thread_id)
);

create index if not exists gw_threads_tenant_status_idx on gw_threads (tenant_id, status);

create index if not exists gw_threads_metadata_idx on gw_threads using gin (metadata);
