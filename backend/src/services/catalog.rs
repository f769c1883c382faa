//! The model catalogue: which models clients may pick, who serves them, and their limits.

use std::path::Path;

use anyhow::{Context, bail};
use serde::Deserialize;

use crate::{config::Providers, providers::ProviderKind};

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
    /// Reads the catalogue file (if any), keeps the entries whose provider is configured, adds
    /// `demo`, and settles the default model.
    pub fn load(providers: &Providers) -> anyhow::Result<Self> {
        let listed = match &providers.models_file {
            Some(path) => read_file(path)?,
            None => Vec::new(),
        };
        Self::from_specs(listed, providers)
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
            let configured = match spec.provider {
                ProviderKind::Openai => providers.openai.is_some(),
                ProviderKind::Anthropic => providers.anthropic.is_some(),
                ProviderKind::Dify => providers.dify.is_some(),
                ProviderKind::Demo => true,
            };
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

fn read_file(path: &Path) -> anyhow::Result<Vec<ModelSpec>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read MODELS_FILE {}", path.display()))?;
    let file: CatalogFile =
        toml::from_str(&text).with_context(|| format!("MODELS_FILE {} is not valid", path.display()))?;
    Ok(file.model)
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

    #[test]
    fn cost_uses_prices_per_million() {
        let spec = &specs(TWO)[0];
        assert!((spec.cost_usd(1_000_000, 1_000_000) - 0.75).abs() < 1e-9);
    }
}
