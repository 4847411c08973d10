//! Opening the inbox `--db` names: every command opens it here, and only here.

use std::path::Path;
use std::sync::Arc;

use cxtn::receiver::{Inbox, InboxErrorKind, SqliteInbox};

use crate::error::{CliError, Kind};

/// Whether the command may create the inbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// `listen` and `demo`: a missing SQLite file is created.
    Create,
    /// `inbox replay`: a missing inbox is an error, never created empty.
    Existing,
    /// `inbox list`, `show` and `stats`: a SQLite file is opened read-only, never created, converted or
    /// upgraded, and a file that is not an inbox is refused.
    ReadOnly,
}

/// Where an inbox lives, as `--db` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Location<'a> {
    Sqlite(&'a Path),
    Postgres(&'a str),
}

impl<'a> Location<'a> {
    pub(crate) fn parse(db: &'a str) -> Self {
        let lower = db.trim().to_ascii_lowercase();
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            Self::Postgres(db.trim())
        } else {
            Self::Sqlite(Path::new(db))
        }
    }
}

/// `--db` as it may be printed: a URL's password, in its user information or its query, becomes `<redacted>`.
pub(crate) fn redacted(db: &str) -> String {
    let Some((scheme, rest)) = db.split_once("://") else {
        return db.to_owned();
    };
    // The user information ends at the last `@` before the query: a password may hold an unencoded `/`, which
    // would otherwise end the authority inside it.
    let before_query = rest.find(['?', '#']).unwrap_or(rest.len());
    let (userinfo, rest) = match rest.get(..before_query).and_then(|head| head.rfind('@')) {
        Some(at) => (rest.get(..at), rest.get(at + 1..).unwrap_or_default()),
        None => (None, rest),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (host, tail) = rest.split_at(end);
    let authority = match userinfo {
        Some(userinfo) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:<redacted>@{host}"),
            None => format!("{userinfo}@{host}"),
        },
        None => host.to_owned(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let (query, fragment) = query.split_once('#').map_or((query, None), |(q, f)| (q, Some(f)));
            let pairs: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=<redacted>"),
                    _ => pair.to_owned(),
                })
                .collect();
            let fragment = fragment.map_or_else(String::new, |f| format!("#{f}"));
            format!("{path}?{}{fragment}", pairs.join("&"))
        }
        None => tail.to_owned(),
    };
    format!("{scheme}://{authority}{tail}")
}

/// Opens the inbox `--db` names: a SQLite file path, or (with the `postgres` feature) a `postgres://` URL,
/// whose `schema` holds the inbox. Connecting to a PostgreSQL inbox brings its schema up to date; a SQLite file
/// opened [`Access::ReadOnly`] is only read.
pub(crate) async fn open(db: &str, schema: &str, access: Access) -> Result<Arc<dyn Inbox>, CliError> {
    match Location::parse(db) {
        #[cfg(feature = "postgres")]
        Location::Postgres(url) => {
            let _ = access;
            let inbox = cxtn::receiver::PostgresInbox::builder(url)
                .schema(schema)
                .connect()
                .await
                .map_err(|e| {
                    CliError::new(Kind::Inbox, format!("cannot open the PostgreSQL inbox: {e}")).hint(
                        "Check the URL in --db, that PostgreSQL is running, and that the user may create the schema.",
                    )
                })?;
            Ok(Arc::new(inbox))
        }
        #[cfg(not(feature = "postgres"))]
        Location::Postgres(_url) => {
            let _ = schema;
            Err(
                CliError::usage("PostgreSQL inboxes need the `postgres` feature of cxtn-cli")
                    .hint("Use a SQLite file for --db with this build."),
            )
        }
        Location::Sqlite(path) => {
            if access != Access::Create && !path.exists() {
                return Err(
                    CliError::new(Kind::Inbox, format!("there is no inbox at {}", path.display()))
                        .hint("Pass --db with the file `cxtn listen` writes, or start `cxtn listen` to create one."),
                );
            }
            if path.is_dir() {
                return Err(
                    CliError::usage(format!("{} is a directory, not an inbox file", path.display()))
                        .hint("Pass --db with a file path, such as cxtn-inbox.sqlite."),
                );
            }
            let opened = if access == Access::ReadOnly {
                SqliteInbox::open_read_only(path)
            } else {
                SqliteInbox::open(path)
            };
            let inbox = opened.map_err(|e| {
                let not_an_inbox = e.kind() == InboxErrorKind::NotAnInbox;
                let error = CliError::from(e);
                if not_an_inbox {
                    error.hint(format!(
                        "{} is not an inbox this version can read: pass --db with the file `cxtn listen` writes.",
                        path.display()
                    ))
                } else {
                    error
                }
            })?;
            Ok(Arc::new(inbox))
        }
    }
}

