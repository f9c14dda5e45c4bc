//! CDEvent validation: `dora_spec::validate` (the official JSON schemas of each release) and
//! `CdEvent::from_value`, in the order `POST /cdevents` runs them, then the CloudEvent a bare
//! CDEvent is stored as, which the router must read back; and the router's own check of what
//! transformers emit (`validated_cdevent`).
#![no_main]

use dora_fuzz::assert_stored_form_reads_back;
use dora_model::cdevent::CdEvent;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(document) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let validated = dora_spec::validate(&document);
    if let Err(e) = &validated {
        let _ = (e.field(), e.to_string());
    }
    let parsed = CdEvent::from_value(&document);
    if let Err(e) = &parsed {
        let _ = e.to_string();
    }
    let _ = dora_pipeline::router::validated_cdevent(&document, "fuzz");
    if let (Ok(_), Ok(cdevent)) = (validated, parsed) {
        let _ = cdevent.content.environment();
        let event = cdevent.into_cloudevent(document);
        if event.check_storable().is_ok() {
            let content = event.to_json().to_string();
            let _ = assert_stored_form_reads_back(&event, &content);
        }
    }
});
