//! When and under which id each recorded delivery is sent again: speed, duplicates, reordering and bursts,
//! decided up front from a seed, without I/O.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use cxtn_model::EventId;

use super::{Error, ErrorKind, Recording};

/// What a replay does to the recorded traffic: `duplicates=0.2,reorder=50,burst=100`.
///
/// ```
/// use cxtn_events::traffic::Chaos;
///
/// let chaos: Chaos = "duplicates=0.2,reorder=50,burst=100".parse()?;
/// assert_eq!((chaos.duplicates, chaos.reorder, chaos.burst), (0.2, 50, 100));
/// assert_eq!("".parse::<Chaos>()?, Chaos::none());
/// assert!("duplicates=2".parse::<Chaos>().is_err());
/// # Ok::<(), cxtn_events::traffic::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Chaos {
    /// The share of recorded deliveries sent twice, from 0 to 1: `round(share × deliveries)` of them, chosen
    /// by the seed.
    pub duplicates: f64,
    /// Shuffle the deliveries within consecutive windows of this many (1: keep the recorded order).
    pub reorder: usize,
    /// Send this many deliveries at once, concurrently, then wait for the next group's time (1: one at a time).
    pub burst: usize,
}

impl Default for Chaos {
    fn default() -> Self {
        Self::none()
    }
}

impl Chaos {
    /// No chaos: each delivery once, in the recorded order, one at a time.
    #[must_use]
    pub fn none() -> Self {
        Self {
            duplicates: 0.0,
            reorder: 1,
            burst: 1,
        }
    }

    /// Sends this share of the deliveries twice (clamped to 0..=1).
    #[must_use]
    pub fn duplicates(mut self, share: f64) -> Self {
        self.duplicates = if share.is_finite() { share.clamp(0.0, 1.0) } else { 0.0 };
        self
    }

    /// Shuffles within windows of `window` deliveries.
    #[must_use]
    pub fn reorder(mut self, window: usize) -> Self {
        self.reorder = window.max(1);
        self
    }

    /// Sends `size` deliveries at once.
    #[must_use]
    pub fn burst(mut self, size: usize) -> Self {
        self.burst = size.max(1);
        self
    }
}

impl FromStr for Chaos {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        let bad = |message: String| Error::new(ErrorKind::InvalidChaos, message);
        let mut chaos = Self::none();
        let mut seen = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((name, value)) = part.split_once('=') else {
                return Err(bad(format!(
                    "`{part}` is not NAME=VALUE: give duplicates=SHARE, reorder=N or burst=N, comma-separated"
                )));
            };
            let (name, value) = (name.trim(), value.trim());
            if seen.contains(&name) {
                return Err(bad(format!("`{name}` is given twice: give it once")));
            }
            match name {
                "duplicates" => {
                    let share = value
                        .parse::<f64>()
                        .ok()
                        .filter(|s| s.is_finite() && (0.0..=1.0).contains(s))
                        .ok_or_else(|| {
                            bad(format!(
                                "duplicates=`{value}` is not a share from 0 to 1: give one such as duplicates=0.2"
                            ))
                        })?;
                    chaos.duplicates = share;
                }
                "reorder" | "burst" => {
                    let n = value.parse::<usize>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                        bad(format!(
                            "{name}=`{value}` is not a whole number from 1: give one such as {name}=50"
                        ))
                    })?;
                    if name == "reorder" {
                        chaos.reorder = n;
                    } else {
                        chaos.burst = n;
                    }
                }
                _ => {
                    return Err(bad(format!(
                        "`{name}` is not a kind of chaos: give duplicates=SHARE, reorder=N or burst=N"
                    )));
                }
            }
            seen.push(name);
        }
        Ok(chaos)
    }
}

impl fmt::Display for Chaos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "duplicates={},reorder={},burst={}",
            self.duplicates, self.reorder, self.burst
        )
    }
}

