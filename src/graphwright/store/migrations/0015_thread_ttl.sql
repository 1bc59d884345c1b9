-- Thread TTL and checkpoint pruning (the `ttl` of POST/PATCH /threads,
-- GW_THREAD_TTL_MINUTES, GW_PRUNE_*, `graphwright prune`). Idempotent: every
-- statement can run again.
--
-- A thread with a TTL of its own expires ttl_minutes after its last activity:
-- expires_at follows updated_at (the triggers below), so a run, a state update or a
-- metadata change pushes it back. Threads without one expire by GW_THREAD_TTL_MINUTES
-- when that is set (updated_at plus the setting, gw_threads_activity_idx).
alter table gw_threads add column if not exists ttl_minutes double precision
    constraint gw_threads_ttl_minutes_check check (ttl_minutes > 0);
alter table gw_threads add column if not exists ttl_strategy text
    constraint gw_threads_ttl_strategy_check check (ttl_strategy in ('delete', 'keep_latest'));
alter table gw_threads add column if not exists expires_at timestamptz;
-- When the thread's checkpoints were last pruned: the pruning job looks only at
-- threads with activity since (gw_threads_unpruned_idx).
alter table gw_threads add column if not exists pruned_at timestamptz;

create or replace function gw_threads_expiry() returns trigger
language plpgsql as $$
begin
    new.expires_at := case when new.ttl_minutes is null then null
                           else new.updated_at + new.ttl_minutes * interval '1 minute' end;
    return new;
end;
$$;

-- Threads without a TTL of their own never call the function.
drop trigger if exists gw_threads_expiry_on_insert on gw_threads;
create trigger gw_threads_expiry_on_insert
    before insert on gw_threads
    for each row when (new.ttl_minutes is not null)
    execute function gw_threads_expiry();

drop trigger if exists gw_threads_expiry_on_update on gw_threads;
create trigger gw_threads_expiry_on_update
    before update of updated_at, ttl_minutes on gw_threads
    for each row when (new.ttl_minutes is not null or old.ttl_minutes is not null)
    execute function gw_threads_expiry();

-- The sweeper's questions, across tenants: which threads are past their own TTL,
-- which are idle past the default one, and which had activity since their last prune.
create index if not exists gw_threads_expires_idx
    on gw_threads (expires_at) where expires_at is not null;
create index if not exists gw_threads_activity_idx on gw_threads (updated_at);
create index if not exists gw_threads_unpruned_idx
    on gw_threads (updated_at) where pruned_at is null or pruned_at < updated_at;
