"""The role-making logic: each store client's own user, as the real SQL and commands the role Job runs.

One function per engine renders the script that reconciles the store's users with its `clients`:
- PostgreSQL (in-cluster and Cloud SQL): a psql script. Two group roles own and read the database's
  `public` schema: `<database>_owner` (NOLOGIN) owns every table, and `<database>_reader` (NOLOGIN)
  may SELECT them. A read-write client is a member of the owner group and every session runs as it
  (`ALTER ROLE ... SET role`), so the tables a migration creates belong to the group, and the client
  owns nothing; a read-only client is a member of the reader group, with read-only transactions by
  default. Each client role carries the comment `PLATFORM_MARKER`; a marked role no longer listed loses
  its login and every privilege (`DROP OWNED`) and is dropped.
- Redis (in-cluster): redis-cli commands. Each client is an ACL user (`reset` first, so a run sets the
  whole definition): read-write may run every command but the admin and dangerous ones, read-only
  only `@read` and `@connection` commands. Any other user but `default` (the store's own) is deleted,
  and the ACL file is saved, so a restart keeps them.
- MongoDB (in-cluster): a mongosh script. Each client is a user in `admin` with `readWrite` or `read`
  on the store's database and `customData.managedBy` set to the marker; a marked user no longer
  listed is dropped.

Every script reads each client's password from a file `<dir>/<client>.password` (the store's
`<store>-clients` Secret, mounted), so the scripts themselves hold no secret and are stable across
runs; running a script twice leaves the store as the first run did.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

# Marks the users the platform made, so it removes only its own.
PLATFORM_MARKER = "managed-by: platform (store client)"
# Where the role Job mounts the store's copy of its clients' passwords.
CLIENTS_DIR = "/clients"
READ_WRITE = "read-write"


@dataclass(frozen=True)
class ClientRole:
    name: str
    access: str


def _ident(name: str) -> str:
    """A PostgreSQL identifier, quoted (client names hold '-')."""
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _psql_variable(name: str) -> str:
    return "pw_" + re.sub(r"[^a-z0-9_]", "_", name)


def postgres_script(database: str, clients: Sequence[ClientRole], clients_dir: str = CLIENTS_DIR) -> str:
    """The psql script (run as the store's own user, connected to `database`) that makes each client's
    role and removes the marked roles no longer listed."""
    owner, reader = _ident(f"{database}_owner"), _ident(f"{database}_reader")
    db = _ident(database)
    wanted = "ARRAY[" + ", ".join(_literal(c.name) for c in clients) + "]::text[]"
    lines = [
        r"\set ON_ERROR_STOP on",
        "BEGIN;",
        # The two groups: made once, never logging in.
        "DO $$ BEGIN",
        f"  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {_literal(database + '_owner')}) THEN",
        f"    CREATE ROLE {owner} NOLOGIN;",
        "  END IF;",
        f"  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {_literal(database + '_reader')}) THEN",
        f"    CREATE ROLE {reader} NOLOGIN;",
        "  END IF;",
        "END $$;",
        f"REVOKE ALL ON DATABASE {db} FROM PUBLIC;",
        f"GRANT CONNECT, TEMPORARY ON DATABASE {db} TO {owner};",
        f"GRANT CONNECT ON DATABASE {db} TO {reader};",
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC;",
        f"GRANT USAGE, CREATE ON SCHEMA public TO {owner};",
        f"GRANT USAGE ON SCHEMA public TO {reader};",
        # Tables made before the platform made roles (by the store's own user) pass to the owner group.
        "DO $$ DECLARE item record; BEGIN",
        "  FOR item IN SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace",
        "      WHERE n.nspname = 'public' AND c.relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)",
        "      AND c.relkind IN ('r', 'p', 'v', 'm', 'f') LOOP",
        f"    EXECUTE format('ALTER TABLE public.%I OWNER TO %I', item.relname, {_literal(database + '_owner')});",
        "  END LOOP;",
        "END $$;",
        f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {reader};",
        f"GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO {reader};",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public GRANT SELECT ON TABLES TO {reader};",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public GRANT SELECT ON SEQUENCES TO {reader};",
    ]
    for client in clients:
        role, variable = _ident(client.name), _psql_variable(client.name)
        group, other = (owner, reader) if client.access == READ_WRITE else (reader, owner)
        lines += [
            "DO $$ BEGIN",
            f"  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {_literal(client.name)}) THEN",
            f"    CREATE ROLE {role} LOGIN;",
            "  END IF;",
            "END $$;",
            f"\\set {variable} `cat {clients_dir}/{client.name}.password`",
            f"ALTER ROLE {role} WITH LOGIN NOCREATEDB NOCREATEROLE INHERIT PASSWORD :'{variable}';",
            f"COMMENT ON ROLE {role} IS {_literal(PLATFORM_MARKER)};",
            f"REVOKE {other} FROM {role};",
            f"GRANT {group} TO {role};",
        ]
        if client.access == READ_WRITE:
            # Every session acts as the owner group: what the client creates, the group owns.
            lines += [
                f"ALTER ROLE {role} IN DATABASE {db} SET role = {_literal(database + '_owner')};",
                f"ALTER ROLE {role} IN DATABASE {db} RESET default_transaction_read_only;",
            ]
        else:
            lines += [
                f"ALTER ROLE {role} IN DATABASE {db} RESET role;",
                f"ALTER ROLE {role} IN DATABASE {db} SET default_transaction_read_only = on;",
            ]
    # Marked roles no longer listed: no login, no privileges left (they own nothing), then dropped.
    lines += [
        "DO $$ DECLARE gone record; BEGIN",
        "  FOR gone IN SELECT r.rolname FROM pg_roles r JOIN pg_shdescription d ON d.objoid = r.oid",
        f"      WHERE d.description = {_literal(PLATFORM_MARKER)} AND NOT r.rolname = ANY ({wanted}) LOOP",
        "    EXECUTE format('ALTER ROLE %I NOLOGIN', gone.rolname);",
        "    EXECUTE format('DROP OWNED BY %I', gone.rolname);",
        "    EXECUTE format('DROP ROLE %I', gone.rolname);",
        "  END LOOP;",
        "END $$;",
        "COMMIT;",
    ]
    return "\n".join(lines) + "\n"


# Redis ACL rules per access: read-write may run all but administration and dangerous commands.
REDIS_RULES = {
    "read-write": ["~*", "&*", "+@all", "-@admin", "-@dangerous"],
    "read-only": ["~*", "&*", "-@all", "+@read", "+@connection"],
}


def redis_script(clients: Sequence[ClientRole], clients_dir: str = CLIENTS_DIR, ca_file: str | None = None) -> str:
    """A POSIX shell script: redis-cli (as `default`, REDISCLI_AUTH set) makes each client's ACL user,
    deletes every other user but `default`, and saves the ACL file. With `ca_file`, over TLS, verifying the
    server's certificate against that CA (redis-cli checks the chain, not the name)."""
    keep = " ".join(["default", *(c.name for c in clients)])
    tls = f' --tls --cacert {ca_file} --sni "$REDIS_HOST"' if ca_file else ""
    lines = [
        "set -eu",
        f'cli() {{ redis-cli --no-auth-warning -h "$REDIS_HOST" -p "$REDIS_PORT"{tls} "$@"; }}',
    ]
    for client in clients:
        rules = " ".join(f"'{rule}'" for rule in REDIS_RULES[client.access])
        lines.append(
            f"cli ACL SETUSER '{client.name}' reset on \">$(cat {clients_dir}/{client.name}.password)\" {rules} "
            "| grep -qx OK"
        )
    lines += [
        "for user in $(cli ACL USERS); do",
        f'  case " {keep} " in *" $user "*) ;; *) cli ACL DELUSER "$user" >/dev/null ;; esac',
        "done",
        "cli ACL SAVE | grep -qx OK",
    ]
    return "\n".join(lines) + "\n"


def mongodb_script(database: str, clients: Sequence[ClientRole], clients_dir: str = CLIENTS_DIR) -> str:
    """A mongosh script (run as the root user) that makes each client's user and drops the marked users
    no longer listed."""
    wanted = ", ".join(f'"{c.name}": "{"readWrite" if c.access == READ_WRITE else "read"}"' for c in clients)
    return f"""const fs = require("fs");
const admin = db.getSiblingDB("admin");
const marker = {{ managedBy: "{PLATFORM_MARKER}" }};
const wanted = {{ {wanted} }};
for (const [name, role] of Object.entries(wanted)) {{
  const pwd = fs.readFileSync(`{clients_dir}/${{name}}.password`, "utf8").trim();
  const spec = {{ pwd, roles: [{{ role, db: "{database}" }}], customData: marker }};
  if (admin.getUser(name) === null) admin.createUser({{ user: name, ...spec }});
  else admin.updateUser(name, spec);
}}
for (const user of admin.getUsers({{ filter: {{ "customData.managedBy": marker.managedBy }} }}).users) {{
  if (!(user.user in wanted)) admin.dropUser(user.user);
}}
"""
