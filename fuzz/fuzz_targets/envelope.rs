//! Feeds arbitrary bytes to the decoding of CXTN's response envelope, as the management client reads it:
//! it must return, never panic, and what decodes must write back and decode again.
#![no_main]

use cxtn_model::{ApiResponse, EndpointsModel, HasStatus, StatusModel};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    if let Ok(response) = serde_json::from_slice::<ApiResponse<StatusModel>>(body) {
        let _ = response.content.model.status().is_valid();
        let _ = response.token_end_date();
        let written = serde_json::to_vec(&response).expect("a decoded envelope writes back");
        serde_json::from_slice::<ApiResponse<StatusModel>>(&written).expect("what was written decodes");
    }
    if let Ok(response) = serde_json::from_slice::<ApiResponse<EndpointsModel>>(body) {
        for endpoint in &response.content.model.endpoints {
            let _ = (endpoint.event_type.sends_notifications(), endpoint.status.is_active());
            let _ = endpoint.endpoint_url.redacted();
        }
        let written = serde_json::to_vec(&response).expect("a decoded list writes back");
        serde_json::from_slice::<ApiResponse<EndpointsModel>>(&written).expect("what was written decodes");
    }
});
