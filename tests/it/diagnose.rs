//! Diagnosis tools against real calls: each kind of failure gets its hint on the call's page;
//! the call copied as curl with a fresh token, run by curl, reaches the handler with a token
//! that verifies; the request preview equals the next real call; the token checker tells
//! valid, expired and foreign tokens apart.

use std::sync::Arc;

use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::{json, Value};

use crate::common::handler::{eventually, verified_claims, Behaviour, Handler, Received};
use crate::common::*;

/// The fields of a call that depend on the moment it is made: the payload's and claims'
/// `triggered_at`, the token's `exp`, and so the token itself.
const TIME_DEPENDENT_CLAIMS: [&str; 2] = ["triggered_at", "exp"];
const TOKEN_HEADERS: [&str; 2] = ["authorization", "authentication"];

fn select_text(html: &str, selector: &str) -> Option<String> {
    let document = scraper::Html::parse_document(html);
    let selector = scraper::Selector::parse(selector).expect("a selector");
    document.select(&selector).next().map(|e| e.text().collect())
}

fn select_attr(html: &str, selector: &str, attr: &str) -> Option<String> {
    let document = scraper::Html::parse_document(html);
    let selector = scraper::Selector::parse(selector).expect("a selector");
    document
        .select(&selector)
        .next()
        .and_then(|e| e.value().attr(attr))
        .map(str::to_string)
}

/// The id of the webhook's first recorded call, once it is recorded.
async fn first_attempt(app: &TestApp, id: &str) -> i64 {
    eventually("the call is recorded", || async {
        sqlx::query_scalar::<_, i64>("select count(*) from webhook_attempts where webhook_id = $1")
            .bind(id)
            .fetch_one(&app.pool)
            .await
            .unwrap()
            > 0
    })
    .await;
    sqlx::query_scalar("select min(id) from webhook_attempts where webhook_id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// An HTTPS server on 127.0.0.1 with a freshly made self-signed certificate; its URL.
async fn self_signed_https() -> String {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()])
        .expect("a self-signed certificate");
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(certified.key_pair.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(vec![certified.cert.der().clone()], key)
        .expect("a server certificate");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("bound");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            // The portal refuses the certificate: the handshake fails, which is the point.
            tokio::spawn(async move {
                let _ = acceptor.accept(stream).await;
            });
        }
    });
    format!("https://{addr}/hook")
}

fn answering(status: u16) -> Behaviour {
    Behaviour {
        status,
        ..Behaviour::default()
    }
}

/// A real failure of one kind and what its call's page should say.
struct Case {
    kind: &'static str,
    /// The endpoint; a local handler's when it answers.
    url: String,
    /// What the handler answers, if the call reaches one.
    answer: Option<Behaviour>,
    /// A phrase of the hint.
    says: String,
    /// Where the hint's link leads (after `/webhooks/{id}`), if it has one.
    link: Option<&'static str>,
}

