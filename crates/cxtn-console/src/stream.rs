//! `/stream`: new arrivals as server-sent events, found by asking the inbox through the trait at each interval.
//!
//! Each poll asks for the events received since a little before the newest one already seen, oldest first,
//! and sends those not sent yet: an event whose store committed after a later-received one is still sent.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use cxtn_receiver::inbox::{EventCursor, EventFilter, EventId, EventRecord, Inbox};
use http::{HeaderMap, header};
use tokio::sync::{mpsc, watch};

use crate::body::Body;
use crate::pages::Row;
use crate::query::EventsQuery;
use crate::routes::Reply;
use crate::{Shared, text};

/// How far before the newest event seen each poll looks again, for stores that committed out of order.
const LOOKBACK_MS: i64 = 10_000;
/// Events asked per query.
const BATCH: usize = 200;
/// Queries per poll at most, when arrivals come faster than a batch per interval.
const MAX_BATCHES: usize = 10;
/// How often a comment keeps an idle stream (and the proxies on its way) open.
const KEEPALIVE: Duration = Duration::from_secs(15);

/// Opens the stream of new arrivals that meet the events page's filters (its cursor aside).
pub(crate) fn open(shared: &Shared, headers: &HeaderMap, query: EventsQuery) -> Reply {
    // A reconnecting browser says the last arrival it got; a fresh page says the newest event it showed.
    let resume = headers
        .get("last-event-id")
        .and_then(|value| value.to_str().ok())
        .and_then(EventCursor::from_token)
        .or_else(|| query.since.clone());
    let (chunks, body) = mpsc::channel(16);
    let live = Live {
        inbox: shared.inbox.clone(),
        poll: shared.poll,
        stopping: shared.stopping.subscribe(),
        chunks,
        query,
        seen: HashMap::new(),
        watermark: 0,
        newest: None,
    };
    tokio::spawn(live.run(resume));
    Reply::stream(Body::stream(body)).header(header::HeaderName::from_static("x-accel-buffering"), "no")
}

struct Live {
    inbox: Arc<dyn Inbox>,
    poll: Duration,
    stopping: watch::Receiver<bool>,
    chunks: mpsc::Sender<Bytes>,
    /// The filters arrivals must meet.
    query: EventsQuery,
    /// The events sent (or present at the start), with their receive time, within the lookback.
    seen: HashMap<EventId, i64>,
    /// The newest receive time seen.
    watermark: i64,
    /// The newest event seen (or the starting point): a poll that cannot read the whole lookback goes on after it.
    newest: Option<EventCursor>,
}

