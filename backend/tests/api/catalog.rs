//! The catalogue, extended: models with an endpoint of their own (`base_url`, `api_key_env`)
//! beside those on their provider's global settings.

use reqwest::StatusCode;
use serde_json::json;
use troupe_fake_upstream::FakeUpstream;

use crate::{
    helpers::{DIFY_KEY, Engine, OPENAI_KEY, spawn_app_with},
    keys::secret_of,
};

async fn two_dify_apps_and_two_openai_endpoints_answer_side_by_side(engine: Engine) {
    let (second, local) = (FakeUpstream::start().await, FakeUpstream::start().await);
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models.toml");
    let entry = |id: &str, provider: &str, own: &str| {
        format!(
            "[[model]]\nid = \"{id}\"\nprovider = \"{provider}\"\ncontext_window = 16000\nmax_output_tokens = 500\n{own}\n"
        )
    };
    let catalogue = [
        entry("dify-a", "dify", ""),
        entry("dify-b", "dify", &format!("base_url = \"{}\"\napi_key_env = \"QUIZ_DIFY_KEY\"", second.dify_base_url())),
        entry("gpt-a", "openai", "upstream_model = \"gpt-a\""),
        entry(
            "gpt-b",
            "openai",
            &format!(
                "upstream_model = \"gpt-b\"\nbase_url = \"{}/\"\napi_key_env = \"TUTOR_OPENAI_KEY\"",
                second.openai_base_url()
            ),
        ),
        entry("local", "openai", &format!("upstream_model = \"llama\"\nbase_url = \"{}\"", local.openai_base_url())),
    ]
    .concat();
    std::fs::write(&models, catalogue).unwrap();
    let models = models.to_string_lossy().into_owned();
    let app = spawn_app_with(
        engine,
        &[("MODELS_FILE", &models), ("QUIZ_DIFY_KEY", "app-quiz-key"), ("TUTOR_OPENAI_KEY", "sk-tutor-key")],
    )
    .await;
    let user = app.new_user().await;
    let key = secret_of(&app, &user).await;
    for model in ["dify-a", "dify-b", "gpt-a", "gpt-b", "local"] {
        let body = json!({"model": model, "messages": [{"role": "user", "content": "Hello"}]});
        let resp = app.client.post(app.url("/v1/chat/completions")).bearer_auth(&key).json(&body).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{model}: {}", resp.text().await.unwrap());
    }

    // Each request went to its own endpoint with its own key (and none for the local server).
    let seen = |fake: &FakeUpstream| -> Vec<(String, Option<String>, Option<String>)> {
        fake.received()
            .into_iter()
            .map(|r| (r.path, r.credential, r.body["model"].as_str().map(str::to_owned)))
            .collect()
    };
    let bearer = |key: &str| Some(format!("Bearer {key}"));
    let (dify, openai) = ("/v1/chat-messages".to_owned(), "/v1/chat/completions".to_owned());
    assert_eq!(
        seen(&app.upstream),
        [(dify.clone(), bearer(DIFY_KEY), None), (openai.clone(), bearer(OPENAI_KEY), Some("gpt-a".into()))]
    );
    assert_eq!(
        seen(&second),
        [(dify, bearer("app-quiz-key"), None), (openai.clone(), bearer("sk-tutor-key"), Some("gpt-b".into()))]
    );
    assert_eq!(seen(&local), [(openai, None, Some("llama".into()))]);
}

crate::engine_tests!(two_dify_apps_and_two_openai_endpoints_answer_side_by_side);
