//! The pages as a phone, a keyboard and a screen reader meet them, in real Chromium: every
//! signed-in page fits 390 px and has a menu, axe-core finds no serious or critical violation
//! at 1400 and 390 px, focus is visible and goes to the first error, unsaved edits are not lost
//! silently, and the statistics refresh their figures without replacing the tabs.

use std::time::Duration;

use fantoccini::{Client, Locator};
use serde_json::{json, Value};

use crate::common::browser::{click, type_into, wait_for, Browser};
use crate::common::handler::{Behaviour, Handler};
use crate::common::*;

/// axe-core 4.10.2 from npm (MPL-2.0), vendored so that the tests need no network.
const AXE: &str = include_str!("../vendor/axe-core-4.10.2/axe.min.js");

async fn sign_in(c: &Client, app: &TestApp) {
    c.goto(&app.url("/login")).await.unwrap();
    type_into(c, "#email", ADMIN_EMAIL).await;
    type_into(c, "#password", ADMIN_PASSWORD).await;
    click(c, "button[type=submit]").await;
    wait_for(c, "#main").await;
}

/// The signed-in pages a vendor admin visits, with data on each.
async fn pages(app: &TestApp) -> Vec<String> {
    app.login_admin().await;
    let (product, _) = plain_and_capable_products(app).await;
    let webhook = insert_webhook(
        app,
        &app.vendor_account_id,
        &product,
        "Fulfillment handler (production)",
        true,
    )
    .await;
    let attempt: i64 = sqlx::query_scalar(
        "insert into webhook_attempts (webhook_id, started_at, duration_ms, success, status_code, request_method,
             request_url, response_body)
         values ($1, now(), 42, false, 500, 'POST', 'https://handler.example.com/a/very/long/path/that/goes/on/and/on',
                 '{\"error\": \"a long response body that should wrap or scroll inside its own box on a phone\"}')
         returning id",
    )
    .bind(&webhook)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let r = app
        .post_form(
            "/inbound/new",
            &[
                ("name", "Web shop orders"),
                ("product", product.as_str()),
                ("object_class", "fulfillment_request"),
                ("max_wait", "5"),
            ],
        )
        .await;
    let trigger = location(&r);
    let admin: String = sqlx::query_scalar("select id from users where email = $1")
        .bind(ADMIN_EMAIL)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    app.api_key("Fulfillment handler").await;
    let request = create_request(
        app,
        &app.vendor_account_id,
        &product,
        "fulfillment_request",
        "purchase",
        "pending",
        json!([]),
    )
    .await
    .id;
    vec![
        "/webhooks".into(),
        format!("/webhooks/{webhook}"),
        format!("/webhooks/{webhook}/statistics"),
        format!("/webhooks/{webhook}/http"),
        format!("/webhooks/{webhook}/data"),
        format!("/webhooks/{webhook}/deliveries"),
        format!("/webhooks/{webhook}/deliveries/{attempt}"),
        format!("/webhooks/{webhook}/edit/general"),
        format!("/webhooks/{webhook}/edit/http"),
        format!("/webhooks/{webhook}/delete"),
        "/webhooks/new/general".into(),
        "/products".into(),
        format!("/products/{product}"),
        format!("/requests/{request}"),
        "/inbound".into(),
        "/inbound/new".into(),
        format!("{trigger}/edit"),
        trigger,
        "/tokens".into(),
        "/users".into(),
        "/users/new".into(),
        format!("/users/{admin}"),
        format!("/webhooks/{webhook}/edit/data"),
        format!("/webhooks/{webhook}/preview"),
        format!("/webhooks/{webhook}/token-check"),
        format!("/webhooks/{webhook}/history"),
        "/audit".into(),
        "/notifications".into(),
        "/webhooks/WH-000-000-000".into(),
    ]
}

/// Presses Tab as a keyboard does (key events to whatever has the focus).
async fn press_tab(c: &Client) {
    use fantoccini::actions::{InputSource, KeyAction, KeyActions};
    let tab = '\u{E004}';
    let keys = KeyActions::new("keyboard".into())
        .then(KeyAction::Down { value: tab })
        .then(KeyAction::Up { value: tab });
    c.perform_actions(keys).await.expect("press Tab");
}

