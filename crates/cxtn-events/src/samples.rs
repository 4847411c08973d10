//! The seven sample notifications of CXTN's webhooks guide, cleaned of the page's doubled quotes.
//!
//! Useful as test data, as defaults for a simulator, and to see what CXTN sends.

use cxtn_model::DataEncoding;

/// One sample notification from CXTN's guide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Sample {
    /// The guide's heading for it, as a short name (`funds_in`, `pot_credit`, ...).
    pub name: &'static str,
    /// The event it carries.
    pub event: &'static str,
    /// How the guide prints its `data`.
    pub encoding: DataEncoding,
    /// The body, exactly as the guide prints it (without the page's doubled quotes).
    pub body: &'static str,
}

/// The guide's samples, in the order it prints them.
pub const GUIDE: [Sample; 7] = [
    Sample {
        name: "funds_in",
        event: "account_credit",
        encoding: DataEncoding::String,
        body: r#"{"eventId": "wh_f79f07d55bcd4cb893c41575b7c1b8f6", "event": "account_credit", "data": "{\"objectId\":654254,\"userId\":\"C00081866\",\"source\":\"deposit\",\"origin\":\"Automatic Allocation\",\"amount\":1000.00,\"baseCcyCode\":\"GBP\",\"ccyCode\":\"GBP\",\"transactionDateTime\":\"2023-12-18T16:28:28.3027309\"}"}"#,
    },
    Sample {
        name: "payment_complete",
        event: "payment_completed",
        encoding: DataEncoding::String,
        body: r#"{"eventId": "wh_4d9373d27e4e4c24bbb39c00b6dcd3e7", "event": "payment_completed", "data": "{\"objectId\":162953,\"userId\":\"C00081866\",\"amount\":10.00,\"currency\":\"GBP\"}"}"#,
    },
    Sample {
        name: "trade_settled",
        event: "trade_settled",
        encoding: DataEncoding::String,
        body: r#"{"eventId": "wh_b5bc5ac1b6734f18b9701db5cd153a4e", "event": "trade_settled", "data": "{\"objectId\":282564,\"userId\":\"C00084146\",\"sellCurrency\":\"GBP\",\"sellAmount\":218.70,\"buyCurrency\":\"AED\",\"buyAmount\":1000.00,\"balanceDue\":null,\"fundedAmount\":null}"}"#,
    },
    Sample {
        name: "account_credit",
        event: "account_credit",
        encoding: DataEncoding::Object,
        body: r#"{"eventId": "wh_c3f042548b624eb1a0ba9a57be8290f4", "event": "account_credit", "data": {"objectId": 661428, "userId": "AP00085025", "source": "account_to_account_transfer", "origin": "Automatic Allocation", "amount": 10, "baseCcyCode": "GBP", "ccyCode": "GBP", "transactionDateTime": "2024-02-21T11:58:01.9953917"}}"#,
    },
    Sample {
        name: "account_debit",
        event: "account_debit",
        encoding: DataEncoding::Object,
        body: r#"{"eventId": "wh_61d20530f4d34936a38ac82979d3f5e2", "event": "account_debit", "data": {"objectId": 661427, "userId": "C00081866", "source": "account_to_account_transfer", "origin": "Automatic Allocation", "amount": -10, "baseCcyCode": "GBP", "ccyCode": "GBP", "transactionDateTime": "2024-02-21T11:58:01.9016343"}}"#,
    },
    Sample {
        name: "pot_credit",
        event: "account_credit",
        encoding: DataEncoding::Object,
        body: r#"{"eventId": "wh_3d0e35a456274850b59e59411ad37d48", "event": "account_credit", "data": {"objectId": 661414, "userId": "C00081866", "source": "account_internal_transfer", "origin": "Automatic Allocation", "amount": 10, "baseCcyCode": "GBP", "ccyCode": "CC-GBP", "transactionDateTime": "2024-02-21T11:43:22.2079875"}}"#,
    },
    Sample {
        name: "pot_debit",
        event: "account_debit",
        encoding: DataEncoding::Object,
        body: r#"{"eventId": "wh_71f5a5f7d15544a5a1e70b395e2d7980", "event": "account_debit", "data": {"objectId": 661413, "userId": "C00081866", "source": "account_internal_transfer", "origin": "Automatic Allocation", "amount": -10, "baseCcyCode": "GBP", "ccyCode": "GBP", "transactionDateTime": "2024-02-21T11:43:21.8642125"}}"#,
    },
];

/// The sample with this name.
#[must_use]
pub fn find(name: &str) -> Option<&'static Sample> {
    GUIDE.iter().find(|s| s.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sample_parses_in_the_encoding_the_guide_prints() {
        for sample in &GUIDE {
            let n = crate::parse(sample.body.as_bytes()).unwrap();
            assert_eq!(n.event_name(), sample.event);
            assert_eq!(n.data_encoding(), sample.encoding, "{}", sample.name);
            assert!(n.subscription().is_some());
        }
        assert_eq!(find("pot_credit").unwrap().event, "account_credit");
        assert!(find("nothing").is_none());
    }
}
