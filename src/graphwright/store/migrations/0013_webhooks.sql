-- Webhooks: an outbox of deliveries written when a run with a `webhook` ends, the
-- attempts made to deliver each, and the per-tenant signing secrets (Fernet
-- ciphertexts, GW_SECRET_KEY). Idempotent: every statement can run again.

create table if not exists gw_webhook_deliveries (
    tenant_id       text        not null,
    delivery_id     text        not null,
    run_id          text        not null,
    thread_id       text        not null,
    url             text        not null,
    -- The run's end as it was recorded (status, values or error, times).
    body            jsonb       not null,
    status          text        not null default 'pending'
        constraint gw_webhook_deliveries_status_check
        check (status in ('pending', 'delivered', 'failed')),
    attempts        integer     not null default 0,
    -- Null: GW_WEBHOOK_MAX_ATTEMPTS; set when a delivery is retried by hand.
    max_attempts    integer,
    -- Pending: when the next attempt is due; during an attempt, when its lease
    -- lapses (another process takes over if this one died).
    next_attempt_at timestamptz not null default now(),
    lease_owner     text,
    last_status_code integer,
    last_error      text,
    delivered_at    timestamptz,
    created_at      timestamptz not null default clock_timestamp(),
    updated_at      timestamptz not null default now(),
    constraint gw_webhook_deliveries_pkey primary key (tenant_id, delivery_id),
    -- Deleting a run (rollback, DELETE, thread TTL) deletes its deliveries.
    constraint gw_webhook_deliveries_run_fkey foreign key (tenant_id, run_id)
        references gw_runs (tenant_id, run_id) on delete cascade
);

create index if not exists gw_webhook_deliveries_due_idx
    on gw_webhook_deliveries (next_attempt_at) where status = 'pending';
create index if not exists gw_webhook_deliveries_run_idx
    on gw_webhook_deliveries (tenant_id, run_id);
create index if not exists gw_webhook_deliveries_recent_idx
    on gw_webhook_deliveries (tenant_id, created_at desc);

create table if not exists gw_webhook_attempts (
    tenant_id   text        not null,
    delivery_id text        not null,
    attempt     integer     not null,
    owner       text        not null,
    started_at  timestamptz not null default clock_timestamp(),
    finished_at timestamptz,
    status_code integer,
    error       text,
    constraint gw_webhook_attempts_pkey primary key (tenant_id, delivery_id, attempt),
    constraint gw_webhook_attempts_delivery_fkey foreign key (tenant_id, delivery_id)
        references gw_webhook_deliveries (tenant_id, delivery_id) on delete cascade
);

create table if not exists gw_webhook_secrets (
    tenant_id           text        not null,
    ciphertext          bytea       not null,
    -- The secret before the last rotation, still signed with until it expires.
    previous_ciphertext bytea,
    previous_expires_at timestamptz,
    created_at          timestamptz not null default now(),
    rotated_at          timestamptz,
    constraint gw_webhook_secrets_pkey primary key (tenant_id)
);

-- The run's end and its delivery are one write: whatever path ends a run (the
-- executor, a cancelled pending run, a dead letter), the outbox row is inserted
-- by the statement that records the end, in its transaction.
create or replace function gw_webhook_enqueue() returns trigger
language plpgsql as $$
begin
    insert into gw_webhook_deliveries (tenant_id, delivery_id, run_id, thread_id, url, body)
    values (
        new.tenant_id, gen_random_uuid()::text, new.run_id, new.thread_id,
        new.payload ->> 'webhook',
        jsonb_build_object(
            'run_id', new.run_id,
            'thread_id', new.thread_id,
            'assistant_id', new.assistant_id,
            'workflow_version', new.workflow_version,
            'status', new.status,
            'metadata', new.metadata,
            'attempt', new.attempts,
            'created_at', new.created_at,
            'run_ended_at', new.updated_at,
            'values', case when new.result ? '__error__' then null
                           else new.result - '__interrupt__' end,
            'interrupts', coalesce(new.result -> '__interrupt__', '[]'::jsonb),
            'error', new.error
        )
    );
    perform pg_notify('gw_webhook_wakeup', new.tenant_id);
    return null;
end;
$$;

drop trigger if exists gw_runs_webhook_on_end on gw_runs;
create trigger gw_runs_webhook_on_end
    after update of status on gw_runs
    for each row
    when (old.status in ('pending', 'running')
          and new.status not in ('pending', 'running')
          and new.payload ? 'webhook')
    execute function gw_webhook_enqueue();