/// How fast a replay goes: the recorded gaps between arrivals divided by a factor, or no waiting at all.
///
/// ```
/// use cxtn_events::traffic::Speed;
///
/// assert_eq!("10x".parse::<Speed>()?, Speed::Times(10.0));
/// assert_eq!("max".parse::<Speed>()?, Speed::Max);
/// assert!("0x".parse::<Speed>().is_err());
/// # Ok::<(), cxtn_events::traffic::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Speed {
    /// The recorded gaps divided by this factor: `1x` is recorded speed, `10x` ten times faster.
    Times(f64),
    /// As fast as the target answers.
    Max,
}

impl Default for Speed {
    fn default() -> Self {
        Self::Times(1.0)
    }
}

impl FromStr for Speed {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("max") {
            return Ok(Self::Max);
        }
        let number = text.strip_suffix(['x', 'X']).unwrap_or(text);
        number
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite() && *f > 0.0)
            .map(Self::Times)
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidSpeed,
                    format!("`{text}` is not a speed: give a factor above 0 such as 1x, 10x or 0.5x, or max"),
                )
            })
    }
}

impl fmt::Display for Speed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Times(factor) => write!(f, "{factor}x"),
            Self::Max => f.write_str("max"),
        }
    }
}

/// How to plan a replay.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[non_exhaustive]
pub struct Options {
    /// Duplicates, reordering and bursts.
    pub chaos: Chaos,
    /// How fast.
    pub speed: Speed,
    /// The seed of every random choice: the same seed plans the same replay of the same recording.
    pub seed: u64,
    /// Send each delivery under its recorded `eventId` instead of a fresh one.
    pub keep_ids: bool,
}

impl Options {
    /// Recorded speed, no chaos, fresh ids, seed 0.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// With this chaos.
    #[must_use]
    pub fn chaos(mut self, chaos: Chaos) -> Self {
        self.chaos = chaos;
        self
    }

    /// At this speed.
    #[must_use]
    pub fn speed(mut self, speed: Speed) -> Self {
        self.speed = speed;
        self
    }

    /// With this seed.
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Keeping the recorded event ids.
    #[must_use]
    pub fn keep_ids(mut self, keep: bool) -> Self {
        self.keep_ids = keep;
        self
    }
}

/// One delivery of a planned replay.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Planned {
    /// Which recorded delivery: its index in [`Recording::deliveries`].
    pub index: usize,
    /// The `eventId` it is sent under: a fresh one shared by every copy and every version of the recorded
    /// event, or the recorded one with [`Options::keep_ids`].
    pub event_id: EventId,
    /// Whether this is the extra copy of a delivery that chaos sends twice.
    pub duplicate: bool,
    /// Which group it is sent in: the deliveries of one burst go at once.
    pub burst: usize,
    /// When to send it, in milliseconds from the start of the replay (0 throughout at [`Speed::Max`]).
    pub at_ms: u64,
}

/// A planned replay: every delivery to send, in order, with its time and id.
///
/// ```
/// use cxtn_events::traffic::{Chaos, Options, Recorded, Recording, Speed, plan};
///
/// let recording: Recording = (0..10)
///     .map(|i| Recorded::new(format!("wh_{i}"), "payment_completed", 1_000 * i, format!("{{\"eventId\":\"wh_{i}\"}}")))
///     .collect();
/// let chaos = Chaos::none().duplicates(0.2).reorder(5).burst(4);
/// let plan = plan(&recording, &Options::new().chaos(chaos).speed(Speed::Max).seed(7));
/// assert_eq!(plan.sends().len(), 12);
/// assert_eq!(plan.duplicates(), 2);
/// assert_eq!(plan.bursts().count(), 3);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    sends: Vec<Planned>,
}

impl Plan {
    /// Every delivery, in the order to send.
    #[must_use]
    pub fn sends(&self) -> &[Planned] {
        &self.sends
    }

    /// How many extra copies chaos sends.
    #[must_use]
    pub fn duplicates(&self) -> usize {
        self.sends.iter().filter(|s| s.duplicate).count()
    }

    /// The groups sent at once, in order; each holds one delivery unless chaos asks for bursts.
    pub fn bursts(&self) -> impl Iterator<Item = &[Planned]> {
        self.sends.chunk_by(|a, b| a.burst == b.burst)
    }
}

