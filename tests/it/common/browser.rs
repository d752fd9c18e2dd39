//! A real headless Chromium driven over WebDriver (Debian's `chromium` + `chromium-driver`).

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder};

pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: PathBuf,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("free port")
        .local_addr()
        .expect("addr")
        .port()
}

fn find(program: &str, fallbacks: &[&str]) -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(program))
            .find(|p| p.is_file())
    });
    on_path.or_else(|| fallbacks.iter().map(PathBuf::from).find(|p| p.is_file()))
}

impl Browser {
    pub async fn start() -> Browser {
        Browser::start_with(None).await
    }

    /// A phone: Chromium's device emulation at 390 × 844 CSS pixels (the page's viewport
    /// meta tag applies, as on a real phone).
    pub async fn start_phone() -> Browser {
        Browser::start_with(Some(serde_json::json!({
            "deviceMetrics": {"width": 390, "height": 844, "pixelRatio": 3.0, "touch": true, "mobile": true}
        })))
        .await
    }

    async fn start_with(mobile_emulation: Option<serde_json::Value>) -> Browser {
        // Both rustls backends are in the test build; pick one for the WebDriver client.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let driver_path = find("chromedriver", &["/usr/bin/chromedriver"])
            .expect("chromedriver not found: install Debian's chromium and chromium-driver (see README)");
        let chromium = find("chromium", &["/usr/bin/chromium"]).expect("chromium not found (see README)");
        let port = free_port();
        let driver = Command::new(driver_path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let profile = std::env::temp_dir().join(format!("wp-chromium-{}", uuid::Uuid::new_v4().simple()));
        let caps = serde_json::json!({
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--no-first-run", "--disable-quic", "--window-size=1400,1000",
                    format!("--user-data-dir={}", profile.display()),
                ]
            }
        });
        let mut caps = caps.as_object().cloned().expect("object");
        if let (Some(emulation), Some(options)) = (
            mobile_emulation,
            caps.get_mut("goog:chromeOptions").and_then(|o| o.as_object_mut()),
        ) {
            options.insert("mobileEmulation".into(), emulation);
        }
        let url = format!("http://127.0.0.1:{port}");
        let mut last_error = None;
        for _ in 0..50 {
            match ClientBuilder::rustls()
                .expect("tls")
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(client) => {
                    return Browser {
                        client,
                        driver,
                        _profile: profile,
                    }
                }
                Err(e) => last_error = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("could not start a Chromium session: {last_error:?}");
    }

    /// Saves a PNG screenshot under `target/screenshots/`.
    pub async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("screenshot");
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("target")
            .join("screenshots");
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("write screenshot");
    }

    pub async fn close(self) {
        let _ = self.client.clone().close().await;
        // Drop stops the driver and any browser left behind.
    }
}

impl Drop for Browser {
    // Also runs when a test panics, so no browser outlives its test.
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = Command::new("pkill").arg("-f").arg(self._profile.as_os_str()).status();
        let _ = std::fs::remove_dir_all(&self._profile);
    }
}

/// Waits until `css` matches an element, for pages updated by htmx.
pub async fn wait_for(client: &Client, css: &str) -> fantoccini::elements::Element {
    client
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(fantoccini::Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("element {css} did not appear: {e}"))
}

/// Waits until nothing matches `css` (the page that had it was left or swapped).
pub async fn wait_until_gone(client: &Client, css: &str) {
    for _ in 0..300 {
        if client.find(fantoccini::Locator::Css(css)).await.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("element {css} did not go away");
}

pub async fn click(client: &Client, css: &str) {
    client
        .find(fantoccini::Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("click {css}: {e}"));
}

/// Replaces an input's text.
pub async fn type_into(client: &Client, css: &str, text: &str) {
    let el = client
        .find(fantoccini::Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"));
    el.clear().await.unwrap_or_else(|e| panic!("clear {css}: {e}"));
    el.send_keys(text)
        .await
        .unwrap_or_else(|e| panic!("type into {css}: {e}"));
}

/// Signs in as the seeded vendor admin.
pub async fn sign_in(c: &Client, app: &super::TestApp) {
    c.goto(&app.url("/login")).await.unwrap();
    type_into(c, "#email", super::ADMIN_EMAIL).await;
    type_into(c, "#password", super::ADMIN_PASSWORD).await;
    click(c, "button[type=submit]").await;
    wait_for(c, "#main").await;
}

/// Waits until the wizard shows `step` (swapped in by htmx).
pub async fn wait_for_step(c: &Client, step: u8) {
    let heading = format!("Create webhook – Step {step}");
    for _ in 0..300 {
        if let Ok(h) = c.find(fantoccini::Locator::Css("#wizard h2")).await {
            if h.text().await.unwrap_or_default().starts_with(&heading) {
                return;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("wizard did not reach step {step}");
}

/// An input's value; retried while htmx swaps the element out under us.
pub async fn value_of(c: &Client, css: &str) -> String {
    for _ in 0..50 {
        if let Ok(el) = c.find(fantoccini::Locator::Css(css)).await {
            if let Ok(v) = el.prop("value").await {
                return v.unwrap_or_default();
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("could not read the value of {css}");
}

pub async fn wait_for_text(c: &Client, css: &str, text: &str) {
    let mut last = None;
    for _ in 0..600 {
        if let Ok(el) = c.find(fantoccini::Locator::Css(css)).await {
            let shown = el.text().await.unwrap_or_default();
            if shown.contains(text) {
                return;
            }
            last = Some(shown);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // What the page looked like, to tell a slow update from a missing one.
    let main = match c.find(fantoccini::Locator::Css("main")).await {
        Ok(el) => el.html(false).await.unwrap_or_default(),
        Err(_) => String::new(),
    };
    panic!("{css} never showed {text:?} (last shown: {last:?}); the page's main element:\n{main}");
}
