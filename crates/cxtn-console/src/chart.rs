//! The overview's chart: arrivals per minute as bars of an inline SVG (attributes only, no inline style).

/// The chart's window: six hours.
pub(crate) const WINDOW_MS: i64 = 6 * 60 * 60 * 1000;
/// One bar per minute.
pub(crate) const BUCKET_MS: i64 = 60 * 1000;
/// Width of the drawing in SVG units: two per minute.
pub(crate) const WIDTH: i64 = 720;
/// Height of the drawing in SVG units.
pub(crate) const HEIGHT: i64 = 120;

/// One minute's bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Bar {
    pub(crate) x: i64,
    pub(crate) y: i64,
    pub(crate) height: i64,
    /// The tooltip: the minute and its count.
    pub(crate) title: String,
}

/// The bars of the chart and its figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Chart {
    pub(crate) bars: Vec<Bar>,
    pub(crate) max: u64,
    pub(crate) total: u64,
    pub(crate) width: i64,
    pub(crate) height: i64,
}

/// The chart of `buckets` (start in ms, count) over the window that ends at `now_ms`.
pub(crate) fn chart(buckets: &[(i64, u64)], now_ms: i64) -> Chart {
    let since = now_ms - WINDOW_MS;
    let max = buckets.iter().map(|(_, n)| *n).max().unwrap_or(0);
    let total = buckets.iter().map(|(_, n)| *n).sum();
    let bars = buckets
        .iter()
        .filter(|(start, n)| *n > 0 && *start + BUCKET_MS > since && *start <= now_ms)
        .map(|&(start, n)| {
            let minute = (start - since).max(0) / BUCKET_MS;
            // At least one unit tall, so that a single arrival shows.
            let height = i64::try_from(n.saturating_mul(HEIGHT as u64) / max.max(1))
                .unwrap_or(HEIGHT)
                .clamp(1, HEIGHT);
            Bar {
                x: (minute * 2).min(WIDTH - 2),
                y: HEIGHT - height,
                height,
                title: format!("{}: {n}", crate::text::time_ms(start)),
            }
        })
        .collect();
    Chart {
        bars,
        max,
        total,
        width: WIDTH,
        height: HEIGHT,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_busiest_minute() {
        let now = 10 * WINDOW_MS;
        let chart = chart(
            &[
                (now - WINDOW_MS - BUCKET_MS, 9),
                (now - 60 * BUCKET_MS, 4),
                (now - BUCKET_MS, 1),
            ],
            now,
        );
        assert_eq!(chart.max, 9);
        assert_eq!(chart.total, 14);
        // The bucket before the window is not drawn.
        assert_eq!(chart.bars.len(), 2);
        assert_eq!(chart.bars[0].x, 600);
        assert_eq!(chart.bars[0].height, 53);
        assert_eq!(chart.bars[1].height, 13);
        assert_eq!(chart.bars[1].y, HEIGHT - 13);
    }
}
