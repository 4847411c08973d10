//! The console in a real browser: headless Chromium driven through chromedriver (WebDriver).
//!
//! One browser session serves every case, one after another; each case is a real assertion, and the test fails
//! listing every case that failed.
//! Chromium and chromedriver come from Debian's `chromium` and `chromium-driver` packages (`.ci/run` installs
//! them); without them the test fails and says so.
//!
//! `CXTN_UPDATE_SCREENSHOTS=1` writes the screenshots to `docs/images/console-*.png`; otherwise they are only taken
//! and checked.

mod driver;
mod seed;
mod watch;

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail, ensure};
use cxtn_console::Console;
use cxtn_model::Secret;
use cxtn_receiver::{EventId, EventStatus, Inbox, PostgresInbox, SqliteInbox};
use fantoccini::{Client, Locator};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use self::driver::{Browser, attr, text, wait_for};
use self::seed::Seeded;
use self::watch::{Watched, watched};

/// The admin token of the console that requires one.
const ADMIN_TOKEN: &str = "console-browser-test-token-5f0e2c";

/// A console serving on a loopback port until dropped.
struct Served {
    /// `http://127.0.0.1:PORT/`
    base: String,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Served {
    async fn start(inbox: Arc<dyn Inbox>, token: Option<&str>) -> anyhow::Result<Self> {
        let mut builder = Console::builder(inbox).live_poll_interval(Duration::from_millis(100));
        if let Some(token) = token {
            builder = builder.admin_token(Secret::new(token));
        }
        let console = builder.build().context("the console did not build")?;
        let listener = tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await?;
        let base = format!("http://{}/", listener.local_addr()?);
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            if let Err(e) = console
                .serve(listener, async move {
                    let _ = stopped.await;
                })
                .await
            {
                panic!("the console stopped serving: {e}");
            }
        });
        Ok(Self {
            base,
            stop: Some(stop),
            task,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.abort();
    }
}

/// What every case sees.
struct Ctx {
    browser: Browser,
    inbox: Arc<dyn Inbox>,
    watched: Arc<Watched>,
    console: Served,
    seeded: Seeded,
}

impl Ctx {
    fn client(&self) -> &Client {
        self.browser.client()
    }

    /// Opens `path` of the console and checks it is the page `page`.
    async fn open(&self, path: &str, page: &str) -> anyhow::Result<()> {
        let url = self.console.url(path);
        self.client()
            .goto(&url)
            .await
            .with_context(|| format!("could not open {url}"))?;
        expect_page(self.client(), page)
            .await
            .with_context(|| format!("at {url}"))
    }

    async fn status_of(&self, event_id: &str) -> anyhow::Result<EventStatus> {
        let record = self.inbox.event(&EventId::from(event_id)).await?;
        Ok(record
            .with_context(|| format!("the inbox has no event {event_id}"))?
            .status)
    }
}

type Case = for<'a> fn(&'a Ctx) -> Pin<Box<dyn Future<Output = anyhow::Result<()>> + 'a>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_works_in_headless_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite: Arc<dyn Inbox> = Arc::new(SqliteInbox::open(dir.path().join("inbox.sqlite")).unwrap());
    finish(tokio::time::timeout(Duration::from_secs(120), run(sqlite, Screenshots::Take)).await);
}

/// The same cases over a PostgreSQL inbox (at `CXTN_TEST_POSTGRES_URL`, or the local server's `postgres`
/// database), in a schema of its own that the test drops.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_works_in_headless_chromium_over_postgres() {
    let url = match std::env::var("CXTN_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => "postgres://postgres@127.0.0.1:5432/postgres".to_owned(),
    };
    let schema = format!("cxtn_console_browser_{}", std::process::id());
    let inbox = PostgresInbox::builder(&url)
        .schema(&schema)
        .pool_size(4)
        .connect()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "cannot reach the test PostgreSQL: {e}; start PostgreSQL on 127.0.0.1:5432, run .ci/run (it starts \
                 one), or set CXTN_TEST_POSTGRES_URL to an empty database"
            )
        });
    let outcome = tokio::time::timeout(Duration::from_secs(120), run(Arc::new(inbox), Screenshots::Skip)).await;
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    client
        .batch_execute(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
        .await
        .unwrap();
    finish(outcome);
}

