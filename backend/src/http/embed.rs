//! The embedded chat: `/embed?token=…&lang=…`, the web app's embed build for a system's user,
//! which only the system's allowed origins may frame; and `/embed.js`, the script a system's
//! page includes to open it from a chat button.

use std::path::{Path, PathBuf};

use poem::{
    Endpoint, IntoResponse, Request, Response,
    http::{HeaderValue, StatusCode, header},
    web::Html,
};

use crate::{api::service::EMBED_LANGUAGES, domain::System, error::AppError, state::AppState};

const SCRIPT: &str = include_str!("embed/embed.js");

/// `GET /embed.js`: cached for five minutes, loadable from any page.
pub async fn script(_req: Request) -> Response {
    let mut resp = SCRIPT.with_content_type("text/javascript; charset=utf-8").into_response();
    let headers = resp.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    headers.insert("cross-origin-resource-policy", HeaderValue::from_static("cross-origin"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    resp
}

/// `GET /embed`: checks the token first; a good one gets the embed app's page, framable only
/// by the system's allowed origins, with the system's name and the chat's character in meta
/// tags; anything else a short page saying so (in the asked language), and nothing more.
pub struct EmbedPage {
    /// `STATIC_DIR/embed/index.html`.
    pub index: PathBuf,
}

impl EmbedPage {
    pub fn new(static_dir: &Path) -> Self {
        Self { index: static_dir.join("embed").join("index.html") }
    }
}

impl Endpoint for EmbedPage {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let state = req.data::<AppState>().expect("startup installs the AppState");
        let query = |name: &str| {
            req.uri().query().and_then(|q| url_pairs(q).find(|(key, _)| key == name).map(|(_, value)| value))
        };
        let lang = query("lang").filter(|l| EMBED_LANGUAGES.contains(&l.as_str())).unwrap_or_else(|| "en".into());
        let Some(token) = query("token") else {
            return Ok(refusal(StatusCode::UNAUTHORIZED, &lang));
        };
        let (system, _user, credential) = match state.systems.verify(&token).await {
            Ok(found) => found,
            Err(AppError::Unauthenticated(_)) => return Ok(refusal(StatusCode::UNAUTHORIZED, &lang)),
            Err(other) => return Err(crate::api::ApiError::from(other).into()),
        };
        let Ok(page) = tokio::fs::read_to_string(&self.index).await else {
            tracing::warn!(path = %self.index.display(), "the embedded chat is not built (frontend/build.sh)");
            return Ok(refusal(StatusCode::NOT_FOUND, &lang));
        };
        let character = credential.character_id.or(system.default_character_id);
        let mut meta = format!(r#"<meta name="troupe-system" content="{}">"#, escape(&system.name));
        if let Some(id) = character {
            meta.push_str(&format!(r#"<meta name="troupe-character" content="{id}">"#));
        }
        // The page's boot script carries a nonce placeholder (nginx fills it for the other
        // pages): this answer's own, which its policy names.
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        let page = page.replacen("<head>", &format!("<head>{meta}"), 1).replace(NONCE_PLACEHOLDER, &nonce);
        let mut resp = Html(page).into_response();
        let headers = resp.headers_mut();
        headers.insert(header::CONTENT_SECURITY_POLICY, policy(&system, &nonce));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
        headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        Ok(resp)
    }
}

const NONCE_PLACEHOLDER: &str = "TROUPE_CSP_NONCE";

/// The app's policy (as nginx.conf sets it for the other pages), framable by the system's
/// allowed origins only (nobody when it has none).
fn policy(system: &System, nonce: &str) -> HeaderValue {
    let ancestors =
        if system.allowed_origins.is_empty() { "'none'".to_owned() } else { system.allowed_origins.join(" ") };
    let policy = format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval' 'nonce-{nonce}'; style-src 'self'; \
         style-src-attr 'unsafe-inline'; img-src 'self' data: https:; connect-src 'self'; object-src 'none'; \
         base-uri 'self'; form-action 'self'; frame-ancestors {ancestors}"
    );
    HeaderValue::from_str(&policy).unwrap_or(HeaderValue::from_static("frame-ancestors 'none'"))
}

/// The page for a token that does not open the chat: one sentence, no script, framable by
/// anyone (it shows nothing of anybody's).
fn refusal(status: StatusCode, lang: &str) -> Response {
    let text = match (status, lang) {
        (StatusCode::NOT_FOUND, _) => "The embedded chat is not available on this server.",
        (_, "ko") => "이 채팅 링크는 만료되었거나 유효하지 않습니다. 이전 페이지를 새로 고쳐 주세요.",
        (_, "es") => "Este enlace de chat ha caducado o no es válido. Vuelve a cargar la página de la que vienes.",
        (_, "zh") => "此聊天链接已过期或无效。请重新加载你来自的页面。",
        (_, "ja") => "このチャットのリンクは期限切れか無効です。元のページを再読み込みしてください。",
        _ => "This chat link has expired or is not valid. Reload the page you came from.",
    };
    let page = format!(
        "<!doctype html><html lang=\"{lang}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
         content=\"width=device-width, initial-scale=1\"><title>Troupe</title></head><body style=\"font: 16px \
         system-ui, sans-serif; margin: 2rem; color: #333\"><p role=\"alert\">{text}</p></body></html>"
    );
    let mut resp = Html(page).with_status(status).into_response();
    let headers = resp.headers_mut();
    let policy = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors *";
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(policy));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    resp
}

/// A query string's `key=value` pairs, percent-decoded.
fn url_pairs(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    query.split('&').filter_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        Some((decode(key)?, decode(value)?))
    })
}

fn decode(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_decoded() {
        let pairs: Vec<_> = url_pairs("token=a.b%2Dc&lang=ko&x=1+2").collect();
        assert_eq!(pairs[0], ("token".into(), "a.b-c".into()));
        assert_eq!(pairs[1], ("lang".into(), "ko".into()));
        assert_eq!(pairs[2], ("x".into(), "1 2".into()));
        assert_eq!(escape(r#"<a "b">&"#), "&lt;a &quot;b&quot;&gt;&amp;");
    }
}