/// Runs `cxtn inbox vacuum` on the inbox `--db` names: a SQLite file is opened for writing (never created) and
/// vacuumed; a PostgreSQL inbox needs none (`None`).
pub(crate) async fn vacuum(db: &str) -> Result<Option<cxtn::receiver::Vacuumed>, CliError> {
    let Location::Sqlite(path) = Location::parse(db) else {
        return Ok(None);
    };
    if !path.is_file() {
        return Err(
            CliError::new(Kind::Inbox, format!("there is no inbox at {}", path.display()))
                .hint("Pass --db with the file `cxtn listen` writes."),
        );
    }
    let inbox = SqliteInbox::open(path)?;
    let vacuumed = inbox.vacuum().await.map_err(|e| {
        CliError::from(e).hint("Stop the receivers writing to the inbox, check the free disk space, and run it again.")
    })?;
    Ok(Some(vacuumed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_urls_are_told_apart_from_paths() {
        assert_eq!(
            Location::parse("postgres://u@h/db"),
            Location::Postgres("postgres://u@h/db")
        );
        assert_eq!(
            Location::parse(" PostgreSQL://u@h/db"),
            Location::Postgres("PostgreSQL://u@h/db")
        );
        assert_eq!(
            Location::parse("cxtn-inbox.sqlite"),
            Location::Sqlite(Path::new("cxtn-inbox.sqlite"))
        );
        assert_eq!(Location::parse("pg"), Location::Sqlite(Path::new("pg")));
    }

    #[test]
    fn passwords_are_redacted_from_what_is_printed() {
        for (db, shown) in [
            (
                "postgres://cxtn:PASSWORD@db.internal:5432/app",
                "postgres://cxtn:<redacted>@db.internal:5432/app",
            ),
            (
                "postgres://cxtn:p@ss:word@db/app?sslmode=require",
                "postgres://cxtn:<redacted>@db/app?sslmode=require",
            ),
            (
                "postgresql://cxtn@db/app?password=PASSWORD&sslmode=verify-full",
                "postgresql://cxtn@db/app?password=<redacted>&sslmode=verify-full",
            ),
            (
                "postgres://db/app?PassWord=PASSWORD",
                "postgres://db/app?PassWord=<redacted>",
            ),
            ("postgres://cxtn@db/app", "postgres://cxtn@db/app"),
            ("postgres://cxtn:PASS/WORD@db/app", "postgres://cxtn:<redacted>@db/app"),
            (
                "amqp://guest:PASS/WORD@127.0.0.1:5672/%2f",
                "amqp://guest:<redacted>@127.0.0.1:5672/%2f",
            ),
            ("cxtn-inbox.sqlite", "cxtn-inbox.sqlite"),
            ("/var/lib/cxtn/in:box@x.sqlite", "/var/lib/cxtn/in:box@x.sqlite"),
        ] {
            assert_eq!(redacted(db), shown, "{db}");
            assert!(!redacted(db).contains("PASSWORD"), "{db}");
            assert!(
                !redacted(db).contains("word@") && !redacted(db).contains("WORD"),
                "{db}"
            );
        }
        assert!(crate::cli::has_password("postgres://u:PASSWORD@h/db"));
        assert!(crate::cli::has_password("postgres://u@h/db?password=x"));
        assert!(!crate::cli::has_password("postgres://u@h/db"));
        assert!(!crate::cli::has_password("cxtn-inbox.sqlite"));
    }
}
