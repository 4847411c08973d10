//! The PostgreSQL inbox against a real server, at `CXTN_TEST_POSTGRES_URL` (`.ci/run` sets it).
//! Each test works in a fresh schema of its own and drops it when done.

mod contract;
mod many;
mod outage;
mod setup;
mod tls;
mod wake;

use std::str::FromStr;

use cxtn_receiver::inbox::postgres::PostgresInboxBuilder;
use cxtn_receiver::{Inbox, PostgresInbox};

pub const URL_VAR: &str = "CXTN_TEST_POSTGRES_URL";

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<PostgresInbox>();
    assert_send_sync::<PostgresInboxBuilder>();
};

/// Where the tests look when `CXTN_TEST_POSTGRES_URL` is not set: the local server's own database.
/// Each test works in a schema of its own and drops it, so the database is left as it was.
pub const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The test database's URL: `CXTN_TEST_POSTGRES_URL`, or the local server.
pub fn url() -> String {
    match std::env::var(URL_VAR) {
        Ok(url) if !url.is_empty() => url,
        _ => DEFAULT_URL.to_owned(),
    }
}

/// A fresh schema of the test's own, dropped with the guard.
pub struct Schema {
    pub name: String,
}

impl Schema {
    pub fn fresh() -> Self {
        url();
        let suffix: String = std::iter::repeat_with(fastrand::lowercase).take(12).collect();
        Self {
            name: format!("cxtn_t_{suffix}"),
        }
    }

    /// A builder for an inbox in this schema, with a small pool.
    pub fn builder(&self) -> PostgresInboxBuilder {
        PostgresInbox::builder(url()).schema(&self.name).pool_size(4)
    }

    pub async fn inbox(&self) -> PostgresInbox {
        match self.builder().connect().await {
            Ok(inbox) => inbox,
            Err(e) => panic!(
                "cannot reach the test PostgreSQL ({:?}): {e}; start PostgreSQL on 127.0.0.1:5432, run .ci/run \
                 (it starts one), or set {URL_VAR} to an empty database",
                self.builder()
            ),
        }
    }

    /// A direct connection, to look at the tables.
    pub async fn client(&self) -> tokio_postgres::Client {
        client(&url()).await
    }

    /// The rows of `sql`'s single `bigint` column.
    pub async fn numbers(&self, sql: &str) -> Vec<i64> {
        let sql = sql.replace("{schema}", &format!("\"{}\"", self.name));
        self.client()
            .await
            .query(&sql, &[])
            .await
            .unwrap()
            .iter()
            .map(|row| row.get::<_, i64>(0))
            .collect()
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let url = url();
        let name = self.name.clone();
        // Drop may run inside a runtime: the cleanup gets a thread and a runtime of its own.
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let client = client(&url).await;
                let _ = client
                    .batch_execute(&format!(
                        "SET lock_timeout = '10s'; DROP SCHEMA IF EXISTS \"{name}\" CASCADE"
                    ))
                    .await;
            });
        });
        let _ = cleanup.join();
    }
}

pub async fn client(url: &str) -> tokio_postgres::Client {
    let (client, connection) = match tokio_postgres::connect(url, tokio_postgres::NoTls).await {
        Ok(connected) => connected,
        Err(e) => panic!(
            "cannot reach the test PostgreSQL ({e}): start PostgreSQL on 127.0.0.1:5432, run .ci/run (it starts one), \
             or set {URL_VAR} to an empty database"
        ),
    };
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

/// Where the test database listens, and how to log in, as `key=value` pairs without the host and port.
pub fn server() -> (std::net::SocketAddr, String) {
    let config = tokio_postgres::Config::from_str(&url()).unwrap();
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(host)) if host == "localhost" => "127.0.0.1".to_owned(),
        Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
        _ => panic!("{URL_VAR} must name a TCP host"),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let addr = format!("{host}:{port}")
        .parse()
        .expect("the test database listens on an IP address");
    let mut login = format!("user={}", config.get_user().unwrap_or("postgres"));
    if let Some(dbname) = config.get_dbname() {
        login.push_str(&format!(" dbname={dbname}"));
    }
    if let Some(password) = config.get_password() {
        login.push_str(&format!(" password='{}'", String::from_utf8_lossy(password)));
    }
    (addr, login)
}

pub fn dbname() -> String {
    let config = tokio_postgres::Config::from_str(&url()).unwrap();
    config
        .get_dbname()
        .or(config.get_user())
        .unwrap_or("postgres")
        .to_owned()
}

/// A delivery body for a known event, `payment_completed`.
pub fn body(id: &str) -> String {
    format!(
        r#"{{"eventId": "{id}", "event": "payment_completed", "data": {{"objectId": 7, "userId": "C1", "amount": 10.00, "currency": "GBP"}}}}"#
    )
}

pub async fn count_rows(inbox: &dyn Inbox) -> u64 {
    let stats = inbox.stats().await.unwrap();
    stats.pending + stats.processing + stats.processed + stats.dead
}