impl Live {
    async fn run(mut self, resume: Option<EventCursor>) {
        if !self.send(Bytes::from_static(b"retry: 2000\n: connected\n\n")).await {
            return;
        }
        // The events there at the start are not news: mark them seen, or, when resuming after a cursor, send
        // those after it.
        let start = match &resume {
            Some(cursor) => Some(cursor.clone()),
            None => match self.inbox.events(EventFilter::all().limit(1)).await {
                Ok(newest) => newest.first().map(EventRecord::cursor),
                Err(e) => {
                    tracing::warn!(error = %e, "the console's live stream could not read the inbox");
                    None
                }
            },
        };
        self.watermark = start.as_ref().map_or_else(text::now_ms, |cursor| cursor.received_at_ms);
        // The whole lookback up to the starting point, however many events it holds: one left unread would pass
        // for news once the lookback moves on.
        let from = self.from();
        let mut after = None;
        while let Ok((records, full)) = self.scan(from, after.take()).await {
            let last = records.last().map(EventRecord::cursor);
            for record in records {
                let old = match &resume {
                    Some(cursor) => {
                        (record.received_at_ms, record.event_id.as_str())
                            <= (cursor.received_at_ms, cursor.event_id.as_str())
                    }
                    None => true,
                };
                if old {
                    self.seen.insert(record.event_id.clone(), record.received_at_ms);
                }
            }
            match (last, &start) {
                (Some(last), Some(start))
                    if full
                        && (last.received_at_ms, last.event_id.as_str())
                            < (start.received_at_ms, start.event_id.as_str()) =>
                {
                    after = Some(last);
                }
                _ => break,
            }
        }
        self.newest = start;
        let mut ticker = tokio::time::interval(self.poll);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_sent = tokio::time::Instant::now();
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = self.stopping.wait_for(|stopping| *stopping) => return,
                () = self.chunks.closed() => return,
            }
            match self.window().await {
                Ok(records) => {
                    for record in records {
                        if self.seen.contains_key(&record.event_id) {
                            continue;
                        }
                        self.seen.insert(record.event_id.clone(), record.received_at_ms);
                        self.watermark = self.watermark.max(record.received_at_ms);
                        let cursor = record.cursor();
                        if self.newest.as_ref().is_none_or(|newest| {
                            (newest.received_at_ms, newest.event_id.as_str())
                                < (cursor.received_at_ms, cursor.event_id.as_str())
                        }) {
                            self.newest = Some(cursor);
                        }
                        if !self.send(arrival(&record)).await {
                            return;
                        }
                        last_sent = tokio::time::Instant::now();
                    }
                    let horizon = self.watermark.saturating_sub(LOOKBACK_MS);
                    self.seen.retain(|_, received| *received >= horizon);
                }
                Err(e) => tracing::warn!(error = %e, "the console's live stream could not read the inbox"),
            }
            if last_sent.elapsed() >= KEEPALIVE {
                if !self.send(Bytes::from_static(b": keep-alive\n\n")).await {
                    return;
                }
                last_sent = tokio::time::Instant::now();
            }
        }
    }

    /// The events received since the lookback before the watermark, oldest first; when more arrived within the
    /// lookback than one poll reads, also those after the newest event seen, so that a burst never stops the stream.
    async fn window(&self) -> Result<Vec<EventRecord>, cxtn_receiver::inbox::InboxError> {
        let from = self.from();
        let (mut records, full) = self.scan(from, None).await?;
        if full && let Some(newest) = &self.newest {
            let (beyond, _) = self.scan(from, Some(newest.clone())).await?;
            records.extend(beyond);
        }
        Ok(records)
    }

    /// Where the lookback before the watermark starts, within the filters' range.
    fn from(&self) -> i64 {
        self.watermark
            .saturating_sub(LOOKBACK_MS)
            .max(self.query.from_ms.unwrap_or(i64::MIN))
    }

    /// The events received since `from` (and after `after`), oldest first, up to [`MAX_BATCHES`] batches; `true`
    /// when the last batch was full, so that more may follow.
    async fn scan(
        &self,
        from: i64,
        mut after: Option<EventCursor>,
    ) -> Result<(Vec<EventRecord>, bool), cxtn_receiver::inbox::InboxError> {
        let mut records: Vec<EventRecord> = Vec::new();
        let mut full = false;
        for _ in 0..MAX_BATCHES {
            let mut filter = self.query.filter(BATCH);
            filter.after = after.take();
            filter.received_from_ms = Some(from);
            filter.oldest_first = true;
            let batch = self.inbox.events(filter).await?;
            full = batch.len() >= BATCH;
            after = batch.last().map(EventRecord::cursor);
            records.extend(batch);
            if !full {
                break;
            }
        }
        Ok((records, full))
    }

    async fn send(&self, chunk: Bytes) -> bool {
        self.chunks.send(chunk).await.is_ok()
    }
}

/// One arrival as a server-sent event: its cursor as the id, its row as JSON.
fn arrival(record: &EventRecord) -> Bytes {
    let row = Row::new(record);
    let data = serde_json::to_string(&row).unwrap_or_else(|_| "{}".to_owned());
    Bytes::from(format!(
        "id: {}\nevent: arrival\ndata: {data}\n\n",
        record.cursor().to_token()
    ))
}