/// Plans the replay of `recording`: every recorded delivery once, in order of arrival, plus the copies, the
/// shuffles and the bursts `options` ask for, at `options.speed`.
///
/// Nothing is random but through `options.seed`: the same recording and options give the same plan.
/// A shuffled window keeps its times in place: the deliveries change places, the timeline stays.
#[must_use]
pub fn plan(recording: &Recording, options: &Options) -> Plan {
    let deliveries = recording.deliveries();
    let mut rng = SplitMix64(options.seed);
    let mut fresh: HashMap<&EventId, EventId> = HashMap::new();
    if !options.keep_ids {
        for recorded in deliveries {
            if !fresh.contains_key(&recorded.event_id) {
                let id = EventId::new(format!("wh_{:016x}{:016x}", rng.next(), rng.next()));
                fresh.insert(&recorded.event_id, id);
            }
        }
    }
    let mut order: Vec<usize> = (0..deliveries.len()).collect();
    order.sort_by_key(|&i| deliveries.get(i).map_or(0, |r| r.received_at_ms));

    // Which deliveries are sent twice: the first `count` of a seeded shuffle.
    let count = duplicates_of(options.chaos.duplicates, deliveries.len());
    let mut picks: Vec<usize> = (0..deliveries.len()).collect();
    rng.shuffle(&mut picks);
    let mut twice = vec![false; deliveries.len()];
    for &i in picks.iter().take(count) {
        if let Some(slot) = twice.get_mut(i) {
            *slot = true;
        }
    }

    let start = order
        .first()
        .and_then(|&i| deliveries.get(i))
        .map_or(0, |r| r.received_at_ms);
    let mut slots: Vec<(usize, bool)> = Vec::with_capacity(deliveries.len() + count);
    let mut times: Vec<u64> = Vec::with_capacity(deliveries.len() + count);
    for &i in &order {
        let offset = deliveries.get(i).map_or(0, |r| {
            u64::try_from(r.received_at_ms.saturating_sub(start)).unwrap_or(0)
        });
        slots.push((i, false));
        times.push(offset);
        if twice.get(i).copied().unwrap_or(false) {
            slots.push((i, true));
            times.push(offset);
        }
    }
    if options.chaos.reorder > 1 {
        for window in slots.chunks_mut(options.chaos.reorder) {
            rng.shuffle(window);
        }
    }
    let burst = options.chaos.burst.max(1);
    let mut sends = Vec::with_capacity(slots.len());
    for (n, (&(index, duplicate), &time)) in slots.iter().zip(&times).enumerate() {
        let group = n / burst;
        // A burst goes at the time of its first slot.
        let time = times.get(group * burst).copied().unwrap_or(time);
        let Some(recorded) = deliveries.get(index) else {
            continue;
        };
        let event_id = fresh
            .get(&recorded.event_id)
            .cloned()
            .unwrap_or_else(|| recorded.event_id.clone());
        sends.push(Planned {
            index,
            event_id,
            duplicate,
            burst: group,
            at_ms: scale(time, options.speed),
        });
    }
    Plan { sends }
}

/// How many of `deliveries` a share of duplicates makes: rounded to the nearest whole number.
#[must_use]
pub fn duplicates_of(share: f64, deliveries: usize) -> usize {
    if !share.is_finite() || share <= 0.0 {
        return 0;
    }
    let wanted = (share.min(1.0) * deliveries as f64).round();
    // A share of at most 1 never asks for more than every delivery.
    (wanted as usize).min(deliveries)
}

fn scale(offset_ms: u64, speed: Speed) -> u64 {
    match speed {
        Speed::Max => 0,
        Speed::Times(factor) if factor.is_finite() && factor > 0.0 => (offset_ms as f64 / factor).round() as u64,
        Speed::Times(_) => offset_ms,
    }
}

/// SplitMix64: a small generator that gives the same numbers from the same seed on every platform and in
/// every version, which a replay's plan promises.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number below `bound` (which is above 0), without modulo bias worth measuring for slices in memory.
    fn below(&mut self, bound: usize) -> usize {
        let bound = bound as u128;
        ((u128::from(self.next()) * bound) >> 64) as usize
    }

    /// Fisher-Yates.
    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}
