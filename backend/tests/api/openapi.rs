//! The committed spec (`backend/openapi.json`) is what the server generates, and every
//! operation is documented. Regenerate with `UPDATE_OPENAPI=1 cargo test -p troupe-server openapi`.

use serde_json::Value;

const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");

#[test]
fn committed_spec_matches_the_generated_one() {
    let generated = troupe_server::api::openapi_service().spec();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(COMMITTED, format!("{generated}\n")).unwrap();
    }
    let committed = std::fs::read_to_string(COMMITTED).expect("backend/openapi.json exists");
    assert!(
        committed.trim_end() == generated.trim_end(),
        "backend/openapi.json is stale: run `UPDATE_OPENAPI=1 cargo test -p troupe-server openapi` and commit it"
    );
}

#[test]
fn every_operation_has_summary_tag_responses_and_security() {
    let spec: Value = serde_json::from_str(&troupe_server::api::openapi_service().spec()).unwrap();
    let public = ["register", "registration_info", "login", "healthz", "readyz"];
    for (path, operations) in spec["paths"].as_object().unwrap() {
        for (method, op) in operations.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap_or_else(|| panic!("{method} {path} has an operationId"));
            assert!(op["summary"].as_str().is_some_and(|s| !s.is_empty()), "{id} has a summary");
            assert!(op["tags"].as_array().is_some_and(|t| !t.is_empty()), "{id} has a tag");
            let responses = op["responses"].as_object().unwrap();
            let success = |s: &String| s.starts_with('2') || s == "101";
            assert!(responses.keys().any(success), "{id} documents success");
            assert!(responses.contains_key("4XX") && responses.contains_key("5XX"), "{id} documents errors");
            let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
            assert_eq!(secured, !public.contains(&id), "{id}: security scheme");
        }
    }
}
