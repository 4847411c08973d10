//! Feeds arbitrary bytes to the reading of captured traffic (`cxtn inbox export`'s JSON Lines), as `cxtn replay`
//! and the test fixtures read it: it must return, never panic; what reads must write back byte for byte and read
//! again equal; pseudonymising any body and planning any chaos over what was read must not panic either.
#![no_main]

use cxtn_events::traffic::{self, Chaos, Options, Pseudonymiser};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let pseudonyms = Pseudonymiser::new(b"fuzz");
    let _ = pseudonyms.body(input);
    if let Ok(text) = std::str::from_utf8(input) {
        if let Ok(chaos) = text.parse::<Chaos>() {
            let recording = traffic::read_jsonl(b"").expect("an empty recording reads");
            let _ = traffic::plan(&recording, &Options::new().chaos(chaos).seed(7));
        }
    }
    let Ok(recording) = traffic::read_jsonl(input) else {
        return;
    };
    for recorded in recording.deliveries() {
        let line = traffic::write_line(recorded).expect("what was read writes back");
        let again = traffic::read_line(&line).expect("what was written reads");
        assert!(again == *recorded, "a line read back differs from what was written");
        let _ = pseudonyms.recorded(recorded);
    }
    let _ = traffic::plan(
        &recording,
        &Options::new()
            .chaos("duplicates=0.5,reorder=3,burst=2".parse().expect("chaos"))
            .seed(1),
    );
});
