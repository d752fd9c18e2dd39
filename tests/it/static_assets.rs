//! Static files: pages link them with a hash of their content, and such a URL may be cached
//! for a year; a bare URL only for an hour.

use scraper::{Html, Selector};
use sha2::{Digest, Sha256};

use crate::common::*;

const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// The URLs `selector`'s `attr` names in `html`.
fn linked(html: &str, selector: &str, attr: &str) -> Vec<String> {
    let selector = Selector::parse(selector).expect("selector");
    Html::parse_document(html)
        .select(&selector)
        .filter_map(|e| e.value().attr(attr).map(str::to_string))
        .collect()
}

#[tokio::test]
async fn pages_link_static_files_by_content_hash_and_those_urls_are_cached_for_good() {
    let app = spawn_app().await;
    let login = app.get_html("/login").await;
    app.login_admin().await;
    let page = app.get_html("/webhooks").await;
    let mut urls = linked(&page, "link[rel=stylesheet], link[rel=icon]", "href");
    urls.extend(linked(&page, "script[src]", "src"));
    assert_eq!(urls.len(), 4, "stylesheet, icon, htmx and app.js: {urls:?}");
    assert!(linked(&login, "link[rel=stylesheet]", "href")
        .iter()
        .all(|u| urls.contains(u)));

    for url in &urls {
        let (path, hash) = url.split_once("?v=").unwrap_or_else(|| panic!("{url} carries a hash"));
        let r = app.get(url).await;
        assert_eq!(r.status(), 200, "{url}");
        assert_eq!(r.headers()["cache-control"], IMMUTABLE, "{url}");
        // The hash is the served file's: a changed file gets a new URL.
        let body = r.bytes().await.unwrap();
        let digest: String = Sha256::digest(&body)[..8].iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hash, digest, "{url}");

        // Without the hash, or with another one: cached briefly, as the file may change.
        for other in [path.to_string(), format!("{path}?v=0000000000000000")] {
            let r = app.get(&other).await;
            assert_eq!(r.status(), 200, "{other}");
            assert_eq!(r.headers()["cache-control"], "public, max-age=3600", "{other}");
        }
    }
    // The CSP still forbids inline code: every script is a file.
    assert!(!page.contains("<script>") && !page.contains("style=\""));
}
