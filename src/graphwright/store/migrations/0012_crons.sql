-- Schedules (the LangGraph Server cron API). A cron holds the run it starts (payload:
-- the fields of a run-creation body) and its next fire time. Any process with run
-- slots fires due crons: it leases the row (lease_owner, lease_expires_at), starts
-- the run under an id derived from (tenant, cron, scheduled time), so a firing retried
-- after a crash finds its run instead of starting a second one, and then advances
-- next_run_at. Idempotent: every statement can run again.

create table if not exists gw_crons (
    tenant_id        text        not null,
    cron_id          text        not null,
    assistant_id     text        not null,
    thread_id        text,
    schedule         text        not null,
    timezone         text,
    end_time         timestamptz,
    enabled          boolean     not null default true,
    on_run_completed text        not null default 'delete',
    payload          jsonb       not null default '{}'::jsonb,
    metadata         jsonb       not null default '{}'::jsonb,
    thread_metadata  jsonb       not null default '{}'::jsonb,
    user_id          text,
    next_run_at      timestamptz,
    last_run_at      timestamptz,
    last_run_id      text,
    last_error       jsonb,
    fire_count       bigint      not null default 0,
    lease_owner      text,
    lease_expires_at timestamptz,
    created_at       timestamptz not null default now(),
    updated_at       timestamptz not null default now(),
    constraint gw_crons_pkey primary key (tenant_id, cron_id),
    constraint gw_crons_on_run_completed_check check (on_run_completed in ('delete', 'keep'))
);

-- The schedulers' one question: which enabled crons are due (or soonest due)?
create index if not exists gw_crons_due_idx
    on gw_crons (next_run_at) where enabled and next_run_at is not null;
create index if not exists gw_crons_tenant_idx on gw_crons (tenant_id, created_at, cron_id);
create index if not exists gw_crons_thread_idx
    on gw_crons (tenant_id, thread_id) where thread_id is not null;