/// Whether a run takes the screenshots (the SQLite run does; one set is enough).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Screenshots {
    Take,
    Skip,
}

fn finish(outcome: Result<anyhow::Result<()>, tokio::time::error::Elapsed>) {
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(e)) => panic!("{e:#}"),
        Err(_) => panic!("the browser tests did not finish within 120 s"),
    }
}

async fn run(store: Arc<dyn Inbox>, shots: Screenshots) -> anyhow::Result<()> {
    let watched = Arc::new(watched(store));
    let inbox: Arc<dyn Inbox> = watched.clone();
    let seeded = seed::seed(inbox.as_ref()).await.context("could not seed the inbox")?;
    let console = Served::start(Arc::clone(&inbox), None).await?;
    let browser = Browser::start().await?;
    let ctx = Ctx {
        browser,
        inbox,
        watched,
        console,
        seeded,
    };

    // In this order: the live arrival first, while its stream is the only one reading the inbox; the screenshots
    // show the seeded inbox before replays change it.
    let cases: [(&str, Case); 10] = [
        ("a new arrival appears without a reload", |c| Box::pin(live_arrival(c))),
        ("every page loads", |c| Box::pin(every_page_loads(c))),
        ("the overview counts what the inbox holds", |c| {
            Box::pin(overview_counts(c))
        }),
        ("screenshots of the overview and an event", |c| Box::pin(screenshots(c))),
        ("filters narrow the events table", |c| {
            Box::pin(filters_narrow_the_table(c))
        }),
        ("an event shows its money exactly and its body pretty-printed", |c| {
            Box::pin(event_detail(c))
        }),
        ("an event shows its conflicting versions side by side", |c| {
            Box::pin(conflicts_side_by_side(c))
        }),
        ("replay makes a dead and a processed event pending", |c| {
            Box::pin(replay(c))
        }),
        ("re-parse stores a rejection that parses now", |c| Box::pin(reparse(c))),
        (
            "an admin token sends the browser to the login page, and signing out back",
            |c| Box::pin(login(c)),
        ),
    ];
    let mut failures = Vec::new();
    for (name, case) in cases {
        if shots == Screenshots::Skip && name.starts_with("screenshots") {
            continue;
        }
        if let Err(e) = case(&ctx).await {
            failures.push(format!("- {name}: {e:#}"));
        }
    }
    let Ctx { browser, console, .. } = ctx;
    drop(console);
    browser.close().await?;
    if !failures.is_empty() {
        bail!("{} browser case(s) failed:\n{}", failures.len(), failures.join("\n"));
    }
    Ok(())
}

/// Waits until the document is the page `page` (`main#page[data-page]`).
async fn expect_page(client: &Client, page: &str) -> anyhow::Result<()> {
    wait_for(&format!("the {page} page"), || async {
        let shown = attr(client, "main#page", "data-page").await?;
        match shown.as_deref() {
            Some(shown) if shown == page => Ok(Some(())),
            other => {
                let says = text(client, "main#page").await.unwrap_or_default();
                let says: String = says.chars().take(300).collect();
                bail!("main#page has data-page {other:?} and says {says:?}")
            }
        }
    })
    .await
}

/// The event ids of the rows of `table#events`, top to bottom.
async fn rows(client: &Client) -> anyhow::Result<Vec<String>> {
    let mut ids = Vec::new();
    for row in client
        .find_all(Locator::Css("table#events tbody tr[data-event-id]"))
        .await?
    {
        ids.push(
            row.attr("data-event-id")
                .await?
                .context("a row without data-event-id")?,
        );
    }
    Ok(ids)
}

