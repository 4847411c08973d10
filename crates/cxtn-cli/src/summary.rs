//! What a notification says, as `label  value` lines for people.

use cxtn::Notification;
use cxtn::model::{Amount, CurrencyCode, EventData, UnknownData};

/// How much of an unknown event's data is shown without `-v`.
const DATA_PREVIEW_CHARS: usize = 200;

/// The lines describing a notification: envelope first, then the event's own fields.
pub(crate) fn lines(notification: &Notification, verbose: u8) -> Vec<(String, String)> {
    let mut out = Vec::new();
    // Every value came from the network or a file: escaped, so it cannot drive the terminal.
    let mut push = |label: &str, value: String| out.push((label.to_owned(), crate::ui::clean(&value).into_owned()));
    let event = notification.event_name();
    push(
        "event",
        match notification.data().kind() {
            Some(_) => event.to_owned(),
            None => format!("{event} (not an event this version knows; kept whole)"),
        },
    );
    let id = notification.event_id();
    push(
        "event id",
        if id.is_conventional() {
            id.to_string()
        } else {
            format!("{id} (not the usual wh_ and 32 hex digits)")
        },
    );
    push(
        "subscription",
        notification
            .subscription()
            .map_or_else(|| "none known".to_owned(), |s| s.to_string()),
    );
    push(
        "data encoding",
        match notification.data_encoding() {
            cxtn::model::DataEncoding::String => "string (a string holding JSON)".to_owned(),
            other => other.to_string(),
        },
    );
    match notification.data() {
        EventData::AccountCredit(t) | EventData::AccountDebit(t) => {
            push("object id", t.object_id.to_string());
            push("user id", t.user_id.to_string());
            push("amount", money(&t.amount, &t.ccy_code));
            push("base currency", t.base_ccy_code.to_string());
            push("source", t.source.to_string());
            push("origin", t.origin.clone());
            push(
                "pot movement",
                if t.is_pot_movement() {
                    "yes (between the account and a pot)".to_owned()
                } else {
                    "no".to_owned()
                },
            );
            push("time", t.transaction_date_time.as_str().to_owned());
            extra(&mut push, &t.extra);
        }
        EventData::PaymentCompleted(p) => {
            push("object id", p.object_id.to_string());
            push("user id", p.user_id.to_string());
            push("amount", money(&p.amount, &p.currency));
            extra(&mut push, &p.extra);
        }
        EventData::TradeSettled(t) => {
            push("object id", t.object_id.to_string());
            push("user id", t.user_id.to_string());
            push("sold", money(&t.sell_amount, &t.sell_currency));
            push("bought", money(&t.buy_amount, &t.buy_currency));
            push("balance due", optional(t.balance_due.as_ref()));
            push("funded amount", optional(t.funded_amount.as_ref()));
            extra(&mut push, &t.extra);
        }
        EventData::Unknown(unknown) => {
            let data = match &unknown.data {
                UnknownData::Json(raw) => preview(raw.get(), verbose),
                UnknownData::Text(text) => format!("text: {}", preview(text, verbose)),
                UnknownData::Absent => "none".to_owned(),
                _ => "not shown by this version".to_owned(),
            };
            push("data", data);
        }
        _ => {}
    }
    if !notification.extra.is_empty() {
        let names: Vec<&str> = notification.extra.iter().map(|(k, _)| k).collect();
        push("other fields", names.join(", "));
    }
    out
}

fn extra(push: &mut impl FnMut(&str, String), fields: &cxtn::model::UnknownFields) {
    if !fields.is_empty() {
        let names: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
        push("other data", names.join(", "));
    }
}

fn money(amount: &Amount, currency: &CurrencyCode) -> String {
    if currency.is_pot() {
        format!("{} {currency} (a pot in {})", amount.as_str(), currency.currency())
    } else {
        format!("{} {currency}", amount.as_str())
    }
}

fn optional(amount: Option<&Amount>) -> String {
    amount.map_or_else(|| "none (null)".to_owned(), |a| a.as_str().to_owned())
}

fn preview(text: &str, verbose: u8) -> String {
    if verbose > 0 || text.chars().count() <= DATA_PREVIEW_CHARS {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(DATA_PREVIEW_CHARS).collect();
    short.push_str("… (-v shows all)");
    short
}
