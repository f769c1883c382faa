//! The UI's words in five languages. Each language is a flat JSON table in `frontend/i18n/`,
//! keyed like `chat.send`; `{name}` marks a value filled in at run time. A test checks that
//! every language has every key the code uses, so nothing shows up untranslated.
//!
//! English is built in; the other tables are fetched when chosen (`/i18n/<code>.json`, copied
//! next to the app by trunk), which keeps them out of every visitor's download.

use std::{collections::HashMap, rc::Rc};

use troupe_types::rules::RuleViolation;
use yew::prelude::*;

use crate::services::ApiError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    En,
    Ko,
    Es,
    Zh,
    Ja,
}

impl Lang {
    pub const ALL: [Lang; 5] = [Lang::En, Lang::Ko, Lang::Es, Lang::Zh, Lang::Ja];

    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ko => "ko",
            Lang::Es => "es",
            Lang::Zh => "zh",
            Lang::Ja => "ja",
        }
    }

    /// The language's own name, for the switcher.
    pub fn native_name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::Ko => "한국어",
            Lang::Es => "Español",
            Lang::Zh => "中文",
            Lang::Ja => "日本語",
        }
    }

    /// `ko-KR` → Korean; anything we do not speak → `None`.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.split(['-', '_']).next()?.to_ascii_lowercase();
        Lang::ALL.into_iter().find(|lang| lang.code() == primary)
    }
}

const ENGLISH: &str = include_str!("../i18n/en.json");

/// A language's table. Cheap to clone; components read it through [`use_i18n`].
#[derive(Clone, Debug, PartialEq)]
pub struct I18n {
    pub lang: Lang,
    table: Rc<HashMap<String, String>>,
}

impl I18n {
    pub fn english() -> Self {
        let table = serde_json::from_str(ENGLISH).expect("the language tables are valid JSON (tested)");
        Self { lang: Lang::En, table: Rc::new(table) }
    }

    /// `lang`'s table: built in for English, fetched for the others (`None` if that fails).
    pub async fn load(lang: Lang) -> Option<Self> {
        if lang == Lang::En {
            return Some(Self::english());
        }
        let response = gloo_net::http::Request::get(&format!("/i18n/{}.json", lang.code())).send().await.ok()?;
        let table = response.json().await.ok().filter(|_| response.ok())?;
        Some(Self { lang, table: Rc::new(table) })
    }

    /// The text for `key`; the key itself if it is missing (the tests keep that from happening).
    pub fn t(&self, key: &str) -> String {
        self.table.get(key).cloned().unwrap_or_else(|| key.to_owned())
    }

    /// The text for `key` with each `{name}` replaced by its value.
    pub fn tf(&self, key: &str, values: &[(&str, String)]) -> String {
        values.iter().fold(self.t(key), |text, (name, value)| text.replace(&format!("{{{name}}}"), value))
    }

    /// An API error in the reader's language: by its code when we have words for it (an
    /// error's own, else the input rule's when it needs no number), else the server's sentence.
    pub fn error(&self, error: &ApiError) -> String {
        let own = format!("error.{}", error.code);
        let rule = format!("rule.{}", error.code);
        match (self.table.get(&own), self.table.get(&rule)) {
            (Some(text), _) => text.clone(),
            (None, Some(text)) if !text.contains('{') => text.clone(),
            _ => error.message.clone(),
        }
    }

    /// A broken input rule in the reader's language.
    pub fn rule(&self, violation: &RuleViolation, max: usize) -> String {
        self.tf(&format!("rule.{}", violation.code), &[("max", max.to_string())])
    }
}

const STORAGE_KEY: &str = "troupe-lang";

/// The remembered choice, else the browser's first language we speak, else English.
pub fn initial_lang() -> Lang {
    let stored = web_sys::window()
        .and_then(|w| w.local_storage().ok().flatten())
        .and_then(|s| s.get_item(STORAGE_KEY).ok().flatten())
        .and_then(|code| Lang::from_tag(&code));
    stored.or_else(browser_lang).unwrap_or(Lang::En)
}

