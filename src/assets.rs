//! The static files under `/static` (stylesheet, scripts, icon). Pages link them with a hash
//! of their content (`/static/app.css?v=…`), so browsers may keep a file for a year and
//! still fetch a changed one at once: a new file is a new URL.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use sha2::{Digest, Sha256};
use tower_http::services::ServeDir;

/// For a URL that carries the file's current hash: its content never changes.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// For a bare URL (an old bookmark, a file linked without its hash).
const SHORT: &str = "public, max-age=3600";

/// Where the files are: next to the crate in development, the working directory in
/// production; `PORTAL_STATIC_DIR` overrides both.
pub fn dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PORTAL_STATIC_DIR") {
        return dir.into();
    }
    let beside_crate = Path::new(env!("CARGO_MANIFEST_DIR")).join("static");
    if beside_crate.is_dir() {
        beside_crate
    } else {
        "static".into()
    }
}

/// File name → hash of its content, read once from the files that are served.
fn hashes() -> &'static HashMap<String, String> {
    static HASHES: OnceLock<HashMap<String, String>> = OnceLock::new();
    HASHES.get_or_init(|| hash_files(&dir()))
}

fn hash_files(dir: &Path) -> HashMap<String, String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        tracing::warn!(dir = %dir.display(), "no static files: pages link them without a hash");
        return HashMap::new();
    };
    entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let content = std::fs::read(e.path()).ok()?;
            Some((name, content_hash(&content)))
        })
        .collect()
}

/// The first 64 bits of the SHA-256, in hex: enough to tell versions of one file apart.
pub fn content_hash(content: &[u8]) -> String {
    Sha256::digest(content)[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The URL pages link for a file under `static/`, e.g. `url("app.css")`.
pub fn url(name: &str) -> String {
    match hashes().get(name) {
        Some(hash) => format!("/static/{name}?v={hash}"),
        None => format!("/static/{name}"),
    }
}

/// The `/static` service: the files, with the cache lifetime their URL allows.
pub fn router() -> Router {
    // Read the files now rather than on the first page.
    hashes();
    Router::new()
        .fallback_service(ServeDir::new(dir()))
        .layer(middleware::from_fn(cache_control))
}

async fn cache_control(request: Request, next: Next) -> Response {
    let name = request.uri().path().trim_start_matches('/');
    let current = hashes().get(name);
    let hashed = current.is_some()
        && request.uri().query().is_some_and(|q| {
            form_urlencoded::parse(q.as_bytes())
                .any(|(k, v)| k == "v" && Some(v.as_ref()) == current.map(|h| h.as_str()))
        });
    let mut response = next.run(request).await;
    let policy = if hashed && response.status().is_success() {
        IMMUTABLE
    } else {
        SHORT
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(policy));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_file_gets_a_new_hash() {
        let a = content_hash(b"body { color: black }");
        assert_eq!(a.len(), 16);
        assert_eq!(a, content_hash(b"body { color: black }"));
        assert_ne!(a, content_hash(b"body { color: navy }"));
    }

    #[test]
    fn pages_link_the_served_files_with_their_hash() {
        let css = std::fs::read(dir().join("app.css")).expect("static/app.css");
        assert_eq!(url("app.css"), format!("/static/app.css?v={}", content_hash(&css)));
        assert_eq!(url("no-such-file.css"), "/static/no-such-file.css");
    }
}
