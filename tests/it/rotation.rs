//! Staged secret rotation with `kid`: a handler that picks the secret by the token's `kid`
//! accepts every call before, during and after a rotation; the portal itself (the inbound body
//! endpoint) accepts the previous secret during the grace period only; a destroyed secret
//! verifies nothing. Refusals change nothing.

use std::collections::HashMap;

use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use serde_json::Value;

use crate::common::handler::Received;
use crate::common::*;
use crate::inbound::{add_key, setup};

/// What a handler following the README does: the token's `kid` names the secret to check.
fn verify_by_kid(token: &str, keys: &HashMap<String, String>) -> Result<(String, Value), String> {
    let kid = decode_header(token)
        .map_err(|e| format!("header: {e}"))?
        .kid
        .ok_or("no kid")?;
    let secret = keys.get(&kid).ok_or_else(|| format!("unknown kid {kid}"))?;
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 0;
    let data = decode::<Value>(token, &DecodingKey::from_secret(secret.as_bytes()), &validation)
        .map_err(|e| format!("signature: {e}"))?;
    Ok((kid, data.claims))
}

fn token_of(call: &Received) -> String {
    call.headers["authorization"]
        .to_str()
        .unwrap()
        .strip_prefix("Bearer ")
        .unwrap()
        .to_string()
}

