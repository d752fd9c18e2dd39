//! The unmodified `connect-openapi-client` (PyPI) against the public API. `.ci/run` installs
//! it into `target/pyenv`; set `CONNECT_CLIENT_PYTHON` to use another interpreter.

use crate::common::*;

fn python() -> std::path::PathBuf {
    if let Ok(p) = std::env::var("CONNECT_CLIENT_PYTHON") {
        return p.into();
    }
    let venv = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/pyenv/bin/python");
    assert!(
        venv.is_file(),
        "no Python with connect-openapi-client: run `python3 -m venv target/pyenv && target/pyenv/bin/pip install connect-openapi-client==35.0` (or bash .ci/run)"
    );
    venv
}

#[tokio::test]
async fn the_connect_python_client_works_against_the_api() {
    let app = spawn_app().await;
    app.login_admin().await;
    let key = app.api_key("Python client").await;
    let (product, _) = plain_and_capable_products(&app).await;
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/connect_client_check.py");
    let endpoint = format!("{}/public/v1", app.base);
    let python = python();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(python)
            .arg(script)
            .env("PORTAL_API_ENDPOINT", endpoint)
            .env("PORTAL_API_KEY", key)
            .env("PORTAL_PRODUCT_ID", product)
            .output()
            .expect("run python")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "client checks failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("all checks passed"));
}
