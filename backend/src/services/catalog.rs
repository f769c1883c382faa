//! The model catalogue: which models clients may pick, who serves them, and their limits.

use std::path::Path;

use anyhow::{Context, bail};
use secrecy::SecretString;
use serde::Deserialize;

use crate::{
    config::{Providers, Upstream},
    providers::ProviderKind,
};

/// One `[[model]]` entry of the catalogue file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    pub id: String,
    pub provider: ProviderKind,
    /// The name sent to the provider; defaults to `id`.
    #[serde(default)]
    pub upstream_model: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    pub context_window: u32,
    pub max_output_tokens: u32,
    #[serde(default)]
    pub input_price_per_mtok: Option<f64>,
    #[serde(default)]
    pub output_price_per_mtok: Option<f64>,
    /// This model's own endpoint (a local OpenAI-compatible server, one Dify app per system),
    /// instead of its provider's `*_BASE_URL`.
    #[serde(default)]
    pub base_url: Option<String>,
    /// The environment variable that holds this endpoint's key: the key itself never goes in
    /// the file.
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// The key read from `api_key_env` at start-up.
    #[serde(skip)]
    pub api_key: Option<SecretString>,
}

impl ModelSpec {
    pub fn upstream_model(&self) -> &str {
        self.upstream_model.as_deref().unwrap_or(&self.id)
    }

    pub fn display_name(&self) -> &str {
        self.display_name.as_deref().unwrap_or(&self.id)
    }

    /// Estimated cost in USD of the given usage, when prices are configured.
    pub fn cost_usd(&self, prompt_tokens: i64, completion_tokens: i64) -> f64 {
        let per_token = |price: Option<f64>| price.unwrap_or(0.0) / 1_000_000.0;
        prompt_tokens as f64 * per_token(self.input_price_per_mtok)
            + completion_tokens as f64 * per_token(self.output_price_per_mtok)
    }

    /// The endpoint of its own, when the entry names one (`base_url` and/or `api_key_env`): its
    /// base URL, else the provider's; its key, else none (a local server may need none).
    pub fn own_endpoint(&self, providers: &Providers) -> Option<Upstream> {
        if self.base_url.is_none() && self.api_key.is_none() {
            return None;
        }
        let base_url =
            self.base_url.clone().or_else(|| providers.upstream(self.provider).map(|u| u.base_url.clone()))?;
        Some(Upstream { base_url: base_url.trim_end_matches('/').to_owned(), api_key: self.api_key.clone() })
    }

    /// The built-in offline model, always offered.
    pub fn demo() -> Self {
        Self {
            id: DEMO_MODEL.into(),
            provider: ProviderKind::Demo,
            upstream_model: None,
            display_name: Some("Demo (offline)".into()),
            context_window: 8192,
            max_output_tokens: 512,
            input_price_per_mtok: None,
            output_price_per_mtok: None,
            base_url: None,
            api_key_env: None,
            api_key: None,
        }
    }
}

pub const DEMO_MODEL: &str = "demo";

#[derive(Deserialize)]
struct CatalogFile {
    #[serde(default)]
    model: Vec<ModelSpec>,
}

/// The models on offer, in catalogue order, `demo` always among them.
#[derive(Clone, Debug)]
pub struct ModelCatalog {
    models: Vec<ModelSpec>,
    default: String,
}

impl ModelCatalog {
    /// The catalogue file's entries (read with the configuration), keeping those whose
    /// provider or own endpoint is configured, with `demo`, and the default model settled.
    pub fn load(providers: &Providers) -> anyhow::Result<Self> {
        Self::from_specs(providers.models.clone(), providers)
    }

    pub fn from_specs(listed: Vec<ModelSpec>, providers: &Providers) -> anyhow::Result<Self> {
        let mut models: Vec<ModelSpec> = Vec::new();
        for spec in listed {
            if models.iter().any(|m| m.id == spec.id) {
                bail!("model `{}` is listed twice in the catalogue", spec.id);
            }
            if spec.context_window <= spec.max_output_tokens {
                bail!("model `{}`: context_window must exceed max_output_tokens", spec.id);
            }
            let configured = spec.provider == ProviderKind::Demo
                || spec.own_endpoint(providers).is_some()
                || providers.upstream(spec.provider).is_some();
            if configured {
                models.push(spec);
            } else {
                tracing::warn!(
                    model = spec.id,
                    provider = spec.provider.as_str(),
                    "provider not configured; model not offered"
                );
            }
        }
        if !models.iter().any(|m| m.id == DEMO_MODEL) {
            models.push(ModelSpec::demo());
        }
        let default = match &providers.default_model {
            Some(id) if models.iter().any(|m| &m.id == id) => id.clone(),
            Some(id) => bail!("DEFAULT_MODEL `{id}` is not in the model catalogue"),
            None => models[0].id.clone(),
        };
        Ok(Self { models, default })
    }

    pub fn get(&self, id: &str) -> Option<&ModelSpec> {
        self.models.iter().find(|m| m.id == id)
    }