#[tokio::test]
async fn each_kind_of_failure_gets_its_hint() {
    let app = spawn_app_with(&FAST_DELIVERY).await;
    app.login_admin().await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let tls = self_signed_https().await;
    let mut cases: Vec<Case> = vec![
        Case {
            kind: "dns",
            url: "http://no-such-handler.invalid/hook".to_string(),
            answer: None,
            says: "The host no-such-handler.invalid was not found in DNS".to_string(),
            link: Some("/http"),
        },
        Case {
            kind: "refused",
            url: format!("http://{closed}/hook"),
            answer: None,
            says: format!("Nothing accepted the connection at {closed}: start the handler"),
            link: Some("/http"),
        },
        Case {
            kind: "tls",
            url: tls,
            answer: None,
            says: "TLS certificate was not accepted because it is self-signed or from an authority the portal does not trust".to_string(),
            link: None,
        },
        Case {
            kind: "timeout",
            url: String::new(),
            answer: Some(Behaviour {
                delay: std::time::Duration::from_secs(5),
                ..Behaviour::default()
            }),
            says: "The handler did not answer within ".to_string(),
            link: None,
        },
        Case {
            kind: "401",
            url: String::new(),
            answer: Some(answering(401)),
            says: "refused the call's token (HTTP 401)".to_string(),
            link: Some("/token-check"),
        },
        Case {
            kind: "403",
            url: String::new(),
            answer: Some(answering(403)),
            says: "refused the call's token (HTTP 403)".to_string(),
            link: Some("/token-check"),
        },
        Case {
            kind: "404",
            url: String::new(),
            answer: Some(answering(404)),
            says: "has nothing at the path /hook (HTTP 404)".to_string(),
            link: Some("/http"),
        },
        Case {
            kind: "410",
            url: String::new(),
            answer: Some(answering(410)),
            says: "answered 410 Gone, so the portal turned the webhook off".to_string(),
            link: Some("/http"),
        },
        Case {
            kind: "413",
            url: String::new(),
            answer: Some(answering(413)),
            says: "refused the call's body as too large (HTTP 413)".to_string(),
            link: None,
        },
        Case {
            kind: "500",
            url: String::new(),
            answer: Some(answering(500)),
            says: "failed with an error of its own (HTTP 500)".to_string(),
            link: Some("#response-body"),
        },
        Case {
            kind: "302",
            url: String::new(),
            answer: Some(Behaviour {
                status: 302,
                headers: vec![("location", "https://moved.example.com/hook".to_string())],
                ..Behaviour::default()
            }),
            says: "redirected the call to https://moved.example.com/hook (HTTP 302), and the portal never follows redirects"
                .to_string(),
            link: Some("/http"),
        },
    ];
    // Every webhook fires at once; each gets a handler of its own when it needs one.
    let mut handlers = Vec::new();
    let mut webhooks = Vec::new();
    for case in cases.iter_mut() {
        if let Some(answer) = case.answer.take() {
            let handler = Handler::start().await;
            handler.set(answer);
            case.url = handler.url("/hook");
            handlers.push(handler);
        }
        let id = webhook_calling(&app, &case.url, "POST", json!([]), json!({})).await;
        queue_changes(&app.pool, &id, 1).await;
        webhooks.push(id);
    }
    for (Case { kind, says, link, .. }, id) in cases.iter().zip(&webhooks) {
        let attempt = first_attempt(&app, id).await;
        let page = app.get_html(&format!("/webhooks/{id}/deliveries/{attempt}")).await;
        let hint = select_text(&page, "#diagnosis").unwrap_or_else(|| panic!("{kind}: no hint on the call's page"));
        let hint = hint.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(hint.starts_with("Likely cause:"), "{kind}: {hint}");
        assert!(hint.contains(says.as_str()), "{kind}: {hint}");
        let href = select_attr(&page, "#diagnosis-link", "href");
        match link {
            Some("#response-body") => assert_eq!(href.as_deref(), Some("#response-body"), "{kind}"),
            Some(path) => assert_eq!(href, Some(format!("/webhooks/{id}{path}")), "{kind}"),
            None => assert_eq!(href, None, "{kind}"),
        }
        if *kind == "timeout" {
            // How long the portal waited: the request timeout (1.5 s), or a little more.
            let waited: f64 = hint
                .split("within ")
                .nth(1)
                .and_then(|rest| rest.split(" s ").next())
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("a number of seconds: {hint}"));
            assert!((1.5..20.0).contains(&waited), "{hint}");
            assert!(
                hint.contains("(the portal's request timeout): answer at once"),
                "{hint}"
            );
        }
    }
    // The token checker the 401 hint leads to opens for this user.
    let unauthorized = &webhooks[4];
    let checker = app.get(&format!("/webhooks/{unauthorized}/token-check")).await;
    assert_eq!(checker.status(), 200);
    // A successful call has nothing to diagnose.
    let fine = Handler::start().await;
    let id = webhook_calling(&app, &fine.url("/hook"), "POST", json!([]), json!({})).await;
    queue_changes(&app.pool, &id, 1).await;
    let attempt = first_attempt(&app, &id).await;
    let page = app.get_html(&format!("/webhooks/{id}/deliveries/{attempt}")).await;
    assert!(select_text(&page, "#diagnosis").is_none(), "no hint on a success");
}