/// The serious and critical axe-core violations of the page, one line each.
pub(crate) async fn axe_violations(c: &Client) -> Vec<String> {
    c.execute(&format!("{AXE}\nreturn true;"), vec![])
        .await
        .expect("load axe-core");
    let result = c
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, {resultTypes: ['violations']})
                .then(r => done(r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
                    .map(v => v.id + ': ' + v.help + ' — ' + v.nodes.map(n => n.target.join(' ')).slice(0, 3).join(', '))))
                .catch(e => done(['axe failed: ' + e]));",
            vec![],
        )
        .await
        .expect("run axe-core");
    serde_json::from_value(result).unwrap_or_default()
}

#[tokio::test]
async fn on_a_phone_every_page_fits_the_screen_and_the_menu_reaches_every_section() {
    let app = spawn_app().await;
    let paths = pages(&app).await;
    let browser = Browser::start_phone().await;
    let c = &browser.client;
    sign_in(c, &app).await;
    let mut too_wide = Vec::new();
    let mut violations = Vec::new();
    for (i, path) in paths.iter().enumerate() {
        c.goto(&app.url(path)).await.unwrap();
        wait_for(c, "body").await;
        browser.screenshot(&format!("phone-{i:02}")).await;
        let widths: Value = c
            .execute(
                "return [document.scrollingElement.scrollWidth, window.innerWidth];",
                vec![],
            )
            .await
            .unwrap();
        let scroll = widths[0].as_i64().unwrap_or(0);
        if scroll > 390 {
            // The outermost elements that stick out, to say what to fix.
            let culprits = c
                .execute(
                    "return [...document.querySelectorAll('body *')].filter(e => {
                         const r = e.getBoundingClientRect();
                         const p = e.parentElement.getBoundingClientRect();
                         return r.right > 392 && p.right <= 392;
                     }).slice(0, 6).map(e => getComputedStyle(e.parentElement).overflowX + ' ' + e.parentElement.scrollWidth + ' ' + e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
                         (e.className && typeof e.className === 'string' ? '.' + e.className.split(' ').join('.') : ''));",
                    vec![],
                )
                .await
                .unwrap_or_default();
            too_wide.push(format!("{path}: {widths} {culprits}"));
        }
        for v in axe_violations(c).await {
            violations.push(format!("{path} (390 px): {v}"));
        }
    }
    assert!(too_wide.is_empty(), "pages wider than the phone: {too_wide:#?}");
    assert!(violations.is_empty(), "{violations:#?}");

    // The side navigation is hidden; the menu in the top bar opens, says so, and leads on.
    c.goto(&app.url("/webhooks")).await.unwrap();
    let side = c.find(Locator::Css(".sidenav")).await.unwrap();
    assert!(!side.is_displayed().await.unwrap());
    let menu = c.find(Locator::Css(".mobile-menu > summary")).await.unwrap();
    assert!(menu.is_displayed().await.unwrap());
    menu.click().await.unwrap();
    let open: Value = c
        .execute("return document.querySelector('.mobile-menu').open;", vec![])
        .await
        .unwrap();
    assert_eq!(open, json!(true));
    browser.screenshot("phone-menu").await;
    for section in ["/products", "/inbound", "/tokens", "/users", "/audit"] {
        let link = c
            .find(Locator::Css(&format!(".mobile-menu-items a[href='{section}']")))
            .await
            .unwrap();
        assert!(link.is_displayed().await.unwrap(), "{section} in the menu");
    }
    click(c, ".mobile-menu-items a[href='/inbound']").await;
    wait_for(c, "#triggers").await;
    assert_eq!(c.current_url().await.unwrap().path(), "/inbound");
    browser.close().await;
}

