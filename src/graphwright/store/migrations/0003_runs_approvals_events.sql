-- Runs are queued rows claimed by workers; approvals are the inbox of pending
-- interrupts; the audit log is append-only; run events are the durable stream log.

create table if not exists gw_runs (
    tenant_id          text        not null,
    run_id             text        not null,
    thread_id          text        not null,
    assistant_id       text        not null,
    workflow_version   integer     not null,
    status             text        not null default 'pending'
        constraint gw_runs_status_check
        check (status in ('pending', 'running', 'success', 'error', 'timeout', 'interrupted')),
    payload            jsonb       not null default '{}'::jsonb,
    metadata           jsonb       not null default '{}'::jsonb,
    multitask_strategy text        not null default 'reject',
    attempts           integer     not null default 0,
    max_attempts       integer     not null default 3,
    lease_owner        text,
    lease_expires_at   timestamptz,
    not_before         timestamptz not null default now(),
    cancel_action      text,
    error              jsonb,
    created_at         timestamptz not null default clock_timestamp(),
    updated_at         timestamptz not null default now(),
    constraint gw_runs_pkey primary key (tenant_id, run_id)
);

create index if not exists gw_runs_pending_idx
    on gw_runs (created_at) where status = 'pending';
create index if not exists gw_runs_thread_idx on gw_runs (tenant_id, thread_id, created_at);
create index if not exists gw_runs_status_idx on gw_runs (tenant_id, status);
create index if not exists gw_runs_running_lease_idx
    on gw_runs (lease_expires_at) where status = 'running';
-- At most one running run per thread, whatever the workers do.
create unique index if not exists gw_runs_one_running_per_thread
    on gw_runs (tenant_id, thread_id) where status = 'running';

create table if not exists gw_approvals (
    tenant_id     text        not null,
    approval_id   text        not null,
    thread_id     text        not null,
    run_id        text        not null,
    workflow_id   text        not null,
    node          text        not null,
    prompt        text        not null,
    decisions     jsonb       not null,
    editable      jsonb       not null default '[]'::jsonb,
    payload       jsonb       not null,
    status        text        not null default 'pending'
        constraint gw_approvals_status_check
        check (status in ('pending', 'decided', 'expired', 'cancelled')),
    decision      jsonb,
    decided_by    text,
    decided_at    timestamptz,
    resume_run_id text,
    expires_at    timestamptz,
    on_timeout    jsonb,
    created_at    timestamptz not null default now(),
    constraint gw_approvals_pkey primary key (tenant_id, approval_id)
);

create index if not exists gw_approvals_tenant_status_idx
    on gw_approvals (tenant_id, status, created_at);
create index if not exists gw_approvals_thread_idx on gw_approvals (tenant_id, thread_id);
create index if not exists gw_approvals_expiry_idx
    on gw_approvals (expires_at) where status = 'pending' and expires_at is not null;

create table if not exists gw_audit (
    id          bigserial   primary key,
    tenant_id   text        not null,
    at          timestamptz not null default now(),
    actor       text,
    action      text        not null,
    subject     text        not null,
    details     jsonb       not null default '{}'::jsonb
);

create index if not exists gw_audit_tenant_idx on gw_audit (tenant_id, at);

create table if not exists gw_run_events (
    tenant_id   text        not null,
    run_id      text        not null,
    seq         integer     not null,
    event       text        not null,
    data        jsonb       not null,
    created_at  timestamptz not null default now(),
    constraint gw_run_events_pkey primary key (tenant_id, run_id, seq)
);

create index if not exists gw_run_events_created_idx on gw_run_events (created_at);