/// Runs a command line in bash; its standard output, or a failure with its standard error.
async fn run_in_bash(command: String) -> String {
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("bash")
            .arg("-c")
            .arg(command)
            .env_remove("TOKEN")
            .output()
            .expect("bash runs")
    })
    .await
    .expect("joined");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn without(mut claims: Value, keys: &[&str]) -> Value {
    if let Some(object) = claims.as_object_mut() {
        for key in keys {
            object.remove(*key);
        }
    }
    claims
}

#[tokio::test]
async fn a_call_copied_as_curl_with_a_fresh_token_reaches_the_handler() {
    let handler = Handler::start().await;
    let app = spawn_app_with(&FAST_DELIVERY).await;
    app.login_admin().await;
    let id = webhook_calling(
        &app,
        &handler.url("/hook?team=ops"),
        "POST",
        json!([["X-Note", "it's \"quoted\" $HOME"]]),
        json!({"shop": "O'Brien & Sons"}),
    )
    .await;
    queue_changes(&app.pool, &id, 1).await;
    let attempt = first_attempt(&app, &id).await;
    let page = app.get_html(&format!("/webhooks/{id}/deliveries/{attempt}")).await;
    assert!(page.contains("id=\"sign-curl\""), "editors may sign one");
    let path = format!("/webhooks/{id}/deliveries/{attempt}/curl");

    let r = app.post_form(&path, &[]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let answer = r.text().await.unwrap();
    let command = select_text(&answer, "#curl-command").expect("the command is shown");
    assert!(
        command.contains("Bearer ey") && !command.contains("$TOKEN"),
        "{command}"
    );
    let note = select_text(&answer, "#curl-token-note").unwrap_or_default();
    assert!(note.contains("valid until"), "{note}");
    // Run exactly as shown.
    run_in_bash(format!("{command} --silent --show-error --fail")).await;
    let calls = handler.received();
    assert_eq!(calls.len(), 2, "the command reached the handler");
    let (original, replayed) = (&calls[0], &calls[1]);
    let original_claims = verified_claims(&original.headers, WEBHOOK_SECRET);
    let replayed_claims = verified_claims(&replayed.headers, WEBHOOK_SECRET);
    assert_eq!(
        without(replayed_claims.clone(), &["exp"]),
        without(original_claims, &["exp"]),
        "the call's own payload, signed again"
    );
    assert!(replayed_claims["exp"].as_i64().unwrap() > chrono::Utc::now().timestamp());
    assert_eq!(replayed.headers["authentication"], replayed.headers["authorization"]);
    assert_eq!(replayed.method, original.method);
    assert_eq!(replayed.uri, original.uri);
    assert_eq!(replayed.body, original.body);
    for name in ["x-note", "content-type", "accept", "user-agent"] {
        assert_eq!(replayed.headers[name], original.headers[name], "{name}");
    }

    // htmx swaps in the command alone.
    let r = app.post_htmx(&path, &[]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let fragment = r.text().await.unwrap();
    assert!(
        fragment.starts_with("<div id=\"curl-panel\">") && !fragment.contains("<html"),
        "{fragment}"
    );

    // A GET call has no body to read its payload from: the token carries it rebuilt.
    let get = webhook_calling(&app, &handler.url("/get"), "GET", json!([]), json!({"k": 1})).await;
    queue_changes(&app.pool, &get, 1).await;
    let get_attempt = first_attempt(&app, &get).await;
    let answer = app
        .post_form(&format!("/webhooks/{get}/deliveries/{get_attempt}/curl"), &[])
        .await
        .text()
        .await
        .unwrap();
    let command = select_text(&answer, "#curl-command").expect("the command is shown");
    assert!(!command.contains("--data-binary"), "{command}");
    run_in_bash(format!("{command} --silent --show-error --fail")).await;
    let calls: Vec<Received> = handler
        .received()
        .into_iter()
        .filter(|c| c.uri.path() == "/get")
        .collect();
    assert_eq!(calls.len(), 2);
    let first = verified_claims(&calls[0].headers, WEBHOOK_SECRET);
    let again = verified_claims(&calls[1].headers, WEBHOOK_SECRET);
    assert_eq!(again["webhook_id"], first["webhook_id"]);
    assert_eq!(again["triggered_at"], first["triggered_at"], "the call's moment");
    assert_eq!(calls[1].method, "GET");

    // Bad requests change nothing and show no token.
    let calls_before = handler.count();
    let no_csrf = app.client.post(app.url(&path)).send().await.unwrap();
    assert_eq!(no_csrf.status(), 403);
    assert_eq!(
        app.post_form(&format!("/webhooks/{id}/deliveries/{get_attempt}/curl"), &[])
            .await
            .status(),
        404,
        "another webhook's call"
    );
    assert_eq!(
        app.post_form(&format!("/webhooks/{id}/deliveries/WHA-x/curl"), &[])
            .await
            .status(),
        404
    );
    let (product, _) = plain_and_capable_products(&app).await;
    let foreign = insert_webhook(&app, &app.distributor_account_id, &product, "Foreign", true).await;
    assert_eq!(
        app.post_form(&format!("/webhooks/{foreign}/deliveries/{attempt}/curl"), &[])
            .await
            .status(),
        404,
        "another account's webhook"
    );
    let viewer = app.second_browser();
    viewer.login_viewer().await;
    let page = viewer.get_html(&format!("/webhooks/{id}/deliveries/{attempt}")).await;
    assert!(
        !page.contains("id=\"sign-curl\""),
        "viewers get the $TOKEN command only"
    );
    assert!(page.contains("Bearer $TOKEN"));
    let r = viewer.post_form(&path, &[]).await;
    assert_eq!(r.status(), 403);
    assert!(!r.text().await.unwrap().contains("Bearer ey"));
    assert_eq!(handler.count(), calls_before, "nothing is sent by the portal");
}

#[tokio::test]
async fn the_preview_equals_the_next_real_call() {
    let handler = Handler::start().await;
    let app = spawn_app_with(&FAST_DELIVERY).await;
    app.login_admin().await;
    let id = webhook_calling(
        &app,
        &handler.url("/hook?team=ops"),
        "POST",
        json!([["X-Custom-Header", "Connect"], ["X-Env", "test"]]),
        json!({"purpose": "demo", "audience": "partners"}),
    )
    .await;
    let tab = app.get_html(&format!("/webhooks/{id}/http")).await;
    assert_eq!(
        select_attr(&tab, "#preview-request", "href"),
        Some(format!("/webhooks/{id}/preview"))
    );
    assert_eq!(
        select_attr(&tab, "#token-checker", "href"),
        Some(format!("/webhooks/{id}/token-check"))
    );

    let r = app.get(&format!("/webhooks/{id}/preview")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let page = r.text().await.unwrap();
    assert_eq!(handler.count(), 0, "a preview sends nothing");
    let method = select_text(&page, "#preview-method").expect("method");
    let url = select_text(&page, "#preview-url").expect("URL");
    let body = select_text(&page, "#preview-body").expect("body");
    let claims: Value = serde_json::from_str(&select_text(&page, "#preview-claims").expect("claims")).unwrap();
    let token_header: Value =
        serde_json::from_str(&select_text(&page, "#preview-token-header").expect("token header")).unwrap();
    let document = scraper::Html::parse_document(&page);
    let rows = scraper::Selector::parse("#preview-headers tr").unwrap();
    let cell = scraper::Selector::parse("td").unwrap();
    let headers: Vec<(String, String)> = document
        .select(&rows)
        .map(|row| {
            let cells: Vec<String> = row.select(&cell).map(|c| c.text().collect()).collect();
            (cells[0].clone(), cells[1].clone())
        })
        .collect();
    assert_eq!(token_header["alg"], "HS256");
    assert_eq!(token_header["typ"], "JWT");
    assert!(
        token_header["kid"].as_str().is_some_and(|k| k.starts_with("k_")),
        "the token names its key: {token_header}"
    );

    let r = app.post_form(&format!("/webhooks/{id}/trigger"), &[]).await;
    assert_eq!(r.status(), 303);
    let call = handler.wait_for(1).await.remove(0);

    assert_eq!(call.method.as_str(), method);
    assert_eq!(url, handler.url(&call.uri.to_string()));
    // Every header as previewed, in the same names; the token differs only by the moment.
    let previewed: Vec<&str> = headers.iter().map(|(name, _)| name.as_str()).collect();
    let mut received: Vec<&str> = call
        .headers
        .keys()
        .map(|n| n.as_str())
        .filter(|n| !["host", "content-length"].contains(n))
        .collect();
    let mut expected: Vec<String> = previewed.iter().map(|n| n.to_ascii_lowercase()).collect();
    received.sort();
    expected.sort();
    assert_eq!(received, expected, "the same headers");
    for (name, value) in &headers {
        let sent = call.headers[name.as_str()].to_str().unwrap();
        if TOKEN_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
            assert!(
                value.starts_with("Bearer ey") && sent.starts_with("Bearer ey"),
                "{name}"
            );
        } else {
            assert_eq!(sent, value, "{name}");
        }
    }
    // The body and the claims are equal but for the moment.
    let sent_body: Value = serde_json::from_slice(&call.body).unwrap();
    let shown_body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        without(sent_body, &TIME_DEPENDENT_CLAIMS),
        without(shown_body, &TIME_DEPENDENT_CLAIMS)
    );
    let sent_claims = verified_claims(&call.headers, WEBHOOK_SECRET);
    assert_eq!(
        without(sent_claims, &TIME_DEPENDENT_CLAIMS),
        without(claims.clone(), &TIME_DEPENDENT_CLAIMS)
    );
    assert_eq!(
        claims["exp"].as_i64().unwrap() - 600,
        chrono::DateTime::parse_from_rfc3339(claims["triggered_at"].as_str().unwrap())
            .unwrap()
            .timestamp()
    );

    // For editors of this account only.
    let viewer = app.second_browser();
    viewer.login_viewer().await;
    assert_eq!(viewer.get(&format!("/webhooks/{id}/preview")).await.status(), 403);
    let tab = viewer.get_html(&format!("/webhooks/{id}/http")).await;
    assert!(!tab.contains("id=\"preview-request\"") && !tab.contains("id=\"token-checker\""));
    let (product, _) = plain_and_capable_products(&app).await;
    let foreign = insert_webhook(&app, &app.distributor_account_id, &product, "Foreign", true).await;
    assert_eq!(app.get(&format!("/webhooks/{foreign}/preview")).await.status(), 404);
    assert_eq!(app.get("/webhooks/WH-bad/preview").await.status(), 404);
}

fn signed(claims: Value, header: Header, secret: &str) -> String {
    encode(&header, &claims, &EncodingKey::from_secret(secret.as_bytes())).unwrap()
}

/// Posts `token` to the checker: the status and the page.
async fn check(app: &TestApp, id: &str, token: &str) -> (u16, String) {
    let r = app
        .post_form(&format!("/webhooks/{id}/token-check"), &[("token", token)])
        .await;
    let status = r.status().as_u16();
    assert_eq!(r.headers()["cache-control"], "no-store");
    (status, r.text().await.unwrap())
}

fn verdict(page: &str, selector: &str) -> String {
    select_text(page, selector)
        .unwrap_or_default()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[tokio::test]
async fn the_token_checker_tells_valid_expired_and_foreign_tokens_apart() {
    let handler = Handler::start().await;
    let app = spawn_app_with(&FAST_DELIVERY).await;
    app.login_admin().await;
    let id = webhook_calling(&app, &handler.url("/hook"), "POST", json!([]), json!({"k": 1})).await;
    queue_changes(&app.pool, &id, 1).await;
    let call = handler.wait_for(1).await.remove(0);
    first_attempt(&app, &id).await;
    let authorization = call.headers["authorization"].to_str().unwrap().to_string();
    let counts = || async {
        sqlx::query_as::<_, (i64, i64, chrono::DateTime<chrono::Utc>)>(
            "select (select count(*) from webhook_attempts where webhook_id = $1),
                    (select count(*) from webhook_events where webhook_id = $1),
                    (select modified_at from webhooks where id = $1)",
        )
        .bind(&id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
    };
    let before = counts().await;

    let form = app.get_html(&format!("/webhooks/{id}/token-check")).await;
    assert!(form.contains("<textarea id=\"token\" name=\"token\""));

    // A real call's token, pasted with its "Bearer ".
    let (status, page) = check(&app, &id, &authorization).await;
    assert_eq!(status, 200);
    assert!(
        verdict(&page, "#token-signature")
            .contains("Signature valid Signed with this webhook's current secret (key k_"),
        "{}",
        verdict(&page, "#token-signature")
    );
    assert!(verdict(&page, "#token-expiry").starts_with("Not expired Valid until"));
    let claims: Value = serde_json::from_str(&select_text(&page, "#token-claims").unwrap()).unwrap();
    assert_eq!(claims["webhook_id"], id.as_str());
    assert_eq!(claims["data"], json!({"k": 1}));
    let header: Value = serde_json::from_str(&select_text(&page, "#token-header").unwrap()).unwrap();
    let kid: String = sqlx::query_scalar("select jwt_kid from webhooks where id = $1")
        .bind(&id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(header, json!({"typ": "JWT", "alg": "HS256", "kid": kid}));
    assert!(verdict(&page, "#token-kid").contains(&kid));
    assert!(select_text(&page, "#token-other-webhook").is_none());

    // Signed with the secret, with a key id, but expired an hour ago.
    let expired = signed(
        json!({"webhook_id": id, "exp": chrono::Utc::now().timestamp() - 3600}),
        Header {
            kid: Some(kid.clone()),
            ..Header::default()
        },
        WEBHOOK_SECRET,
    );
    let (status, page) = check(&app, &id, &expired).await;
    assert_eq!(status, 200);
    assert!(verdict(&page, "#token-signature").contains("current secret"));
    assert!(
        verdict(&page, "#token-expiry").starts_with("Expired At "),
        "{}",
        verdict(&page, "#token-expiry")
    );
    assert!(verdict(&page, "#token-expiry").contains("1 hour ago"));
    assert!(verdict(&page, "#token-kid").contains(&kid));

    // Another webhook's token: another secret, another id.
    let foreign = signed(
        json!({"webhook_id": "WH-000-000-001", "exp": chrono::Utc::now().timestamp() + 600}),
        Header::default(),
        "some-other-webhooks-secret",
    );
    let (status, page) = check(&app, &id, &foreign).await;
    assert_eq!(status, 200);
    assert!(
        verdict(&page, "#token-signature").starts_with("Signature not valid Not signed with this webhook's secret"),
        "{}",
        verdict(&page, "#token-signature")
    );
    assert!(verdict(&page, "#token-other-webhook").contains("WH-000-000-001"));

    // What is not a token gets a 422 saying why, next to the field.
    for (input, says) in [
        ("not-a-token", "This is not a JWT"),
        ("", "Paste a token"),
        ("e30.!!!.x", "claims (part 2 of 3) is not base64url"),
    ] {
        let (status, page) = check(&app, &id, input).await;
        assert_eq!(status, 422, "{input}");
        assert!(
            verdict(&page, "#token-error").contains(says),
            "{input}: {}",
            verdict(&page, "#token-error")
        );
        assert!(page.contains("aria-invalid=\"true\""));
        assert!(select_text(&page, "#token-result").is_none());
    }
    let huge = "a".repeat(128 * 1024 + 1);
    let (status, page) = check(&app, &id, &huge).await;
    assert_eq!(status, 422);
    assert!(verdict(&page, "#token-error").contains("Use at most 131072 characters (this has 131073)."));

    // Only editors of the account, with the form's token.
    let no_csrf = app
        .client
        .post(app.url(&format!("/webhooks/{id}/token-check")))
        .form(&[("token", authorization.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(no_csrf.status(), 403);
    let (product, _) = plain_and_capable_products(&app).await;
    let other = insert_webhook(&app, &app.distributor_account_id, &product, "Foreign", true).await;
    assert_eq!(check(&app, &other, &authorization).await.0, 404);
    let viewer = app.second_browser();
    viewer.login_viewer().await;
    assert_eq!(viewer.get(&format!("/webhooks/{id}/token-check")).await.status(), 403);
    assert_eq!(check(&viewer, &id, &authorization).await.0, 403);

    assert_eq!(counts().await, before, "checking changes nothing");
    assert_eq!(handler.count(), 1, "and calls nothing");
}

#[tokio::test]
async fn in_a_browser_a_hint_leads_to_the_token_checker_and_the_command_gets_a_fresh_token() {
    use crate::common::browser::{click, sign_in, type_into, wait_for, wait_for_text, Browser};

    let handler = Handler::start().await;
    handler.set(Behaviour {
        status: 401,
        body: "{\"error\": \"invalid token\"}".to_string(),
        ..Behaviour::default()
    });
    let app = spawn_app_with(&FAST_DELIVERY).await;
    let id = webhook_calling(
        &app,
        &handler.url("/connect/hook"),
        "POST",
        json!([["X-Team", "fulfillment"]]),
        json!({"purpose": "demo"}),
    )
    .await;
    queue_changes(&app.pool, &id, 1).await;
    let call = handler.wait_for(1).await.remove(0);
    let attempt = first_attempt(&app, &id).await;
    let token = call.headers["authorization"].to_str().unwrap().to_string();

    let browser = Browser::start().await;
    let c = &browser.client;
    c.set_window_size(1280, 900).await.unwrap();
    sign_in(c, &app).await;
    c.goto(&app.url(&format!("/webhooks/{id}/deliveries/{attempt}")))
        .await
        .unwrap();
    wait_for_text(c, "#diagnosis", "refused the call's token (HTTP 401)").await;
    browser.screenshot("diagnose-1-attempt").await;
    // The command gets a fresh token in place (htmx), ready to copy.
    click(c, "#as-curl summary").await;
    click(c, "#sign-curl").await;
    wait_for_text(c, "#curl-token-note", "valid until").await;
    let command = wait_for(c, "#curl-command").await.text().await.unwrap();
    assert!(command.contains("Bearer ey"), "{command}");
    assert!(c
        .current_url()
        .await
        .unwrap()
        .path()
        .ends_with(&format!("/deliveries/{attempt}")));
    browser.screenshot("diagnose-2-curl").await;
    c.set_window_size(390, 844).await.unwrap();
    browser.screenshot("diagnose-2-curl-390").await;
    c.set_window_size(1280, 900).await.unwrap();

    // The hint's link: the token checker, with the token the handler refused.
    click(c, "#diagnosis-link").await;
    wait_for(c, "textarea#token").await;
    type_into(c, "#token", &token).await;
    click(c, "#check-token").await;
    wait_for_text(c, "#token-signature", "current secret").await;
    wait_for_text(c, "#token-expiry", "Valid until").await;
    browser.screenshot("diagnose-3-token-check").await;
    c.set_window_size(390, 844).await.unwrap();
    browser.screenshot("diagnose-3-token-check-390").await;
    c.set_window_size(1280, 900).await.unwrap();

    // The HTTP settings tab leads to the preview.
    c.goto(&app.url(&format!("/webhooks/{id}/http"))).await.unwrap();
    browser.screenshot("diagnose-4-http-tab").await;
    click(c, "#preview-request").await;
    wait_for_text(c, "#preview-url", "/connect/hook").await;
    browser.screenshot("diagnose-5-preview").await;
    c.set_window_size(390, 844).await.unwrap();
    browser.screenshot("diagnose-5-preview-390").await;
    browser.close().await;
}
