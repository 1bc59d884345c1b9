-- Tenants' secrets for node code. Values are Fernet ciphertexts (GW_SECRET_KEY);
-- nothing here is readable without the key. Idempotent: every statement can run again.

create table if not exists gw_tenant_secrets (
    tenant_id  text        not null,
    name       text        not null,
    ciphertext bytea       not null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint gw_tenant_secrets_pkey primary key (tenant_id, name)
);