async fn every_page_loads(ctx: &Ctx) -> anyhow::Result<()> {
    ctx.open("", "overview").await?;
    ctx.open("events", "events").await?;
    client_has(ctx.client(), "table#events").await?;
    ctx.open(&format!("events/{}", seed::FUNDS_IN), "event").await?;
    ensure!(
        text(ctx.client(), "#event-id").await? == seed::FUNDS_IN,
        "#event-id is not the event's id"
    );
    ctx.open(&format!("events/{}", seed::QUARANTINED), "event").await?;
    let status = text(ctx.client(), "#status").await?;
    ensure!(
        status == "quarantined",
        "the quarantined event's #status reads {status:?}"
    );
    ctx.open("rejections", "rejections").await?;
    let listed = ctx
        .client()
        .find_all(Locator::Css("table#rejections tr[data-rejection-id]"))
        .await?;
    ensure!(
        listed.len() == 2,
        "table#rejections lists {} rejections, not 2",
        listed.len()
    );
    ctx.open(&format!("rejections/{}", ctx.seeded.garbage), "rejection")
        .await?;
    ensure!(
        text(ctx.client(), "pre#body").await? == seed::GARBAGE_BODY,
        "the rejection's pre#body is not its raw body"
    );
    ensure!(
        !text(ctx.client(), "#reason").await?.is_empty(),
        "the rejection's #reason is empty"
    );
    Ok(())
}

async fn client_has(client: &Client, css: &str) -> anyhow::Result<()> {
    client
        .find(Locator::Css(css))
        .await
        .with_context(|| format!("no `{css}` on the page"))?;
    Ok(())
}

async fn overview_counts(ctx: &Ctx) -> anyhow::Result<()> {
    ctx.open("", "overview").await?;
    let stats = ctx.inbox.stats().await?;
    for (id, expected) in [
        ("count-pending", stats.pending),
        ("count-processing", stats.processing),
        ("count-processed", stats.processed),
        ("count-dead", stats.dead),
        ("count-quarantined", stats.quarantined),
        ("count-rejected", stats.rejected),
        ("count-conflicts", stats.conflicts),
        ("count-duplicates", stats.duplicates),
    ] {
        let shown = text(ctx.client(), &format!("#{id}")).await?;
        ensure!(
            shown == expected.to_string(),
            "#{id} shows {shown:?}, the inbox holds {expected}"
        );
    }
    // What the seed made, and the live arrival: six pending, one of each other ending.
    ensure!(
        (stats.pending, stats.processed, stats.dead, stats.quarantined) == (6, 1, 1, 1),
        "unexpected seed: {stats:?}"
    );
    ensure!(
        (stats.rejected, stats.conflicts, stats.duplicates) == (2, 1, 1),
        "unexpected seed: {stats:?}"
    );
    let oldest = text(ctx.client(), "#oldest-pending").await?;
    ensure!(
        !oldest.is_empty() && oldest != "none",
        "#oldest-pending reads {oldest:?} with events pending"
    );
    let bars = ctx.client().find_all(Locator::Css("svg#arrivals rect")).await?;
    ensure!(
        !bars.is_empty(),
        "svg#arrivals draws no bar for arrivals in the last hour"
    );
    for link in ["link-dead", "link-quarantined", "link-conflicts", "link-rejections"] {
        let href = attr(ctx.client(), &format!("a#{link}"), "href").await?;
        ensure!(href.is_some_and(|h| !h.is_empty()), "a#{link} links nowhere");
    }
    // The dead letters' link leads to a list of exactly them.
    ctx.client().find(Locator::Css("a#link-dead")).await?.click().await?;
    expect_page(ctx.client(), "events").await?;
    let dead = wait_for("the dead letters' list", || async {
        let ids = rows(ctx.client()).await?;
        Ok((ids == [seed::TRADE]).then_some(ids))
    })
    .await?;
    ensure!(dead == [seed::TRADE], "a#link-dead lists {dead:?}");
    Ok(())
}

