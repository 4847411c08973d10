//! Feeds arbitrary text to the reading of a `cxtn-webhooks.toml` file, as `cxtn webhooks plan/apply` and
//! `Desired::from_toml_str` read it: it must return, never panic; an error's line and column point inside the
//! text; what reads must give a plan against an account with no endpoints and one with every endpoint.
#![no_main]

use cxtn_model::{Endpoint, EndpointStatus, EndpointUrl, WebhookEventType};
use cxtn_webhooks::plan::{Desired, Plan};
use libfuzzer_sys::fuzz_target;

fn lookup(name: &str) -> Option<String> {
    match name {
        "CXTN_PATH_TOKEN" => Some("p4th-t0ken-0123456789abcdef".to_owned()),
        "EMPTY" => Some(String::new()),
        _ => None,
    }
}

fuzz_target!(|input: &[u8]| {
    let Ok(text) = std::str::from_utf8(input) else {
        return;
    };
    match Desired::from_toml_str(text, lookup) {
        Err(e) => {
            if let Some(line) = e.line() {
                assert!(
                    line >= 1 && line <= text.lines().count() + 1,
                    "line {line} is outside the text"
                );
            }
            let _ = e.to_string();
        }
        Ok(desired) => {
            let _ = Plan::compute(&desired, &[]);
            let url = EndpointUrl::new("https://hooks.example.com/cxtn/old");
            let every: Vec<Endpoint> = WebhookEventType::ALL
                .into_iter()
                .map(|event_type| Endpoint::new(event_type, url.clone(), EndpointStatus::Paused))
                .collect();
            let plan = Plan::compute(&desired, &every);
            let _ = format!("{plan:?} {plan}");
        }
    }
});