    pub fn default_model(&self) -> &ModelSpec {
        self.get(&self.default).expect("the default is in the catalogue")
    }

    pub fn all(&self) -> &[ModelSpec] {
        &self.models
    }
}

/// The entries of the catalogue file at `path`, each `api_key_env` read through `lookup`
/// (start-up fails when it names a variable that is not set).
pub fn read_file(path: &Path, lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<Vec<ModelSpec>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read MODELS_FILE {}", path.display()))?;
    let file: CatalogFile =
        toml::from_str(&text).with_context(|| format!("MODELS_FILE {} is not valid", path.display()))?;
    let mut models = file.model;
    for spec in &mut models {
        if let Some(name) = &spec.api_key_env {
            let key = lookup(name).filter(|k| !k.trim().is_empty()).with_context(|| {
                format!("model `{}`: its api_key_env `{name}` is not set in the environment", spec.id)
            })?;
            spec.api_key = Some(key.trim().to_owned().into());
        }
    }
    Ok(models)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn providers(vars: &[(&str, &str)]) -> Providers {
        let vars: std::collections::HashMap<String, String> =
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|n| vars.get(n).cloned()).unwrap().providers
    }

    fn specs(toml_text: &str) -> Vec<ModelSpec> {
        toml::from_str::<CatalogFile>(toml_text).unwrap().model
    }

    const TWO: &str = r#"
        [[model]]
        id = "gpt-4o-mini"
        provider = "openai"
        display_name = "GPT-4o mini"
        context_window = 128000
        max_output_tokens = 1024
        input_price_per_mtok = 0.15
        output_price_per_mtok = 0.60

        [[model]]
        id = "claude"
        provider = "anthropic"
        upstream_model = "claude-3-5-haiku-latest"
        context_window = 200000
        max_output_tokens = 1024
    "#;

    #[test]
    fn without_a_catalogue_only_demo_is_offered() {
        let catalog = ModelCatalog::from_specs(vec![], &providers(&[])).unwrap();
        assert_eq!(catalog.all().len(), 1);
        assert_eq!(catalog.default_model().id, "demo");
    }

    #[test]
    fn unconfigured_providers_are_not_offered() {
        let catalog = ModelCatalog::from_specs(specs(TWO), &providers(&[("OPENAI_API_KEY", "k")])).unwrap();
        let ids: Vec<&str> = catalog.all().iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["gpt-4o-mini", "demo"]);
        assert_eq!(catalog.default_model().id, "gpt-4o-mini");
        assert_eq!(catalog.get("gpt-4o-mini").unwrap().upstream_model(), "gpt-4o-mini");
    }

    #[test]
    fn default_model_must_exist() {
        let p = providers(&[("DEFAULT_MODEL", "nope")]);
        assert!(ModelCatalog::from_specs(vec![], &p).is_err());
    }

    const OWN: &str = r#"
        [[model]]
        id = "local"
        provider = "openai"
        base_url = "http://127.0.0.1:11434/v1/"
        context_window = 8192
        max_output_tokens = 512

        [[model]]
        id = "quiz"
        provider = "dify"
        api_key_env = "QUIZ_KEY"
        context_window = 8192
        max_output_tokens = 512
    "#;

    fn read(text: &str, env: &[(&str, &str)]) -> anyhow::Result<Vec<ModelSpec>> {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), text).unwrap();
        let env: std::collections::HashMap<&str, &str> = env.iter().copied().collect();
        read_file(file.path(), |name| env.get(name).map(|v| v.to_string()))
    }

    #[test]
    fn a_model_of_its_own_endpoint_is_offered_without_its_providers_settings() {
        let p = providers(&[("DIFY_BASE_URL", "http://dify.internal/v1")]);
        let catalog = ModelCatalog::from_specs(read(OWN, &[("QUIZ_KEY", "app-1")]).unwrap(), &p).unwrap();
        let local = catalog.get("local").unwrap().own_endpoint(&p).unwrap();
        assert_eq!((local.base_url.as_str(), local.api_key.is_none()), ("http://127.0.0.1:11434/v1", true));
        // A key of its own at the provider's global address.
        let quiz = catalog.get("quiz").unwrap().own_endpoint(&p).unwrap();
        assert_eq!(quiz.base_url, "http://dify.internal/v1");
        assert_eq!(quiz.api_key.map(|k| secrecy::ExposeSecret::expose_secret(&k).to_owned()).as_deref(), Some("app-1"));
    }

    #[test]
    fn a_key_variable_that_is_not_set_stops_the_start() {
        let error = read(OWN, &[]).unwrap_err().to_string();
        assert!(error.contains("QUIZ_KEY"), "{error}");
    }

    #[test]
    fn cost_uses_prices_per_million() {
        let spec = &specs(TWO)[0];
        assert!((spec.cost_usd(1_000_000, 1_000_000) - 0.75).abs() < 1e-9);
    }
}