/// The browser's first language we speak.
pub fn browser_lang() -> Option<Lang> {
    let languages = web_sys::window()?.navigator().languages();
    languages.iter().filter_map(|tag| tag.as_string()).find_map(|tag| Lang::from_tag(&tag))
}

/// Keeps the user's own choice for the next visit (until then the browser's language rules).
pub fn remember(lang: Lang) {
    if let Some(storage) = web_sys::window().and_then(|w| w.local_storage().ok().flatten()) {
        let _ = storage.set_item(STORAGE_KEY, lang.code());
    }
}

/// Tells the browser (screen readers, fonts, hyphenation) which language the page is in.
pub fn mark_document(lang: Lang) {
    if let Some(root) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.document_element()) {
        let _ = root.set_attribute("lang", lang.code());
    }
}

/// The chosen language and a way to change it.
#[derive(Clone, PartialEq)]
pub struct LangContext {
    pub i18n: I18n,
    pub set: Callback<Lang>,
}

#[hook]
pub fn use_i18n() -> I18n {
    use_context::<LangContext>().expect("LangContext is provided by App").i18n
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn table(lang: Lang) -> HashMap<String, String> {
        let path = format!("{}/i18n/{}.json", env!("CARGO_MANIFEST_DIR"), lang.code());
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn keys(lang: Lang) -> BTreeSet<String> {
        table(lang).into_keys().collect()
    }

    /// Every string literal in the code shaped like a key (`area.name`): what the code hands
    /// to `t`/`tf`, directly or through a helper.
    fn keys_in_code() -> BTreeSet<String> {
        // `area.name` or `area.part.name`: words of a–z and _ joined by dots.
        let is_key = |s: &str| {
            let word = |w: &str| !w.is_empty() && w.chars().all(|c| c.is_ascii_lowercase() || c == '_');
            s.split('.').count() >= 2 && s.split('.').all(word)
        };
        let mut found = BTreeSet::new();
        let mut stack = vec![std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/src"))];
        while let Some(path) = stack.pop() {
            if path.is_dir() {
                stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
                continue;
            }
            let code = std::fs::read_to_string(&path).unwrap();
            found.extend(code.split('"').skip(1).step_by(2).filter(|s| is_key(s)).map(str::to_owned));
        }
        found
    }

    #[test]
    fn every_language_has_the_same_keys() {
        let english = keys(Lang::En);
        for lang in Lang::ALL {
            let theirs = keys(lang);
            let missing: Vec<_> = english.difference(&theirs).collect();
            let extra: Vec<_> = theirs.difference(&english).collect();
            assert!(missing.is_empty() && extra.is_empty(), "{lang:?}: missing {missing:?}, extra {extra:?}");
        }
    }

    #[test]
    fn every_key_the_code_uses_is_translated() {
        let english = keys(Lang::En);
        let missing: Vec<_> = keys_in_code().into_iter().filter(|k| !english.contains(k)).collect();
        assert!(missing.is_empty(), "keys used in code but not in i18n/en.json: {missing:?}");
    }

    #[test]
    fn every_input_rule_has_words() {
        let english = keys(Lang::En);
        let codes = ["invalid_username", "weak_password", "invalid_email", "required", "too_long"];
        let more = ["message_empty", "message_too_long", "invalid_tags", "invalid_url"];
        for code in codes.into_iter().chain(more) {
            assert!(english.contains(&format!("rule.{code}")), "rule.{code}");
        }
    }

    #[test]
    fn placeholders_match_across_languages() {
        let placeholders = |text: &str| -> BTreeSet<String> {
            text.split('{').skip(1).filter_map(|p| p.split_once('}')).map(|(name, _)| name.to_owned()).collect()
        };
        let english = table(Lang::En);
        for lang in Lang::ALL {
            let table = table(lang);
            for (key, text) in &english {
                assert_eq!(placeholders(text), placeholders(&table[key]), "{lang:?} {key}");
            }
        }
    }

    #[test]
    fn browser_tags_pick_a_language() {
        assert_eq!(Lang::from_tag("ko-KR"), Some(Lang::Ko));
        assert_eq!(Lang::from_tag("zh_TW"), Some(Lang::Zh));
        assert_eq!(Lang::from_tag("fr"), None);
    }
}