async fn kids(app: &TestApp, hook: &str) -> (String, Option<String>, Option<String>) {
    sqlx::query_as("select jwt_kid, next_jwt_kid, previous_jwt_kid from webhooks where id = $1")
        .bind(hook)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// Sends one inbound message; returns the call it became.
async fn message(
    app: &TestApp,
    handler: &crate::common::handler::Handler,
    trigger: &str,
    key: &str,
    n: usize,
) -> Received {
    let r = reqwest::Client::new()
        .post(app.url(&format!("/hooks/in/{trigger}")))
        .body(format!("message {n}"))
        .header("X-Api-Key", key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    handler.wait_for(n).await.pop().expect("the call")
}

async fn body_status(call: &Received, claims: &Value) -> u16 {
    let url = claims["inbound"]["body_url"].as_str().expect("body_url");
    reqwest::Client::new()
        .get(url)
        .bearer_auth(token_of(call))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_handler_that_verifies_by_kid_accepts_every_call_through_a_rotation() {
    let (app, handler, hook, _, trigger) = setup(&[]).await;
    let api_key = add_key(&app, &trigger, "Shop", "").await;
    let (kid0, None, None) = kids(&app, &hook).await else {
        panic!("no rotation yet")
    };
    let mut keys = HashMap::from([(kid0.clone(), WEBHOOK_SECRET.to_string())]);

    // Before: every token names the current key.
    let call1 = message(&app, &handler, &trigger, &api_key, 1).await;
    let (kid, claims1) = verify_by_kid(&token_of(&call1), &keys).expect("call 1 verifies");
    assert_eq!(kid, kid0);
    let page = app.get_html(&format!("/webhooks/{hook}/http")).await;
    assert!(page.contains(&kid0) && page.contains("id=\"rotation-prepare\""));

    // Prepare: the new secret is shown once, with its key id; calls keep the current one.
    let r = app.post_form(&format!("/webhooks/{hook}/secret/prepare"), &[]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let html = r.text().await.unwrap();
    let new_secret = html
        .split("id=\"new-secret-value\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .expect("the new secret is shown")
        .to_string();
    let (current, Some(kid1), None) = kids(&app, &hook).await else {
        panic!("a prepared secret")
    };
    assert_eq!(current, kid0);
    assert!(html.contains(&kid1));
    let again = app.get_html(&format!("/webhooks/{hook}/http?reveal=1")).await;
    assert!(!again.contains(&new_secret), "shown once only");
    assert!(again.contains("id=\"rotation-switch\""));
    let r = app.post_form(&format!("/webhooks/{hook}/secret/prepare"), &[]).await;
    assert_eq!(r.status(), 409, "one prepared secret at a time");
    assert_eq!(kids(&app, &hook).await.1.as_deref(), Some(kid1.as_str()));
    let call2 = message(&app, &handler, &trigger, &api_key, 2).await;
    assert_eq!(verify_by_kid(&token_of(&call2), &keys).expect("call 2").0, kid0);

    // The handler learns the new key, then Switch: calls are signed with it, and the previous
    // one still verifies at the portal during the grace period.
    keys.insert(kid1.clone(), new_secret.clone());
    let r = app.post_form(&format!("/webhooks/{hook}/secret/switch"), &[]).await;
    assert_eq!(r.status(), 303);
    assert_eq!(kids(&app, &hook).await, (kid1.clone(), None, Some(kid0.clone())));
    let call3 = message(&app, &handler, &trigger, &api_key, 3).await;
    let (kid, claims3) = verify_by_kid(&token_of(&call3), &keys).expect("call 3 verifies");
    assert_eq!(kid, kid1);
    assert!(
        verify_by_kid(
            &token_of(&call3),
            &HashMap::from([(kid1.clone(), WEBHOOK_SECRET.to_string())])
        )
        .is_err(),
        "signed with the new secret, not the old one"
    );
    assert_eq!(
        body_status(&call1, &claims1).await,
        200,
        "the previous key still verifies"
    );
    let checked = app
        .post_form(
            &format!("/webhooks/{hook}/token-check"),
            &[("token", &token_of(&call1))],
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(
        checked.contains("previous secret"),
        "the token checker names the previous secret"
    );
    assert_eq!(body_status(&call3, &claims3).await, 200);
    let page = app.get_html(&format!("/webhooks/{hook}/http")).await;
    assert!(page.contains("id=\"previous-key\"") && page.contains("id=\"rotation-switch-back\""));

    // Switch back, then forward again: still every call verifies by its kid.
    let r = app
        .post_form(&format!("/webhooks/{hook}/secret/switch-back"), &[])
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(kids(&app, &hook).await, (kid0.clone(), Some(kid1.clone()), None));
    let call4 = message(&app, &handler, &trigger, &api_key, 4).await;
    assert_eq!(verify_by_kid(&token_of(&call4), &keys).expect("call 4").0, kid0);
    let r = app.post_form(&format!("/webhooks/{hook}/secret/switch"), &[]).await;
    assert_eq!(r.status(), 303);
    assert_eq!(kids(&app, &hook).await, (kid1.clone(), None, Some(kid0.clone())));

    // The grace period ends: the previous secret verifies nothing any more, and is destroyed.
    sqlx::query("update webhooks set previous_secret_until = now() - interval '1 second' where id = $1")
        .bind(&hook)
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        body_status(&call1, &claims1).await,
        401,
        "an expired secret verifies nothing"
    );
    let checked = app
        .post_form(
            &format!("/webhooks/{hook}/token-check"),
            &[("token", &token_of(&call1))],
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(!checked.contains("previous secret (") && !checked.contains("current secret ("));
    assert_eq!(body_status(&call3, &claims3).await, 200);
    let destroyed = webhook_portal::webhooks::store::secrets::destroy_expired(&app.pool, 100)
        .await
        .unwrap();
    assert_eq!(destroyed, 1);
    let left: (Option<String>, Option<String>) =
        sqlx::query_as("select previous_jwt_secret, previous_jwt_kid from webhooks where id = $1")
            .bind(&hook)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(left, (None, None), "nothing of the old secret is kept");
    let record: (String, String) = sqlx::query_as(
        "select actor_kind, detail from audit_records where action = 'secret.destroyed' and object_id = $1",
    )
    .bind(&hook)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(record.0, "portal");
    assert!(record.1.contains(&kid0));
    keys.remove(&kid0);
    assert!(verify_by_kid(&token_of(&call1), &keys).is_err());
    let call5 = message(&app, &handler, &trigger, &api_key, 5).await;
    assert_eq!(verify_by_kid(&token_of(&call5), &keys).expect("call 5").0, kid1);
    let page = app.get_html(&format!("/webhooks/{hook}/http")).await;
    assert!(!page.contains("id=\"previous-key\""));
}

#[tokio::test]
async fn rotation_steps_out_of_turn_or_without_permission_change_nothing() {
    let app = spawn_app_with(&FAST_DELIVERY).await;
    app.login_admin().await;
    let (product, _) = plain_and_capable_products(&app).await;
    let hook = insert_webhook(&app, &app.vendor_account_id, &product, "Rotated", true).await;
    let before = kids(&app, &hook).await;
    for (step, why) in [
        ("switch", "nothing prepared"),
        ("switch-back", "no previous secret"),
        ("discard", "nothing prepared"),
    ] {
        let r = app.post_form(&format!("/webhooks/{hook}/secret/{step}"), &[]).await;
        assert_eq!(r.status(), 409, "{step}: {why}");
        assert!(text_of(&r.text().await.unwrap()).contains("prepare") || step == "switch-back");
    }
    assert_eq!(kids(&app, &hook).await, before);

    // Prepare then discard: the prepared secret is gone, the current one unchanged.
    assert_eq!(
        app.post_form(&format!("/webhooks/{hook}/secret/prepare"), &[])
            .await
            .status(),
        200
    );
    assert!(kids(&app, &hook).await.1.is_some());
    assert_eq!(
        app.post_form(&format!("/webhooks/{hook}/secret/discard"), &[])
            .await
            .status(),
        303
    );
    assert_eq!(kids(&app, &hook).await, before);

    // Without the CSRF token, another account's webhook, a viewer: refused, nothing changes.
    let r = app
        .client
        .post(app.url(&format!("/webhooks/{hook}/secret/prepare")))
        .form(&[("x", "y")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let viewer = app.second_browser();
    viewer.login_viewer().await;
    let r = viewer.post_form(&format!("/webhooks/{hook}/secret/prepare"), &[]).await;
    assert_eq!(r.status(), 403);
    let page = viewer.get_html(&format!("/webhooks/{hook}/http")).await;
    assert!(
        !page.contains("id=\"rotation-prepare\""),
        "a viewer is offered no rotation"
    );
    let distributor = app.second_browser();
    distributor.login_distributor().await;
    let r = distributor
        .post_form(&format!("/webhooks/{hook}/secret/prepare"), &[])
        .await;
    assert_eq!(r.status(), 404);
    assert_eq!(kids(&app, &hook).await, before);

    // A secret entered by hand takes effect at once, under a new key id.
    let r = app
        .post_form(
            &format!("/webhooks/{hook}/edit/http"),
            &[
                ("external_url", "https://handler.example.com/hook"),
                ("jwt_secret", "a-secret-typed-by-hand-0001"),
                ("http_method", "POST"),
                ("payload_format", "json"),
                ("rate_limit", ""),
            ],
        )
        .await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap_or_default());
    let (kid, _, _) = kids(&app, &hook).await;
    assert_ne!(kid, before.0, "a new secret gets a new key id");
}