#[tokio::test]
async fn axe_core_finds_no_serious_violation_on_a_laptop_and_focus_is_visible() {
    let app = spawn_app().await;
    let paths = pages(&app).await;
    let browser = Browser::start().await;
    let c = &browser.client;
    sign_in(c, &app).await;
    let mut violations = Vec::new();
    for (i, path) in paths.iter().enumerate() {
        c.goto(&app.url(path)).await.unwrap();
        wait_for(c, "body").await;
        browser.screenshot(&format!("laptop-{i:02}")).await;
        for v in axe_violations(c).await {
            violations.push(format!("{path}: {v}"));
        }
    }
    assert!(violations.is_empty(), "{violations:#?}");

    // The first Tab reaches "Skip to content", which shows itself; focus rings are 3 px.
    c.goto(&app.url("/users")).await.unwrap();
    wait_for(c, "#users").await;
    press_tab(c).await;
    let focused: Value = c
        .execute(
            "const e = document.activeElement; const s = getComputedStyle(e);
             return [e.className, s.outlineStyle, s.outlineWidth, e.getBoundingClientRect().top >= 0];",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(focused[0], json!("skip-link"), "{focused}");
    assert_eq!(
        focused[3],
        json!(true),
        "the skip link is on screen when focused: {focused}"
    );
    // A checkbox reached by keyboard shows a ring.
    c.goto(&app.url("/webhooks/new/general")).await.unwrap();
    wait_for(c, "#wizard-form").await;
    c.execute("document.getElementById('description').focus();", vec![])
        .await
        .unwrap();
    press_tab(c).await; // to "Enabled"
    let ring: Value = c
        .execute(
            "const e = document.activeElement; const s = getComputedStyle(e);
             return [e.id, s.outlineStyle, s.outlineWidth];",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(ring, json!(["enabled", "solid", "3px"]));
    browser.close().await;
}

#[tokio::test]
async fn a_refused_step_brings_the_focus_to_its_first_error_with_and_without_javascript() {
    let app = spawn_app().await;
    let (product, _) = plain_and_capable_products(&app).await;
    let browser = Browser::start().await;
    let c = &browser.client;
    sign_in(c, &app).await;
    c.set_window_size(1280, 600).await.unwrap();
    c.goto(&app.url("/webhooks/new/general")).await.unwrap();
    type_into(c, "#name", "Focus test").await;
    click(c, "#wizard-next").await;
    wait_for(c, &format!("label[for='product-{product}']")).await;
    click(c, &format!("label[for='product-{product}']")).await;
    click(c, "#wizard-next").await;
    wait_for(c, "input[name=type]").await;
    // Next without a type: the error is announced and the first type takes the focus, on screen.
    click(c, "#wizard-next").await;
    wait_for(c, "#type-error").await;
    let focus = |c: &Client| {
        let c = c.clone();
        async move {
            c.execute(
                "const e = document.activeElement; const r = e.getBoundingClientRect();
                 return [e.name || '', e.getAttribute('aria-invalid'), e.getAttribute('aria-describedby'),
                         r.top >= 0 && r.bottom <= window.innerHeight];",
                vec![],
            )
            .await
            .unwrap()
        }
    };
    let mut seen = json!(null);
    for _ in 0..50 {
        seen = focus(c).await;
        if seen[0] == json!("type") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(seen, json!(["type", "true", "type-error", true]));

    // A private endpoint is refused at this step, by the calls' own rules, with the reason.
    click(c, "input[name=type]:not([disabled])").await;
    click(c, "#wizard-next").await;
    wait_for(c, "#external_url").await;
    type_into(c, "#external_url", "http://10.20.30.40/hook").await;
    click(c, "#wizard-next").await;
    let error = wait_for(c, "#external_url-error").await.text().await.unwrap();
    assert!(error.contains("10.20.30.40 is a private address"), "{error}");
    let mut focused = json!(null);
    for _ in 0..50 {
        focused = focus(c).await;
        if focused[0] == json!("external_url") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(focused, json!(["external_url", "true", "external_url-error", true]));
    browser.screenshot("wizard-endpoint-refused").await;

    // Without JavaScript the server's answer carries the same autofocus.
    app.login_admin().await;
    app.get("/webhooks/new/general").await;
    app.post_form("/webhooks/new/general", &[("name", "No JS"), ("action", "next")])
        .await;
    app.post_form(
        "/webhooks/new/product",
        &[("product_id", product.as_str()), ("action", "next")],
    )
    .await;
    let html = app
        .post_form("/webhooks/new/type", &[("action", "next")])
        .await
        .text()
        .await
        .unwrap();
    let first_type = html.split("name=\"type\"").nth(1).unwrap_or_default();
    let first_type = &first_type[..first_type.find('>').unwrap_or(0)];
    assert!(
        first_type.contains("autofocus") && first_type.contains("aria-invalid=\"true\""),
        "{first_type}"
    );
    browser.close().await;
}

#[tokio::test]
async fn leaving_an_edited_section_asks_first_and_statistics_refresh_only_their_figures() {
    let handler = Handler::start().await;
    handler.set(Behaviour {
        delay: Duration::from_secs(4),
        ..Behaviour::default()
    });
    // Calls may take the handler's 4 s: the statistics show a call in flight meanwhile.
    let mut settings: Vec<(&str, &str)> = FAST_DELIVERY.to_vec();
    settings.retain(|(k, _)| *k != "PORTAL_REQUEST_TIMEOUT_MS");
    settings.push(("PORTAL_REQUEST_TIMEOUT_MS", "20000"));
    let app = spawn_app_with(&settings).await;
    app.login_admin().await;
    let id = webhook_calling(&app, &handler.url("/"), "POST", json!([]), json!({})).await;
    let browser = Browser::start().await;
    let c = &browser.client;
    sign_in(c, &app).await;

    // An edited name, then the HTTP settings tab: the page asks; "stay" keeps the text.
    c.goto(&app.url(&format!("/webhooks/{id}/edit/general"))).await.unwrap();
    type_into(c, "#name", "Renamed but not saved").await;
    click(c, &format!("a[href='/webhooks/{id}/edit/http']")).await;
    let question = c.get_alert_text().await.expect("a confirmation is asked");
    assert!(question.contains("unsaved changes"), "{question}");
    c.dismiss_alert().await.unwrap();
    assert!(c.current_url().await.unwrap().path().ends_with("/edit/general"));
    let kept = c
        .find(Locator::Css("#name"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap();
    assert_eq!(kept.as_deref(), Some("Renamed but not saved"));
    click(c, &format!("a[href='/webhooks/{id}/edit/http']")).await;
    c.accept_alert().await.unwrap();
    wait_for(c, "#external_url").await;

    // A call in flight: the figures refresh, the tabs (and what has the focus) stay.
    let r = app.post_form(&format!("/webhooks/{id}/trigger"), &[]).await;
    assert_eq!(r.status(), 303);
    c.goto(&app.url(&format!("/webhooks/{id}/statistics"))).await.unwrap();
    wait_for(c, "#stats-live .refresher").await;
    c.execute(
        "document.querySelector('nav.tabs').dataset.marker = 'kept';
         document.getElementById('stats-live').dataset.marker = 'old';
         document.querySelector('nav.tabs a').focus();",
        vec![],
    )
    .await
    .unwrap();
    let mut state = json!(null);
    for _ in 0..100 {
        state = c
            .execute(
                "return [document.querySelector('nav.tabs').dataset.marker || '',
                         document.getElementById('stats-live').dataset.marker || 'new',
                         document.activeElement.closest('nav.tabs') !== null,
                         document.querySelector('#stats-live .refresher') !== null,
                         document.getElementById('stat-triggers').textContent.trim()];",
                vec![],
            )
            .await
            .unwrap();
        if state[1] == json!("new") && state[3] == json!(false) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        state,
        json!(["kept", "new", true, false, "1"]),
        "the figures were replaced until the call ended; the tabs and the focus stayed"
    );
    browser.close().await;
}

#[tokio::test]
async fn a_disabled_webhook_offers_enable_and_trigger_and_says_one_clear_thing() {
    let handler = Handler::start().await;
    let app = spawn_app_with(&FAST_DELIVERY).await;
    let id = webhook_calling(&app, &handler.url("/"), "POST", json!([]), json!({})).await;
    sqlx::query("update webhooks set active = false where id = $1")
        .bind(&id)
        .execute(&app.pool)
        .await
        .unwrap();
    let browser = Browser::start().await;
    let c = &browser.client;
    sign_in(c, &app).await;
    // The list's ⋮ menu and the details page say the same.
    c.goto(&app.url("/webhooks")).await.unwrap();
    click(c, "#webhook-table details.menu summary").await;
    let menu = wait_for(c, "#webhook-table details.menu[open] .menu-items")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        menu.contains("Enable and trigger") && !menu.contains("Trigger now"),
        "{menu}"
    );
    c.goto(&app.url(&format!("/webhooks/{id}"))).await.unwrap();
    let button = wait_for(c, "#trigger-now").await;
    assert_eq!(button.text().await.unwrap(), "Enable and trigger");
    button.click().await.unwrap();
    let flash = wait_for(c, "#flashes .flash").await.text().await.unwrap();
    assert!(
        flash.contains("enabled and triggered: the call is on its way"),
        "{flash}"
    );
    // A flash does not outlive the page it was for: a tab switch clears it.
    click(c, &format!("a[href='/webhooks/{id}/http']")).await;
    wait_for(c, "#endpoint-url").await;
    let left: Value = c
        .execute("return document.querySelectorAll('#flashes .flash').length;", vec![])
        .await
        .unwrap();
    assert_eq!(left, json!(0));
    crate::common::handler::eventually("the handler is called", || async { handler.count() == 1 }).await;
    c.goto(&app.url(&format!("/webhooks/{id}"))).await.unwrap();
    assert_eq!(wait_for(c, "#trigger-now").await.text().await.unwrap(), "Trigger now");
    browser.close().await;
}