/// Sets the filter field `name` (an input or a select) of `form#filters`.
async fn set_filter(client: &Client, name: &str, value: &str) -> anyhow::Result<()> {
    let css = format!("form#filters [name={name}]");
    let field = client
        .find(Locator::Css(&css))
        .await
        .with_context(|| format!("no `{css}`"))?;
    if field.tag_name().await?.eq_ignore_ascii_case("select") {
        field
            .select_by_value(value)
            .await
            .with_context(|| format!("`{css}` has no option {value:?}"))?;
    } else {
        field.clear().await?;
        if !value.is_empty() {
            field.send_keys(value).await?;
        }
    }
    Ok(())
}

/// Fills the filters, applies them, and returns the rows shown once the URL carries `expect_in_url`.
async fn filter(ctx: &Ctx, fields: &[(&str, &str)], expect_in_url: &str) -> anyhow::Result<Vec<String>> {
    ctx.open("events", "events").await?;
    for (name, value) in fields {
        set_filter(ctx.client(), name, value).await?;
    }
    ctx.client()
        .find(Locator::Css("button#apply-filters"))
        .await?
        .click()
        .await?;
    wait_for(&format!("a URL with {expect_in_url}"), || async {
        let url = ctx.client().current_url().await?;
        Ok(url.query().is_some_and(|q| q.contains(expect_in_url)).then_some(()))
    })
    .await?;
    expect_page(ctx.client(), "events").await?;
    rows(ctx.client()).await
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

fn ids(of: &[&str]) -> Vec<String> {
    sorted(of.iter().map(|s| (*s).to_owned()).collect())
}

async fn filters_narrow_the_table(ctx: &Ctx) -> anyhow::Result<()> {
    ctx.open("events", "events").await?;
    let all = rows(ctx.client()).await?;
    ensure!(
        all.len() == 9,
        "the unfiltered table shows {} events, not 9: {all:?}",
        all.len()
    );
    for name in ["status", "event", "subscription", "from", "until", "q"] {
        client_has(ctx.client(), &format!("form#filters [name={name}]")).await?;
    }

    let dead = filter(ctx, &[("status", "dead")], "status=dead").await?;
    ensure!(dead == [seed::TRADE], "status=dead shows {dead:?}");
    let cell = text(
        ctx.client(),
        &format!("tr[data-event-id=\"{}\"] td.status", seed::TRADE),
    )
    .await?;
    ensure!(cell == "dead", "the dead letter's td.status reads {cell:?}");

    let debits = sorted(filter(ctx, &[("event", "account_debit")], "event=account_debit").await?);
    ensure!(
        debits == ids(&[seed::ACCOUNT_DEBIT, seed::POT_DEBIT]),
        "event=account_debit shows {debits:?}"
    );

    let pending_credits = sorted(
        filter(
            ctx,
            &[("status", "pending"), ("event", "account_credit")],
            "event=account_credit",
        )
        .await?,
    );
    ensure!(
        pending_credits == ids(&[seed::FUNDS_IN, seed::ACCOUNT_CREDIT, seed::POT_CREDIT]),
        "status=pending&event=account_credit shows {pending_credits:?}"
    );
    for id in &pending_credits {
        let cell = text(ctx.client(), &format!("tr[data-event-id=\"{id}\"] td.status")).await?;
        ensure!(
            cell == "pending",
            "{id}'s td.status reads {cell:?} under status=pending"
        );
    }

    let searched = filter(ctx, &[("q", seed::PAYMENT)], &format!("q={}", seed::PAYMENT)).await?;
    ensure!(searched == [seed::PAYMENT], "q={} shows {searched:?}", seed::PAYMENT);

    let none = filter(ctx, &[("status", "processing")], "status=processing").await?;
    ensure!(none.is_empty(), "status=processing shows {none:?}");
    client_has(ctx.client(), "#no-events").await?;
    Ok(())
}

async fn event_detail(ctx: &Ctx) -> anyhow::Result<()> {
    ctx.open(&format!("events/{}", seed::FUNDS_IN), "event").await?;
    let client = ctx.client();
    let amount = text(client, "#amount").await?;
    ensure!(
        amount == "1000.00 GBP",
        "#amount reads {amount:?}, not exactly `1000.00 GBP`"
    );
    ensure!(
        text(client, "#event-name").await? == "account_credit",
        "#event-name is not account_credit"
    );
    ensure!(text(client, "#status").await? == "pending", "#status is not pending");
    let fields = text(client, "dl#fields").await?;
    ensure!(
        fields.contains("C00081866"),
        "dl#fields does not show the userId: {fields:?}"
    );
    // The body pretty-printed: on several lines, and the very JSON that arrived.
    let body = client.find(Locator::Css("pre#body")).await?.text().await?;
    ensure!(body.lines().count() > 1, "pre#body is not pretty-printed: {body:?}");
    let shown: serde_json::Value = serde_json::from_str(&body).context("pre#body is not JSON")?;
    let sent: serde_json::Value = serde_json::from_str(seed::sample("funds_in")?)?;
    ensure!(shown == sent, "pre#body is not the body as received: {body}");
    client_has(client, "button#copy-body").await?;
    ensure!(
        text(client, "#attempts").await?.contains('0'),
        "#attempts of an event never tried is not 0"
    );

    // The dead letter's attempt and error.
    ctx.open(&format!("events/{}", seed::TRADE), "event").await?;
    ensure!(
        text(client, "#status").await? == "dead",
        "the dead letter's #status is not dead"
    );
    ensure!(
        text(client, "#attempts").await?.contains('1'),
        "the dead letter's #attempts does not say 1"
    );
    let error = text(client, "#last-error").await?;
    ensure!(error.contains(seed::DEAD_ERROR), "#last-error reads {error:?}");

    // The redelivered event counts its deliveries.
    ctx.open(&format!("events/{}", seed::ACCOUNT_CREDIT), "event").await?;
    let deliveries = text(client, "#deliveries").await?;
    ensure!(
        deliveries.contains('2'),
        "#deliveries of an event delivered twice reads {deliveries:?}"
    );
    Ok(())
}

async fn conflicts_side_by_side(ctx: &Ctx) -> anyhow::Result<()> {
    ctx.open(&format!("events/{}", seed::POT_CREDIT), "event").await?;
    let bodies = ctx
        .client()
        .find_all(Locator::Css("section#conflicts pre.conflict-body"))
        .await?;
    ensure!(
        bodies.len() == 2,
        "section#conflicts shows {} bodies, not the first and the changed one",
        bodies.len()
    );
    let mut amounts = Vec::new();
    for body in bodies {
        let value: serde_json::Value =
            serde_json::from_str(&body.text().await?).context("a conflict body is not JSON")?;
        amounts.push(
            value
                .pointer("/data/amount")
                .cloned()
                .context("a conflict body without data.amount")?,
        );
    }
    ensure!(
        amounts.len() == 2 && amounts.first() != amounts.get(1),
        "the versions show the same amount: {amounts:?}"
    );
    Ok(())
}

async fn replay(ctx: &Ctx) -> anyhow::Result<()> {
    for (event_id, before) in [(seed::TRADE, "dead"), (seed::PAYMENT, "processed")] {
        ctx.open(&format!("events/{event_id}"), "event").await?;
        let status = text(ctx.client(), "#status").await?;
        ensure!(
            status == before,
            "{event_id}'s #status reads {status:?} before replay, not {before}"
        );
        ctx.client()
            .find(Locator::Css("form#replay button#replay-button"))
            .await?
            .click()
            .await?;
        wait_for(
            &format!("{event_id}'s #status to read pending after replay"),
            || async {
                expect_page(ctx.client(), "event").await?;
                Ok((text(ctx.client(), "#status").await? == "pending").then_some(()))
            },
        )
        .await?;
        ensure!(
            text(ctx.client(), "#event-id").await? == event_id,
            "replay did not come back to the event's page"
        );
        ensure!(
            !text(ctx.client(), "#flash").await?.is_empty(),
            "replay shows no #flash message"
        );
        ensure!(
            ctx.status_of(event_id).await? == EventStatus::Pending,
            "the inbox does not hold {event_id} as pending"
        );
    }
    Ok(())
}

async fn reparse(ctx: &Ctx) -> anyhow::Result<()> {
    ensure!(
        ctx.inbox.event(&EventId::from(seed::REPARSABLE_EVENT)).await?.is_none(),
        "the reparsable rejection is already an event"
    );
    ctx.open(&format!("rejections/{}", ctx.seeded.reparsable), "rejection")
        .await?;
    ctx.client()
        .find(Locator::Css("form#reparse button#reparse-button"))
        .await?
        .click()
        .await?;
    let flash = wait_for("#flash after re-parse", || async {
        let flash = text(ctx.client(), "#flash").await?;
        Ok((!flash.is_empty()).then_some(flash))
    })
    .await?;
    ensure!(
        flash.contains(seed::REPARSABLE_EVENT),
        "#flash after a successful re-parse reads {flash:?}"
    );
    ensure!(
        ctx.status_of(seed::REPARSABLE_EVENT).await? == EventStatus::Pending,
        "the re-parsed rejection is not a pending event"
    );
    let record = ctx
        .inbox
        .rejection(ctx.seeded.reparsable)
        .await?
        .context("the rejection is gone")?;
    ensure!(
        record.replayed_as.as_ref().map(EventId::as_str) == Some(seed::REPARSABLE_EVENT),
        "the rejection does not record what it was stored as"
    );

    // A body that still does not parse says why, and stays a rejection.
    ctx.open(&format!("rejections/{}", ctx.seeded.garbage), "rejection")
        .await?;
    ctx.client()
        .find(Locator::Css("form#reparse button#reparse-button"))
        .await?
        .click()
        .await?;
    let flash = wait_for("#flash after a failed re-parse", || async {
        let flash = text(ctx.client(), "#flash").await?;
        Ok((!flash.is_empty()).then_some(flash))
    })
    .await?;
    let record = ctx
        .inbox
        .rejection(ctx.seeded.garbage)
        .await?
        .context("the rejection is gone")?;
    ensure!(
        record.replayed_as.is_none(),
        "a body that does not parse was stored as an event ({flash:?})"
    );
    Ok(())
}

async fn live_arrival(ctx: &Ctx) -> anyhow::Result<()> {
    ctx.open("events", "events").await?;
    let before = rows(ctx.client()).await?;
    ensure!(
        before.len() == 8,
        "the events page shows {} events, not the 8 seeded",
        before.len()
    );
    // The page's stream reads the inbox when it starts, to know what is already there: once two more listings
    // were answered after the page loaded, its start is behind it, and what is stored now is news.
    let loaded = ctx.watched.intercept().get();
    wait_for("the live stream to read the inbox", || async {
        Ok((ctx.watched.intercept().get() >= loaded + 2).then_some(()))
    })
    .await?;
    let body = r#"{"eventId": "wh_live000000000000000000000000000001", "event": "payment_completed", "data": {"objectId": 170001, "userId": "C00081866", "amount": 42.00, "currency": "GBP"}}"#;
    let event = seed::new_event(body, seed::ms_ago(0))?;
    ensure!(
        ctx.inbox.store(event).await? == cxtn_receiver::Stored::New,
        "the live event was not new"
    );
    let css = "table#events tbody tr[data-event-id=\"wh_live000000000000000000000000000001\"]";
    let class = wait_for("the new arrival's row in table#events", || async {
        let row = ctx.client().find(Locator::Css(css)).await?;
        Ok(Some(row.attr("class").await?.unwrap_or_default()))
    })
    .await?;
    ensure!(
        class.split_whitespace().any(|c| c == "live"),
        "the new row's class is {class:?}, not live"
    );
    let after = rows(ctx.client()).await?;
    ensure!(
        after.first().map(String::as_str) == Some("wh_live000000000000000000000000000001"),
        "the new arrival is not the top row: {after:?}"
    );
    ensure!(
        after.get(1..) == Some(before.as_slice()),
        "the rows below the new arrival changed without a reload"
    );
    let cell = text(ctx.client(), &format!("{css} td.status")).await?;
    ensure!(cell == "pending", "the new row's td.status reads {cell:?}");
    Ok(())
}

async fn login(ctx: &Ctx) -> anyhow::Result<()> {
    let guarded = Served::start(Arc::clone(&ctx.inbox), Some(ADMIN_TOKEN)).await?;
    let client = ctx.client();
    client.goto(&guarded.url("events")).await?;
    expect_page(client, "login")
        .await
        .context("a console with an admin token let the browser in")?;
    ensure!(
        client.current_url().await?.path().ends_with("/login"),
        "the browser was not sent to /login"
    );
    for (token, expect) in [("not-the-token", "login"), (ADMIN_TOKEN, "overview")] {
        let field = client.find(Locator::Css("form#login input[name=token]")).await?;
        field.clear().await?;
        field.send_keys(token).await?;
        client.find(Locator::Css("button#login-button")).await?.click().await?;
        if expect == "login" {
            let error = wait_for("#login-error after a wrong token", || async {
                let error = text(client, "#login-error").await?;
                Ok((!error.is_empty()).then_some(error))
            })
            .await?;
            ensure!(!error.contains(token), "#login-error repeats the token it was given");
            expect_page(client, "login").await?;
        } else {
            wait_for("a page past the login", || async {
                let page = attr(client, "main#page", "data-page").await?;
                Ok(page.filter(|p| p != "login"))
            })
            .await?;
        }
    }
    // In: the session cookie opens the other pages too.
    client.goto(&guarded.url("events")).await?;
    expect_page(client, "events").await?;
    // Signing out drops the session: the next page asks for the token again.
    client
        .find(Locator::Css("form#logout button#logout-button"))
        .await?
        .click()
        .await?;
    expect_page(client, "login")
        .await
        .context("signing out did not lead to the login page")?;
    client.goto(&guarded.url("events")).await?;
    expect_page(client, "login")
        .await
        .context("the session outlived signing out")?;
    Ok(())
}

/// The width and height of a PNG, from its header; an error when `bytes` is not one.
fn png_size(bytes: &[u8]) -> anyhow::Result<(u32, u32)> {
    const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
    ensure!(bytes.starts_with(SIGNATURE), "not a PNG");
    let dimension = |range: std::ops::Range<usize>| -> anyhow::Result<u32> {
        let field = bytes.get(range).context("a PNG cut short")?;
        Ok(u32::from_be_bytes(field.try_into()?))
    };
    ensure!(
        bytes.get(12..16) == Some(b"IHDR"),
        "a PNG without its header chunk first"
    );
    Ok((dimension(16..20)?, dimension(20..24)?))
}

async fn screenshots(ctx: &Ctx) -> anyhow::Result<()> {
    let images = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/images");
    let update = std::env::var("CXTN_UPDATE_SCREENSHOTS").is_ok_and(|v| v == "1");
    for (path, page, file) in [
        (String::new(), "overview", "console-overview.png"),
        (format!("events/{}", seed::FUNDS_IN), "event", "console-event.png"),
    ] {
        ctx.open(&path, page).await?;
        let png = ctx
            .client()
            .screenshot()
            .await
            .with_context(|| format!("no screenshot of the {page} page"))?;
        let (width, height) = png_size(&png).with_context(|| format!("the {page} page's screenshot"))?;
        ensure!(
            width >= 800 && height >= 600,
            "the {page} page's screenshot is {width}x{height}"
        );
        ensure!(
            png.len() > 10_000,
            "the {page} page's screenshot is {} bytes: a blank page?",
            png.len()
        );
        if update {
            std::fs::create_dir_all(&images)?;
            std::fs::write(images.join(file), &png).with_context(|| format!("could not write {file}"))?;
        }
    }
    Ok(())
}
