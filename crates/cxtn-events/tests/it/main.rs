#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

mod edges;
mod errors;
mod fixtures;
mod guide;
mod large;
mod props;

use cxtn_model::{Amount, EventData};

/// Every amount of a known event's data, in the order the fields are declared.
pub(crate) fn amounts(data: &EventData) -> Vec<&Amount> {
    match data {
        EventData::AccountCredit(t) | EventData::AccountDebit(t) => vec![&t.amount],
        EventData::PaymentCompleted(p) => vec![&p.amount],
        EventData::TradeSettled(t) => [
            Some(&t.sell_amount),
            Some(&t.buy_amount),
            t.balance_due.as_ref(),
            t.funded_amount.as_ref(),
        ]
        .into_iter()
        .flatten()
        .collect(),
        _ => Vec::new(),
    }
}
